#!/usr/bin/env bash
# benches/bulk.sh — the bulk plugin against nc, side by side, in one run.
#
# Moves a SIZE_MIB (default 1024) MiB random file over loopback ROUNDS times (default 5)
# and prints median times, rates, CPU seconds per GiB of client and server (our server
# from its cgroup, else /proc/PID/stat; every other process from wait4), and ratios
# (ratio = baseline time / our time). Every transfer is verified by sha256 of what arrived against what
# was sent (the seed client and nc send a v1 header first: its receiver must hold the
# header and the file); a mismatch or a failed command exits 1 with the reason:
#   put-v2      our client -> our server: v2, received into a temp, sha256, fsync, rename
#               (the client hashes the file too, while sending, and checks the reply)
#   put-v2-known  the same with the digest known up front (`--sha256 HEX`, as from a
#               SHA256SUMS file): the server verifies against it, the client does not hash
#   put-v1-nc   nc sending a v1 file (4-byte header + body) -> our server (same work)
#   put-seed    the seed's own Python client (tests/seed/d_bulk_client.py) -> our server
#   nc          nc -> nc -l > file (no hash, no fsync): the baseline
#   nc+sync     the same plus `sync FILE`
#   seed-nc     the seed's client -> nc -l > file (what that client manages at best)
#   get-v2      our server -> our client (sendfile; client hashes, verifies, renames)
#   get-nc      nc -l < file -> nc > file
# Goals (issue 5): put-v2 >= 1.0x nc (both rows are verified uploads), put-v1-nc >= 0.95x nc,
# put-seed ~ seed-nc (within 10%). Odd rounds run ours first, even rounds the baselines.
#
#   benches/bulk.sh                       # builds --release first
#   SKIP_BUILD=1 SIZE_MIB=256 ROUNDS=1 benches/bulk.sh
#   ROUNDS_TSV=FILE: also append every round's MiB/s of each transfer to FILE
#                    (benches/times.py; the input of benches/plot.py)
#
# Needs: nc (netcat-openbsd), python3. SIZE_MIB must stay below 2048 (v1 is 32-bit).
# GLIBC_TUNABLES is left as the environment sets it (benches/README.md); printed.
set -euo pipefail

SIZE_MIB=${SIZE_MIB:-1024}
ROUNDS=${ROUNDS:-5}
PROFILE=${PROFILE:-release}
here=$(cd "$(dirname "$0")/.." && pwd)
bin=$here/target/$PROFILE
# The seed program, from the repository (tests/seed/, kept byte for byte).
seed=${SEED_CLIENT:-$here/tests/seed/d_bulk_client.py}
# shellcheck source=benches/lib.sh
source "$here/benches/lib.sh"

need_tools "apt-get install netcat-openbsd python3" nc python3
[ -f "$seed" ] || fail "no seed client at $seed"
[ "$SIZE_MIB" -lt 2048 ] || { echo "benches/bulk.sh: SIZE_MIB must be < 2048 (v1 lengths are 32-bit)" >&2; exit 2; }
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    (cd "$here" && cargo build --profile "$PROFILE" -p switchyard -p switchyard-bulk -p switchyard-bulk-client)
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/sy-bulk-bench.XXXXXX")
SERVER_PID=
lp=
cleanup() {
    [ -n "$lp" ] && kill "$lp" 2>/dev/null
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    cpu_group_remove
    rm -rf "$work"
}
trap cleanup EXIT

# Wait until the server has logged its n-th transfer: one line per finished session
# in the topology's access log (flushed every 10 ms), whatever the main log's level.
wait_transfers() {
    for _ in $(seq 6000); do
        [ "$(grep -c 'handler=bulk' "$work/access.log" 2>/dev/null || true)" -ge "$1" ] && return 0
        sleep 0.01
    done
    tail -5 "$work/server.log" "$work/access.log" >&2
    fail "no transfer #$1 in the access log"
}

echo "== setup: ${SIZE_MIB} MiB random file, $ROUNDS rounds, profile $PROFILE, GLIBC_TUNABLES=${GLIBC_TUNABLES:-unset}"
head -c "$((SIZE_MIB * 1024 * 1024))" /dev/urandom > "$work/src.bin"
python3 -c 'import struct,sys; sys.stdout.buffer.write(struct.pack("!i", int(sys.argv[1])))' \
    "$((SIZE_MIB * 1024 * 1024))" > "$work/v1.bin"
cat "$work/src.bin" >> "$work/v1.bin"
src_sha256=$(sha256_of "$work/src.bin")
v1_sha256=$(sha256_of "$work/v1.bin")
mkdir -p "$work/data/incoming" "$work/out" "$work/seed"
ln -s "$work/src.bin" "$work/seed/111.pptx"

