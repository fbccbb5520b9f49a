#!/usr/bin/env bash
# benches/files.sh — the files plugin against nc and socat, side by side, in one run.
#
# Moves a SIZE_MIB (default 1024) MiB random file over loopback ROUNDS times (default 3)
# each way with: our client + server (switchyard-files <-> switchyard), nc (openbsd) and
# socat, every time into a file on the same file system. Odd rounds run ours first, even
# rounds the baselines first, so neither side always inherits the other's page cache.
# Every transfer is verified: the sha256 of what arrived must be the sha256 of what was
# sent, or the script fails (exit 1, the reason on stderr). Prints the median times and
# rates, the CPU seconds per GiB of each side (our server from its cgroup, every
# other process from wait4), and the ratios (baseline time / our time; the goal
# is >= 0.9 against nc both ways). Our server fsyncs every upload before answering; nc
# and socat do not, so the upload is also compared with "nc + sync FILE". Then
# small-command throughput: 1000 verified GETs of a 1 KiB file over one v2 connection,
# and over 50 connections at once.
#
#   benches/files.sh                      # builds --release first
#   SKIP_BUILD=1 SIZE_MIB=256 ROUNDS=1 benches/files.sh
#   ROUNDS_TSV=FILE: also append every round's MiB/s of each transfer to FILE
#                    (benches/times.py; the input of benches/plot.py)
#
# Needs: nc (netcat-openbsd), socat, python3. glibc's rep-movsb threshold is left as the
# environment sets it (see glibc's memcpy threshold in benches/README.md); the script
# prints it.
set -euo pipefail

SIZE_MIB=${SIZE_MIB:-1024}
ROUNDS=${ROUNDS:-3}
PROFILE=${PROFILE:-release}
here=$(cd "$(dirname "$0")/.." && pwd)
bin=$here/target/$PROFILE
# shellcheck source=benches/lib.sh
source "$here/benches/lib.sh"

need_tools "apt-get install netcat-openbsd socat python3" nc socat python3
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    (cd "$here" && cargo build --profile "$PROFILE" -p switchyard -p switchyard-files -p switchyard-files-client)
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/sy-files-bench.XXXXXX")
SERVER_PID=
lp=
cleanup() {
    [ -n "$lp" ] && kill "$lp" 2>/dev/null
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    cpu_group_remove
    rm -rf "$work"
}
trap cleanup EXIT

echo "== setup: ${SIZE_MIB} MiB random file, $ROUNDS rounds, profile $PROFILE, GLIBC_TUNABLES=${GLIBC_TUNABLES:-unset}"
head -c "$((SIZE_MIB * 1024 * 1024))" /dev/urandom > "$work/src.bin"
src_sha=$(sha256_of "$work/src.bin")
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
start_switchyard "$work/server.log" --config "$work/topology.ron"
addr=$(listener_addr "$work/server.log")
[ -n "$addr" ] || fail "no listening line in the server log"
client() { "$bin/switchyard-files" --quiet "$@"; }
echo "   server at $addr"
# The download source, uploaded once (and checked) before any timed step.
client put "$addr" "$work/src.bin" dl.bin
verify "setup upload" "$src_sha" "$work/data/dl.bin"

# Read by the steps in benches/lib.sh.
results=$work/results.txt
: > "$results"
r=0

put_ours() {
    ours_step put-ours "$src_sha" "$work/data/up-$r.bin" "$bin/switchyard-files" --quiet put "$addr" "$work/src.bin" "up-$r.bin"
    rm -f "$work/data/up-$r.bin" "$work/data/.up-$r.bin.sha256"
}
put_nc() {
    SERVER_OUT=$work/out/nc-up.bin CLIENT_IN=$work/src.bin \
        baseline_step put-nc "$src_sha" "$work/out/nc-up.bin" nc -l 127.0.0.1 @PORT@ -- nc -N 127.0.0.1 @PORT@
    plus_sync put-nc+sync "$work/out/nc-up.bin"
    rm -f "$work/out/nc-up.bin"
}
put_socat() {
    baseline_step put-socat "$src_sha" "$work/out/socat-up.bin" \
        socat -u "TCP-LISTEN:@PORT@,bind=127.0.0.1,reuseaddr" "CREATE:$work/out/socat-up.bin" -- \
        socat -u "FILE:$work/src.bin" "TCP:127.0.0.1:@PORT@"
    rm -f "$work/out/socat-up.bin"
}
get_ours() {
    ours_step get-ours "$src_sha" "$work/out/ours-down.bin" "$bin/switchyard-files" --quiet get -f "$addr" dl.bin "$work/out/ours-down.bin"
    rm -f "$work/out/ours-down.bin"
}
get_nc() {
    SERVER_IN=$work/data/dl.bin CLIENT_OUT=$work/out/nc-down.bin \
        baseline_step get-nc "$src_sha" "$work/out/nc-down.bin" nc -l -N 127.0.0.1 @PORT@ -- nc -d 127.0.0.1 @PORT@
    rm -f "$work/out/nc-down.bin"
}
get_socat() {
    baseline_step get-socat "$src_sha" "$work/out/socat-down.bin" \
        socat -u "FILE:$work/data/dl.bin" "TCP-LISTEN:@PORT@,bind=127.0.0.1,reuseaddr" -- \
        socat -u "TCP:127.0.0.1:@PORT@" "CREATE:$work/out/socat-down.bin"
    rm -f "$work/out/socat-down.bin"
}

for r in $(seq "$ROUNDS"); do
    if [ $((r % 2)) = 1 ]; then
        put_ours; put_nc; put_socat; get_ours; get_nc; get_socat
    else
        put_socat; put_nc; put_ours; get_socat; get_nc; get_ours
    fi
    echo "   round $r done ($([ $((r % 2)) = 1 ] && echo ours || echo baselines) first)"
done

echo "== ${SIZE_MIB} MiB transfers (median of $ROUNDS; ratio = baseline time / our time)"
python3 "$here/benches/times.py" "$results" "$SIZE_MIB" \
    "get-ours:get-nc:>= 0.9" "get-ours:get-socat:-" \
    "put-ours:put-nc:>= 0.9" "put-ours:put-nc+sync:-" "put-ours:put-socat:-"

echo "== small commands: 1000 GETs of a 1 KiB file (sha256-verified by the client)"
client put "$addr" "$work/k1" k1
verify "1 KiB upload" "$(sha256_of "$work/k1")" "$work/data/k1"
gets=1000
for conns in 1 50; do
    c0=$(server_cpu "$SERVER_PID")
    measured "$work/mc" "$bin/switchyard-files" --quiet bench-get "$addr" k1 --count "$gets" --conns "$conns" > "$work/bench.txt" ||
        fail "bench-get over $conns connections failed"
    c1=$(server_cpu "$SERVER_PID")
    echo "   $(cat "$work/bench.txt") cpu_ms_per_get: $(awk -v c="$(measured_field "$work/mc" 3)" -v s="$(sub "$c1" "$c0")" -v n="$gets" \
        'BEGIN { printf "client=%.3f server=%.3f", c * 1000 / n, s * 1000 / n }')"
done
