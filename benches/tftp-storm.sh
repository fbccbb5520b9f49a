#!/usr/bin/env bash
# benches/tftp-storm.sh — a PXE boot storm: our TFTP plugin against tftpd-hpa, side by
# side, in one run.
#
# STORM_CLIENTS (default "50 200") downloads at once of the same STORM_MIB (default 4)
# MiB random file, lock-step at blksize STORM_BLKSIZE (default 1468, no windowsize: what
# PXE ROMs do), from `switchyard` with the tftp plugin on N workers for each N in
# WORKERS (default "1 2"), and from tftpd-hpa (`in.tftpd -L`, one forked process per
# download), ROUNDS times (default 3): ours first in odd rounds, tftpd-hpa first in even
# ones. The client is ours (`tftp-storm`, benches/src/bin/tftp-storm/): one UDP socket
# per download, each from a loopback address of its own as booting machines have,
# retransmitting on timeout; every downloaded file's length and sha256 must be the
# source's, or the script fails (exit 1, the reason on stderr), never a figure.
# Reports the aggregate MiB/s (all bytes / the time the last download took), the time
# for the first and the last download to finish, the server's CPU seconds per GiB
# served (each server in a cgroup of its own, which also counts tftpd-hpa's forked
# processes; see benches/lib.sh), retransmissions, the client's CPU (wait4: whether it
# was the limit), and the ratios ours / tftpd-hpa.
# Nothing is pinned: tftpd-hpa spreads its processes over every core, and so may ours
# and the client.
#
#   benches/tftp-storm.sh                         # builds --release first
#   SKIP_BUILD=1 ROUNDS=1 STORM_CLIENTS="20 50" STORM_MIB=1 benches/tftp-storm.sh
#   ROUNDS_TSV=FILE: also append every round's MiB/s to FILE (benches/plot.py)
#
# Needs: in.tftpd (tftpd-hpa), python3, pgrep. Before the host has the handler option
# `workers` (asked of `switchyard validate`), the N > 1 rows are not measured and the
# output says so.
set -euo pipefail

STORM_MIB=${STORM_MIB:-4}
STORM_CLIENTS=${STORM_CLIENTS:-50 200}
STORM_BLKSIZE=${STORM_BLKSIZE:-1468}
WORKERS=${WORKERS:-1 2}
ROUNDS=${ROUNDS:-3}
PROFILE=${PROFILE:-release}
here=$(cd "$(dirname "$0")/.." && pwd)
bin=$here/target/$PROFILE
# shellcheck source=benches/lib.sh
source "$here/benches/lib.sh"