cat > "$work/topology.ron" <<RON
(
    access_log: Some((path: "$work/access.log", flush_ms: 10)),
    listeners: { "bulk_tcp": (kind: tcp, bind: "127.0.0.1:0") },
    handlers: {
        "bulk": (plugin: "bulk", root: Some("$work/data"), config: (reserve_free_bytes: 0)),
    },
    routes: [ (from: "bulk_tcp", to: "bulk") ],
)
RON
start_switchyard "$work/server.log" --config "$work/topology.ron"
addr=$(listener_addr "$work/server.log")
[ -n "$addr" ] || fail "no listening line in the server log"
port=${addr##*:}
echo "   server at $addr"
# The download source, uploaded once so the server remembers its digest (GET verifies).
"$bin/switchyard-bulk" -q send "$addr" "$work/src.bin" --name dl.bin > /dev/null
verify "setup upload" "$src_sha256" "$work/data/incoming/dl.bin"

# Read by the steps in benches/lib.sh.
results=$work/results.txt
: > "$results"
r=0
n=1  # the setup upload of dl.bin was transfer #1
# The download source stays; everything else goes after each step. Every timed step
# follows the deletion of a file of the same size, so none of them pays alone for
# reclaiming page cache (measured: the first 1 GiB write into a full page cache costs
# ~2 s of extra sys time, whichever program does it).
clean_incoming() { find "$work/data/incoming" -mindepth 1 ! -name dl.bin -delete; }

# A v1 upload into our server (nc or the seed client): no reply, so the step ends when
# the server logs the transfer; timed from the client's start to that line.
v1_into_ours() { # KEY CMD...
    local key=$1 c0 c1 e stored
    shift
    c0=$(server_cpu "$SERVER_PID")
    measured "$work/mc" "$@" > /dev/null || fail "$key round $r: the client failed: $*"
    wait_transfers $((n + 1))
    e=$(now)
    c1=$(server_cpu "$SERVER_PID")
    n=$((n + 1))
    stored=$(find "$work/data/incoming" -name 'v1-*.bin' -print -quit)
    verify "$key round $r" "$src_sha256" "${stored:-$work/data/incoming/v1-*.bin}"
    record "$results" "$key" "$(sub "$e" "$(measured_field "$work/mc" 1)")" "$(measured_field "$work/mc" 3)" "$(sub "$c1" "$c0")"
    clean_incoming
}

# Each measured step is a function; odd rounds run ours first, even rounds the
# baselines first, so neither side always inherits the page-cache state of the other.
put_v2() {
    sync
    ours_step put-v2 "$src_sha256" "$work/data/incoming/up-$r.bin" \
        "$bin/switchyard-bulk" -q send "$addr" "$work/src.bin" --name "up-$r.bin"
    n=$((n + 1))
    clean_incoming
}
put_v2_known() {
    sync
    ours_step put-v2-known "$src_sha256" "$work/data/incoming/known-$r.bin" \
        "$bin/switchyard-bulk" -q send "$addr" "$work/src.bin" --name "known-$r.bin" --sha256 "$src_sha256"
    n=$((n + 1))
    clean_incoming
}
put_v1_nc() {
    sync
    v1_into_ours put-v1-nc nc -N 127.0.0.1 "$port" < "$work/v1.bin"
}
put_seed() {
    sync
    # The seed client reads ./111.pptx.
    cd "$work/seed"
    SEED_PORT=$port v1_into_ours put-seed python3 "$seed"
    cd "$here"
}
base_nc() {
    sync
    SERVER_OUT=$work/out/nc-up.bin CLIENT_IN=$work/src.bin \
        baseline_step nc "$src_sha256" "$work/out/nc-up.bin" nc -l 127.0.0.1 @PORT@ -- nc -N 127.0.0.1 @PORT@
    plus_sync nc+sync "$work/out/nc-up.bin"
    rm -f "$work/out/nc-up.bin"
}
base_seed_nc() {
    sync
    # The seed client sends a v1 header, then the file: nc stores both.
    cd "$work/seed"
    SERVER_OUT=$work/out/seed-nc.bin \
        baseline_step seed-nc "$v1_sha256" "$work/out/seed-nc.bin" nc -l 127.0.0.1 @PORT@ -- \
        env SEED_PORT=@PORT@ python3 "$seed"
    cd "$here"
    rm -f "$work/out/seed-nc.bin"
}
get_v2() {
    sync
    ours_step get-v2 "$src_sha256" "$work/out/ours-down.bin" \
        "$bin/switchyard-bulk" -q get "$addr" dl.bin -o "$work/out/ours-down.bin"
    rm -f "$work/out/ours-down.bin"
}
base_get_nc() {
    sync
    SERVER_IN=$work/data/incoming/dl.bin CLIENT_OUT=$work/out/nc-down.bin \
        baseline_step get-nc "$src_sha256" "$work/out/nc-down.bin" nc -l -N 127.0.0.1 @PORT@ -- nc -d 127.0.0.1 @PORT@
    rm -f "$work/out/nc-down.bin"
}

for r in $(seq "$ROUNDS"); do
    if [ $((r % 2)) = 1 ]; then
        put_v2; put_v2_known; put_v1_nc; put_seed; base_nc; base_seed_nc; get_v2; base_get_nc
    else
        base_nc; base_seed_nc; put_v2; put_v2_known; put_v1_nc; put_seed; base_get_nc; get_v2
    fi
    echo "   round $r done"
done

echo "== load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (on $(nproc) cores: other work skews every ratio)"
echo "== server memory after all transfers: $(grep VmHWM /proc/$SERVER_PID/status | tr -s ' ') peak RSS (flat: independent of SIZE_MIB)"
echo "== ${SIZE_MIB} MiB transfers (median of $ROUNDS; ratio = baseline time / our time)"
python3 "$here/benches/times.py" "$results" "$SIZE_MIB" \
    "put-v2:nc:>= 1.0" "put-v2-known:nc:>= 1.0" "put-v2:nc+sync:-" "put-v1-nc:nc:>= 0.95" \
    "put-seed:seed-nc:~ 1.0" "get-v2:get-nc:-"
# Each round runs ours and nc back to back: the per-round ratios show how much of a
# median ratio is nc's own swing.
python3 - "$results" <<'PY'
import sys
times = {}
for line in open(sys.argv[1]):
    k, v = line.split()[:2]
    times.setdefault(k, []).append(float(v))
for ours in ("put-v2", "put-v2-known"):
    pairs = [f"{b / o:.2f}" for b, o in zip(times["nc"], times[ours])]
    print(f"   per round {ours} vs nc: {' '.join(pairs)}")
PY
