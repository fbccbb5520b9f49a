#!/usr/bin/env bash
# benches/syscalls.sh — system calls the host makes per files v2 GET.
#
# Starts the host (`switchyard serve`) under `strace -f` (every thread) on a temporary
# topology serving the files plugin on 127.0.0.1:0, stores a SIZE-byte file through the
# plugin (so it has a digest, as a served file usually does), warms up, then has
# `switchyard-files bench-get` make GETS verified GETs of that file on one kept-alive
# connection between two marker requests (a `STAT` of a name that does not exist,
# which the trace shows), counts the host's calls between the markers by name and
# divides by GETS. What the connection's open and QUIT cost is spread over the GETs
# (negligible at 2000). The host is strace's child, so no ptrace permission over
# another process is needed (kernel.yama.ptrace_scope does not matter).
# The calls are counted from the full trace, not with `strace -c`: strace before 6.5
# leaves system calls it has no name for out of its `-c` summary, and `cachestat`
# (Linux 6.5, asked before each `sendfile`) is one of them; here it shows as
# `cachestat` whatever strace calls it.
#
#   benches/syscalls.sh                          # builds --release first
#   SKIP_BUILD=1 GETS=500 benches/syscalls.sh
#   FORMAT=md HEADER=1 benches/syscalls.sh       # a markdown table row, with its header
#
# Environment:
#   GETS=2000        GETs measured (after 50 unmeasured ones)
#   SIZE=1024        bytes in the file
#   FORMAT=tsv|md    the one line printed on stdout (below)
#   HEADER=1         print the column names first
#   MAX=N            exit 3 when a GET costs more than N system calls (after printing)
#   LOG_FORMAT=term  the host's --log-format (its log goes to a file either way)
#   ACCESS_LOG=1     the topology keeps an access log (`access_log:` with its defaults)
#   PROFILE=release  which build; BIN=DIR overrides where the binaries are
#                    (default: $CARGO_TARGET_DIR or target/, then PROFILE)
#   SKIP_BUILD=1     use the binaries that are there
#
# stdout, one line (TSV columns, or the same as a markdown row):
#   case  gets  syscalls_per_get  breakdown
# e.g. `files-v2-get-1024B  2000  9.00  recvfrom=2.00 openat2=1.00 ...`, the breakdown
# sorted by count, calls per GET with two decimals. Progress and errors go to stderr;
# any failure exits non-zero with the reason (and the host's log) on stderr.
#
# Needs strace and python3.
set -euo pipefail

GETS=${GETS:-2000}
SIZE=${SIZE:-1024}
FORMAT=${FORMAT:-tsv}
PROFILE=${PROFILE:-release}
LOG_FORMAT=${LOG_FORMAT:-term}
here=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-${CARGO_TARGET_DIR:-$here/target}/$PROFILE}

fail() {
    echo "$(basename "$0"): $*" >&2
    exit 1
}
for tool in strace python3; do
    command -v "$tool" >/dev/null || { echo "$(basename "$0"): needs $tool" >&2; exit 2; }
done
case $FORMAT in tsv | md) ;; *) fail "FORMAT must be tsv or md, not $FORMAT" ;; esac

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    (cd "$here" && cargo build --profile "$PROFILE" -p switchyard -p switchyard-files \
        -p switchyard-files-client >&2)
fi
for b in switchyard switchyard-files; do
    [ -x "$BIN/$b" ] || fail "no $BIN/$b (build it, or set BIN)"
done

work=$(mktemp -d "${TMPDIR:-/tmp}/sy-syscalls.XXXXXX")
tracer_pid=
cleanup() {
    if [ -n "$tracer_pid" ]; then
        [ -s "$work/host.pid" ] && kill "$(cat "$work/host.pid")" 2>/dev/null
        wait "$tracer_pid" 2>/dev/null
    fi
    rm -rf "$work"
}
trap cleanup EXIT
show_log() {
    echo "--- host log ($work/host.log):" >&2
    tail -n 40 "$work/host.log" >&2 || true
}

mkdir -p "$work/data"
access_log=
if [ "${ACCESS_LOG:-0}" = 1 ]; then
    access_log="access_log: Some((path: \"$work/access.log\")),"