need_tools "apt-get install tftpd-hpa python3" in.tftpd python3 pgrep
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    (cd "$here" && cargo build --profile "$PROFILE" -p switchyard -p switchyard-tftp -p switchyard-benches)
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/sy-storm-bench.XXXXXX")
declare -A OURS_PID=() OURS_PORT=()
hpa_pid=
cleanup() {
    local pid
    for pid in "${OURS_PID[@]}"; do
        kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    done
    # tftpd-hpa forks one child per transfer: end the children of the one we started.
    if [ -n "$hpa_pid" ]; then
        pkill -P "$hpa_pid" 2>/dev/null || true
        kill "$hpa_pid" 2>/dev/null || true
        wait "$hpa_pid" 2>/dev/null || true
    fi
    cpu_group_remove
    rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/ours" "$work/hpa"
head -c "$((STORM_MIB * 1024 * 1024))" /dev/urandom > "$work/src.bin"
cp "$work/src.bin" "$work/ours/boot.bin"
cp "$work/src.bin" "$work/hpa/boot.bin"
src_sha=$(sha256_of "$work/src.bin")
verify "our server's copy" "$src_sha" "$work/ours/boot.bin"
verify "tftpd-hpa's copy" "$src_sha" "$work/hpa/boot.bin"
WORKERS_SUPPORTED=0
workers_supported && WORKERS_SUPPORTED=1
most=$(printf '%s\n' $STORM_CLIENTS | sort -n | tail -n 1)
echo "== setup: ${STORM_MIB} MiB random file, $STORM_CLIENTS downloads at once, blksize $STORM_BLKSIZE lock-step,"
echo "   $ROUNDS rounds, workers: $WORKERS, profile $PROFILE, GLIBC_TUNABLES=${GLIBC_TUNABLES:-unset};"
echo "   each download from its own loopback address; nothing pinned ($(nproc) cores)"

# Our servers, one per worker count; the handler's limits as configured by default,
# but for max_transfers when a storm is larger than its default (512).
limits=
[ "$most" -le 512 ] || limits="max_transfers: $most"
servers=()
for n in $WORKERS; do
    if [ "$n" -gt 1 ] && [ "$WORKERS_SUPPORTED" != 1 ]; then
        echo "== workers $n: NOT MEASURED: this build of switchyard has no handler option \`workers\`"
        continue
    fi
    cat > "$work/ours-$n.ron" <<RON
(
    listeners: { "tftp_udp": (kind: udp, bind: "127.0.0.1:0") },
    handlers: { "tftp": (plugin: "tftp", $(workers_field "$n")root: Some("$work/ours"), config: ($limits)) },
    routes: [ (from: "tftp_udp", to: "tftp") ],
)
RON
    start_switchyard "$work/ours-$n.log" --config "$work/ours-$n.ron" --plugin-dir "$bin" --log-level info
    OURS_PID[$n]=$SERVER_PID
    addr=$(listener_addr "$work/ours-$n.log" tftp_udp)
    [ -n "$addr" ] || { cat "$work/ours-$n.log" >&2; fail "our server logged no listening line"; }
    OURS_PORT[$n]=${addr##*:}
    servers+=("workers-$n")
    echo "== switchyard tftp, workers $n, on 127.0.0.1:${OURS_PORT[$n]}"
done
hpa_port=$(free_udp_port)
in.tftpd -L -a "127.0.0.1:$hpa_port" -s "$work/hpa" -u "$(id -un)" &
hpa_pid=$!
cpu_group_track "$hpa_pid"
sleep 0.3
echo "== tftpd-hpa on 127.0.0.1:$hpa_port"

results=$work/results.txt
: > "$results"

# storm SERVER CLIENTS: one verified storm against workers-N or tftpd-hpa, recorded as
# "CLIENTS SERVER ROUND MIB/S LAST_S FIRST_S SERVER_CPU_S BYTES RETRANSMITS CLIENT_CPU_S".
storm() {
    local server=$1 clients=$2 port pid forks= c0 c1 line
    if [ "$server" = tftpd-hpa ]; then
        port=$hpa_port pid=$hpa_pid forks=forks
    else
        port=${OURS_PORT[${server#workers-}]} pid=${OURS_PID[${server#workers-}]}
    fi
    c0=$(server_cpu "$pid" "$forks")
    measured "$work/mc" "$bin/tftp-storm" --server "127.0.0.1:$port" --file boot.bin --expect "$work/src.bin" \
        --clients "$clients" --blksize "$STORM_BLKSIZE" > "$work/storm.out" ||
        fail "round $r, $clients downloads from $server failed"
    line=$(cat "$work/storm.out")
    # tftpd-hpa's transfer processes may outlive the clients by their last wait: count
    # their CPU once they have exited.
    for _ in $(seq 250); do pgrep -P "$pid" >/dev/null || break; sleep 0.02; done
    c1=$(server_cpu "$pid" "$forks")
    echo "$clients $server $r $(kv mib_per_s "$line") $(kv last_secs "$line") $(kv first_secs "$line") \
$([ "$c0" = n/a ] && echo n/a || sub "$c1" "$c0") $(kv bytes "$line") $(kv retransmits "$line") \
$(measured_field "$work/mc" 3)" >> "$results"
}

for r in $(seq "$ROUNDS"); do
    for c in $STORM_CLIENTS; do
        if [ $((r % 2)) = 1 ]; then
            for s in "${servers[@]}"; do storm "$s" "$c"; done
            storm tftpd-hpa "$c"
        else
            storm tftpd-hpa "$c"
            for ((i = ${#servers[@]} - 1; i >= 0; i--)); do storm "${servers[$i]}" "$c"; done
        fi
    done
    echo "   round $r done ($([ $((r % 2)) = 1 ] && echo ours || echo tftpd-hpa) first)"
done

python3 - "$results" <<'PY'
import os, statistics, sys
from collections import defaultdict

runs = defaultdict(list)
for line in open(sys.argv[1]):
    clients, server, r, mib_s, last, first, cpu, nbytes, retrans, client = line.split()
    gib = int(nbytes) / 2**30
    runs[(int(clients), server)].append(dict(
        r=int(r), mib_s=float(mib_s), last=float(last), first=float(first),
        cpu_gib=None if cpu == "n/a" else float(cpu) / gib, retrans=int(retrans),
        client_gib=float(client) / gib, client_busy=float(client) / float(last) * 100))
med = lambda k, f: statistics.median(x[f] for x in runs[k])
def cpu(k):
    v = [x["cpu_gib"] for x in runs[k]]
    return None if None in v else statistics.median(v)
num = lambda v, w, p: f"{'n/a':>{w}}" if v is None else f"{v:>{w}.{p}f}"
rounds = max(len(v) for v in runs.values())

print()
print(f"median of {rounds} round(s): aggregate MiB/s (all bytes / the last download's time), seconds until the first")
print("and the last download finished, server CPU seconds per GiB served, retransmissions (all rounds);")
print("ratio = our aggregate MiB/s / tftpd-hpa's, and our server CPU per GiB / tftpd-hpa's (a cost);")
print("client: the storm client's CPU seconds per GiB and its share of one core (wait4; it runs one thread)")
print(f"{'storm':<5} {'clients':>7} {'server':<10} {'MiB/s':>8} {'last s':>7} {'first s':>7} {'cpu s/GiB':>9} "
      f"{'retrans':>7} {'ratio':>6} {'cpu':>6} {'client s/GiB':>12} {'client %':>8}")
table = {}
for clients in sorted({c for c, _ in runs}):
    hpa = (clients, "tftpd-hpa")
    for server in sorted({s for c, s in runs if c == clients and s != "tftpd-hpa"}) + ["tftpd-hpa"]:
        k = (clients, server)
        if k not in runs:
            continue
        rate, c = med(k, "mib_s"), cpu(k)
        table[k] = (rate, c)
        if server == "tftpd-hpa":
            ratio, cratio = "-", "-"
        else:
            ratio = f"{rate / med(hpa, 'mib_s'):.2f}"
            hc = cpu(hpa)
            cratio = "n/a" if c is None or not hc else f"{c / hc:.2f}"
        print(f"{'storm':<5} {clients:>7} {server:<10} {rate:>8.1f} {med(k, 'last'):>7.2f} {med(k, 'first'):>7.2f} "
              f"{num(c, 9, 2)} {sum(x['retrans'] for x in runs[k]):>7} {ratio:>6} {cratio:>6} "
              f"{med(k, 'client_gib'):>12.2f} {med(k, 'client_busy'):>8.0f}")

# Our N workers against our 1 worker.
scale = [(c, s) for c, s in table if s.startswith("workers-") and s != "workers-1" and (c, "workers-1") in table]
if scale:
    print()
    print("our scaling: N workers / 1 worker (aggregate MiB/s; server CPU per GiB, a cost)")
    print(f"{'scale':<5} {'clients':>7} {'workers':>7} {'MiB/s':>6} {'cpu':>6}")
    for c, s in sorted(scale):
        (o, oc), (b, bc) = table[(c, s)], table[(c, "workers-1")]
        print(f"{'scale':<5} {c:>7} {s[len('workers-'):]:>7} {o / b:>6.2f} "
              f"{'n/a' if oc is None or not bc else f'{oc / bc:.2f}':>6}")

tsv = os.environ.get("ROUNDS_TSV")
if tsv:
    with open(tsv, "a", encoding="utf-8") as f:
        for (clients, server), xs in sorted(runs.items()):
            label, role = ("tftpd-hpa", "baseline") if server == "tftpd-hpa" else \
                (f"switchyard, workers {server[len('workers-'):]}", "ours")
            for x in xs:
                f.write(f"{clients} downloads at once\t{label}\t{role}\t{x['r']}\t{x['mib_s']:.1f}\tMiB/s\n")
PY
warns=$(cat "$work"/ours-*.log | grep -c '"level":"warn"' || true)
echo
echo "our servers' warnings during the run: $warns (retransmits show as warn lines)"
