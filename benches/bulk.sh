#!/usr/bin/env bash
# benches/bulk.sh — the bulk plugin against nc, side by side, in one run.
#
# Moves a SIZE_MIB (default 1024) MiB random file over loopback ROUNDS times (default 5)
# and prints median times, rates and ratios (ratio = baseline time / our time):
#   put-v2      our client -> our server: v2, received into a temp, sha256, fsync, rename
#               (the client hashes the file too, while sending, and checks the reply)
#   put-v2-known  the same with the digest known up front (`--sha256 HEX`, as from a
#               SHA256SUMS file): the server verifies against it, the client does not hash
#   put-v1-nc   nc sending a v1 file (4-byte header + body) -> our server (same work)
#   put-seed    the seed's own Python client -> our server
#   nc          nc -> nc -l > file (no hash, no fsync): the baseline
#   nc+sync     the same plus `sync FILE`
#   seed-nc     the seed's client -> nc -l > file (what that client manages at best)
#   get-v2      our server -> our client (sendfile; client hashes, verifies, renames)
#   get-nc      nc -l < file -> nc > file
# Goals (issue 5): put-v2 >= 1.0x nc (both rows are verified uploads), put-v1-nc >= 0.95x nc, put-seed ~ seed-nc.
#
#   benches/bulk.sh                       # builds --release first
#   SKIP_BUILD=1 SIZE_MIB=256 ROUNDS=1 benches/bulk.sh
#
# Needs: nc (netcat-openbsd), python3. SIZE_MIB must stay below 2048 (v1 is 32-bit).
# GLIBC_TUNABLES is left as the environment sets it (shared/DESIGN.md §5); printed.
set -euo pipefail

SIZE_MIB=${SIZE_MIB:-1024}
ROUNDS=${ROUNDS:-5}
PROFILE=${PROFILE:-release}
here=$(cd "$(dirname "$0")/.." && pwd)
bin=$here/target/$PROFILE
seed=${SEED_CLIENT:-$here/../shared/seed/d_bulk_client.py}

for tool in nc python3; do
    command -v "$tool" >/dev/null || { echo "benches/bulk.sh: needs $tool (apt-get install netcat-openbsd python3)" >&2; exit 2; }
