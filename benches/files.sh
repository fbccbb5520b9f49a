#!/usr/bin/env bash
# benches/files.sh — the files plugin against nc and socat, side by side, in one run.
#
# Moves a SIZE_MIB (default 1024) MiB random file over loopback ROUNDS times (default 3)
# each way with: our client + server (switchyard-files <-> switchyard), nc (openbsd) and
# socat, every time into a file on the same file system, and prints the median times and
# the ratios (baseline time / our time: >= 0.9 is the goal). Our server fsyncs every
# upload before answering; nc and socat do not, so the upload is also compared with
# "nc + sync FILE". Then small-command throughput: 1000 verified GETs of a 1 KiB file
# over one v2 connection, and over 50 connections at once.
#
#   benches/files.sh                      # builds --release first
#   SKIP_BUILD=1 SIZE_MIB=256 ROUNDS=1 benches/files.sh
#
# Needs: nc (netcat-openbsd), socat, python3. glibc's rep-movsb threshold is left as the
# environment sets it (see GLIBC_TUNABLES in shared/DESIGN.md §5); the script prints it.
set -euo pipefail

SIZE_MIB=${SIZE_MIB:-1024}
ROUNDS=${ROUNDS:-3}
PROFILE=${PROFILE:-release}
here=$(cd "$(dirname "$0")/.." && pwd)
bin=$here/target/$PROFILE

for tool in nc socat python3; do
    command -v "$tool" >/dev/null || { echo "benches/files.sh: needs $tool (apt-get install netcat-openbsd socat python3)" >&2; exit 2; }
done
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    (cd "$here" && cargo build --profile "$PROFILE" -p switchyard -p switchyard-files -p switchyard-files-client)
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/sy-files-bench.XXXXXX")
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }
# Wait until something listens on 127.0.0.1:$1 (the baselines' servers).
wait_port() {
    python3 - "$1" <<'PY'
import socket, sys, time
end = time.time() + 10
while time.time() < end:
    try:
        with open("/proc/net/tcp") as f:
            if any(l.split()[1].endswith(":%04X" % int(sys.argv[1])) and l.split()[3] == "0A" for l in f.readlines()[1:]):
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.01)
sys.exit(1)
PY
}

echo "== setup: ${SIZE_MIB} MiB random file, $ROUNDS rounds, profile $PROFILE, GLIBC_TUNABLES=${GLIBC_TUNABLES:-unset}"
head -c "$((SIZE_MIB * 1024 * 1024))" /dev/urandom > "$work/src.bin"
printf '%1024s' '' | tr ' ' x > "$work/k1"
mkdir -p "$work/data" "$work/out"

cat > "$work/topology.ron" <<RON
(
    listeners: { "files_tcp": (kind: tcp, bind: "127.0.0.1:0") },
    handlers: {
        "files": (
            plugin: "files",
            root: Some("$work/data"),
            config: (max_upload_bytes: 68719476736, reserve_free_bytes: 0, allow_overwrite: true),
        ),
    },
    routes: [ (from: "files_tcp", to: "files") ],
)
RON
"$bin/switchyard" serve --config "$work/topology.ron" --log-format json 2> "$work/server.log" &
server_pid=$!
for _ in $(seq 100); do grep -q '"serving"' "$work/server.log" 2>/dev/null && break; sleep 0.05; done
addr=$(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    try: j = json.loads(l)
    except ValueError: continue
    if j.get("msg") == "listening": print(j["addr"]); break' "$work/server.log")
[ -n "$addr" ] || { echo "server did not start:"; cat "$work/server.log"; exit 1; }
client() { "$bin/switchyard-files" --quiet "$@"; }
echo "   server at $addr"

results=$work/results.txt
: > "$results"
record() { echo "$1 $2" >> "$results"; }

for r in $(seq "$ROUNDS"); do
    # ---- upload: local file -> file under the server's root ----
    s=$(now); client put "$addr" "$work/src.bin" "up-$r.bin"; e=$(now)
    record put-ours "$(awk "BEGIN{print $e - $s}")"
    cmp -s "$work/src.bin" "$work/data/up-$r.bin" || { echo "upload $r differs"; exit 1; }

    port=$(free_port)
    nc -l 127.0.0.1 "$port" > "$work/out/nc-up.bin" & lp=$!
    wait_port "$port"
    s=$(now); nc -N 127.0.0.1 "$port" < "$work/src.bin"; wait "$lp"; e=$(now)
    record put-nc "$(awk "BEGIN{print $e - $s}")"
    sync "$work/out/nc-up.bin"; e2=$(now)
    record put-nc+sync "$(awk "BEGIN{print $e2 - $s}")"
    rm -f "$work/out/nc-up.bin"

    port=$(free_port)
    socat -u "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr" "CREATE:$work/out/socat-up.bin" & lp=$!
    wait_port "$port"
    s=$(now); socat -u "FILE:$work/src.bin" "TCP:127.0.0.1:$port"; wait "$lp"; e=$(now)
    record put-socat "$(awk "BEGIN{print $e - $s}")"
    rm -f "$work/out/socat-up.bin"

    # ---- download: file under the root -> local file ----
    s=$(now); client get -f "$addr" "up-1.bin" "$work/out/ours-down.bin"; e=$(now)
    record get-ours "$(awk "BEGIN{print $e - $s}")"
    cmp -s "$work/src.bin" "$work/out/ours-down.bin" || { echo "download $r differs"; exit 1; }
    rm -f "$work/out/ours-down.bin"

    port=$(free_port)
    nc -l -N 127.0.0.1 "$port" < "$work/data/up-1.bin" & lp=$!
    wait_port "$port"
    s=$(now); nc -d 127.0.0.1 "$port" > "$work/out/nc-down.bin"; wait "$lp"; e=$(now)
    record get-nc "$(awk "BEGIN{print $e - $s}")"
    rm -f "$work/out/nc-down.bin"

    port=$(free_port)
    socat -u "FILE:$work/data/up-1.bin" "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr" & lp=$!
    wait_port "$port"
    s=$(now); socat -u "TCP:127.0.0.1:$port" "CREATE:$work/out/socat-down.bin"; wait "$lp"; e=$(now)
    record get-socat "$(awk "BEGIN{print $e - $s}")"
    rm -f "$work/out/socat-down.bin"

    [ "$r" -gt 1 ] && rm -f "$work/data/up-$r.bin" "$work/data/.up-$r.bin.sha256"
    echo "   round $r done"
done

echo "== 1 GiB-class transfers (median of $ROUNDS; ratio = baseline time / our time)"
python3 - "$results" "$SIZE_MIB" <<'PY'
import statistics, sys
times = {}
for line in open(sys.argv[1]):
    k, v = line.split()
    times.setdefault(k, []).append(float(v))
mib = float(sys.argv[2])
med = {k: statistics.median(v) for k, v in times.items()}
for k in sorted(med):
    print(f"   {k:<14} {med[k]:8.3f} s  {mib / med[k]:8.1f} MiB/s")
for d in ("get", "put"):
    ours = med[f"{d}-ours"]
    for base in ("nc", "nc+sync", "socat"):
        k = f"{d}-{base}"
        if k in med:
            print(f"   ratio {d} vs {base:<8} {med[k] / ours:5.2f}")
PY

echo "== small commands: 1000 GETs of a 1 KiB file (sha256-verified)"
client put "$addr" "$work/k1" k1
client bench-get "$addr" k1 --count 1000 --conns 1 | sed 's/^/   /'
client bench-get "$addr" k1 --count 1000 --conns 50 | sed 's/^/   /'