fi
cat > "$work/topology.ron" <<RON
(
    $access_log
    listeners: { "files_tcp": (kind: tcp, bind: "127.0.0.1:0") },
    handlers: {
        "files": (plugin: "files", root: Some("$work/data"), config: (allow_overwrite: true)),
    },
    routes: [ (from: "files_tcp", to: "files") ],
)
RON

# strace starts the host and exits with it (signals go to the host, by its pid file:
# strace blocks fatal signals while it writes to a file).
strace -f -qq -o "$work/strace.txt" "$BIN/switchyard" serve --config "$work/topology.ron" \
    --plugin-dir "$BIN" --log-format "$LOG_FORMAT" --pid-file "$work/host.pid" \
    2> "$work/host.log" &
tracer_pid=$!
addr=
for _ in $(seq 200); do
    # `listening` with its real address, in either log format.
    addr=$(python3 - "$work/host.log" <<'PY'
import json, re, sys
for line in open(sys.argv[1], errors="replace"):
    if "listening" not in line or "files_tcp" not in line:
        continue
    try:
        print(json.loads(line)["addr"])
    except ValueError:
        m = re.search(r"addr: ([0-9.]+:[0-9]+)", line)
        if m:
            print(m.group(1))
    break
PY
)
    [ -n "$addr" ] && break
    kill -0 "$tracer_pid" 2>/dev/null || { show_log; fail "the host exited"; }
    sleep 0.05
done
[ -n "$addr" ] || { show_log; fail "the host did not log its listening address"; }

client() { "$BIN/switchyard-files" --quiet "$@"; }
head -c "$SIZE" /dev/urandom > "$work/file.bin"
client put "$addr" "$work/file.bin" file.bin >/dev/null || { show_log; fail "upload failed"; }
# Unmeasured: the page cache, the digest and the allocator settle first.
client bench-get "$addr" file.bin --count 50 >/dev/null || { show_log; fail "warm-up failed"; }

echo "measuring $GETS GETs of $SIZE bytes at $addr" >&2
client stat "$addr" sy-syscalls-begin >/dev/null 2>&1 || true
client bench-get "$addr" file.bin --count "$GETS" >&2 || { show_log; fail "bench-get failed"; }
client stat "$addr" sy-syscalls-end >/dev/null 2>&1 || true
kill -TERM "$(cat "$work/host.pid")"
wait "$tracer_pid" || true
tracer_pid=

python3 - "$work/strace.txt" "$GETS" "$SIZE" "$FORMAT" "${HEADER:-0}" "${MAX:-}" <<'PY'
import sys
path, gets, size, fmt, header, limit = sys.argv[1:7]
gets = int(gets)
calls = {}
# One line per call: "PID name(args) = result", or "PID name(args <unfinished ...>"
# later completed by "PID <... name resumed> ..." (not counted again); signals
# ("--- SIG") and exits ("+++") are not calls. Only the calls between the markers.
named = {"syscall_0x1c3": "cachestat"}  # 451 on x86-64 and the generic table
inside = None
for line in open(path, errors="replace"):
    if "sy-syscalls-begin" in line:
        inside = True
        continue
    if "sy-syscalls-end" in line:
        inside = False
        break
    if not inside:
        continue
    f = line.split(None, 1)
    if len(f) < 2 or f[1].startswith(("<...", "---", "+++")):
        continue
    name = f[1].split("(", 1)[0]
    if not name or not name.replace("_", "").isalnum():
        continue
    name = named.get(name, name)
    calls[name] = calls.get(name, 0) + 1
if inside is not False:
    sys.exit("the marker requests are not both in the trace (%s)" % path)
if not calls:
    sys.exit("no system calls traced: " + open(path).read()[:2000])
total = sum(calls.values()) / gets
parts = " ".join(f"{name}={n / gets:.2f}" for name, n in
                 sorted(calls.items(), key=lambda kv: (-kv[1], kv[0])) if n / gets >= 0.005)
row = [f"files-v2-get-{size}B", str(gets), f"{total:.2f}", parts]
names = ["case", "gets", "syscalls_per_get", "breakdown"]
if fmt == "md":
    if header == "1":
        print("| " + " | ".join(names) + " |")
        print("|---|---:|---:|---|")
    print("| " + " | ".join(row) + " |")
else:
    if header == "1":
        print("\t".join(names))
    print("\t".join(row))
if limit and total > float(limit):
    print(f"{total:.2f} system calls per GET, over the limit of {limit}", file=sys.stderr)
    sys.exit(3)
PY