done
[ "$SIZE_MIB" -lt 2048 ] || { echo "benches/bulk.sh: SIZE_MIB must be < 2048 (v1 lengths are 32-bit)" >&2; exit 2; }
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    (cd "$here" && cargo build --profile "$PROFILE" -p switchyard -p switchyard-bulk -p switchyard-bulk-client)
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/sy-bulk-bench.XXXXXX")
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }
wait_port() {
    python3 - "$1" <<'PY'
import sys, time
end = time.time() + 10
while time.time() < end:
    with open("/proc/net/tcp") as f:
        if any(l.split()[1].endswith(":%04X" % int(sys.argv[1])) and l.split()[3] == "0A" for l in f.readlines()[1:]):
            sys.exit(0)
    time.sleep(0.01)
sys.exit(1)
PY
}
# Wait until the server has logged its n-th transfer line.
wait_transfers() {
    for _ in $(seq 6000); do
        [ "$(grep -c '"msg":"transfer ' "$work/server.log" || true)" -ge "$1" ] && return 0
        sleep 0.01
    done
    echo "no transfer #$1:"; tail -5 "$work/server.log"; exit 1
}

echo "== setup: ${SIZE_MIB} MiB random file, $ROUNDS rounds, profile $PROFILE, GLIBC_TUNABLES=${GLIBC_TUNABLES:-unset}"
head -c "$((SIZE_MIB * 1024 * 1024))" /dev/urandom > "$work/src.bin"
python3 -c 'import struct,sys; sys.stdout.buffer.write(struct.pack("!i", int(sys.argv[1])))' \
    "$((SIZE_MIB * 1024 * 1024))" > "$work/v1.bin"
cat "$work/src.bin" >> "$work/v1.bin"
src_sha256=$(sha256sum "$work/src.bin" | cut -d' ' -f1)
mkdir -p "$work/data/incoming" "$work/out" "$work/seed"
ln -s "$work/src.bin" "$work/seed/111.pptx"

cat > "$work/topology.ron" <<RON
(
    listeners: { "bulk_tcp": (kind: tcp, bind: "127.0.0.1:0") },
    handlers: {
        "bulk": (plugin: "bulk", root: Some("$work/data"), config: (reserve_free_bytes: 0)),
    },
    routes: [ (from: "bulk_tcp", to: "bulk") ],
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
port=${addr##*:}
echo "   server at $addr"
# The download source, uploaded once so the server remembers its digest (GET verifies).
"$bin/switchyard-bulk" -q send "$addr" "$work/src.bin" --name dl.bin > /dev/null

results=$work/results.txt
: > "$results"
record() { echo "$1 $2" >> "$results"; }
n=1  # the setup upload of dl.bin was transfer #1
# The download source stays; everything else goes after each step. Every timed step
# follows the deletion of a file of the same size, so none of them pays alone for
# reclaiming page cache (measured: the first 1 GiB write into a full page cache costs
# ~2 s of extra sys time, whichever program does it).
clean_incoming() { find "$work/data/incoming" -mindepth 1 ! -name dl.bin -delete; }

# Each measured step is a function; odd rounds run ours first, even rounds the
# baselines first, so neither side always inherits the page-cache state of the other.
put_v2() {
    sync; s=$(now); "$bin/switchyard-bulk" -q send "$addr" "$work/src.bin" --name "up-$r.bin" > /dev/null; e=$(now)
    n=$((n + 1)); record put-v2 "$(awk "BEGIN{print $e - $s}")"
    cmp -s "$work/src.bin" "$work/data/incoming/up-$r.bin" || { echo "v2 upload $r differs"; exit 1; }
    clean_incoming
}
put_v2_known() {
    sync; s=$(now); "$bin/switchyard-bulk" -q send "$addr" "$work/src.bin" --name "known-$r.bin" --sha256 "$src_sha256" > /dev/null; e=$(now)
    n=$((n + 1)); record put-v2-known "$(awk "BEGIN{print $e - $s}")"
    cmp -s "$work/src.bin" "$work/data/incoming/known-$r.bin" || { echo "v2 upload (known digest) $r differs"; exit 1; }
    clean_incoming
}
put_v1_nc() {
    sync; s=$(now); nc -N 127.0.0.1 "$port" < "$work/v1.bin" > /dev/null; wait_transfers $((n + 1)); e=$(now)
    n=$((n + 1)); record put-v1-nc "$(awk "BEGIN{print $e - $s}")"
    v1f=("$work"/data/incoming/v1-*.bin)
    cmp -s "$work/src.bin" "${v1f[0]}" || { echo "v1 upload $r differs"; exit 1; }
    clean_incoming
}
put_seed() {
    sync; s=$(now); (cd "$work/seed" && SEED_PORT=$port python3 "$seed" > /dev/null); wait_transfers $((n + 1)); e=$(now)
    n=$((n + 1)); record put-seed "$(awk "BEGIN{print $e - $s}")"
    clean_incoming
}
base_nc() {
    p=$(free_port)
    nc -l 127.0.0.1 "$p" > "$work/out/nc-up.bin" & lp=$!
    wait_port "$p"
    sync; s=$(now); nc -N 127.0.0.1 "$p" < "$work/src.bin"; wait "$lp"; e=$(now)
    record nc "$(awk "BEGIN{print $e - $s}")"
    sync "$work/out/nc-up.bin"; e2=$(now)
    record nc+sync "$(awk "BEGIN{print $e2 - $s}")"
    rm -f "$work/out/nc-up.bin"
}
base_seed_nc() {
    p=$(free_port)
    nc -l 127.0.0.1 "$p" > "$work/out/seed-nc.bin" & lp=$!
    wait_port "$p"
    sync; s=$(now); (cd "$work/seed" && SEED_PORT=$p python3 "$seed" > /dev/null); wait "$lp"; e=$(now)
    record seed-nc "$(awk "BEGIN{print $e - $s}")"
    rm -f "$work/out/seed-nc.bin"
}
get_v2() {
    sync; s=$(now); "$bin/switchyard-bulk" -q get "$addr" dl.bin -o "$work/out/ours-down.bin" > /dev/null; e=$(now)
    record get-v2 "$(awk "BEGIN{print $e - $s}")"
    cmp -s "$work/src.bin" "$work/out/ours-down.bin" || { echo "download $r differs"; exit 1; }
    rm -f "$work/out/ours-down.bin"
}
base_get_nc() {
    p=$(free_port)
    nc -l -N 127.0.0.1 "$p" < "$work/data/incoming/dl.bin" & lp=$!
    wait_port "$p"
    sync; s=$(now); nc -d 127.0.0.1 "$p" > "$work/out/nc-down.bin"; wait "$lp"; e=$(now)
    record get-nc "$(awk "BEGIN{print $e - $s}")"
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
echo "== server memory after all transfers: $(grep VmHWM /proc/$server_pid/status | tr -s ' ') peak RSS (flat: independent of SIZE_MIB)"
echo "== ${SIZE_MIB} MiB transfers (median of $ROUNDS; ratio = baseline time / our time)"
python3 - "$results" "$SIZE_MIB" <<'PY'
import statistics, sys
times = {}
for line in open(sys.argv[1]):
    k, v = line.split()
    times.setdefault(k, []).append(float(v))
mib = float(sys.argv[2])
med = {k: statistics.median(v) for k, v in times.items()}
# The spread shows how much a step swung from round to round: nc writing into the page
# cache varies the most on a VM (fresh guest pages cost a host fault each).
for k in sorted(med):
    lo, hi = min(times[k]), max(times[k])
    print(f"   {k:<12} {med[k]:8.3f} s  {mib / med[k]:8.1f} MiB/s   (rounds {lo:.3f}-{hi:.3f} s)")
def ratio(base, ours, goal):
    print(f"   ratio {ours:<12} vs {base:<8} {med[base] / med[ours]:5.2f}  (goal {goal})")
# Each round runs ours and nc back to back: the per-round ratios show how much of a
# median ratio is nc's own swing.
for ours in ("put-v2", "put-v2-known"):
    pairs = [f"{b / o:.2f}" for b, o in zip(times["nc"], times[ours])]
    print(f"   per round {ours} vs nc: {' '.join(pairs)}")
ratio("nc", "put-v2", ">= 1.0")
ratio("nc", "put-v2-known", ">= 1.0")
ratio("nc+sync", "put-v2", "-")
ratio("nc", "put-v1-nc", ">= 0.95")
ratio("seed-nc", "put-seed", "~ 1.0")
ratio("get-nc", "get-v2", "-")
PY
