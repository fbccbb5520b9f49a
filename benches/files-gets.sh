#!/usr/bin/env bash
# benches/files-gets.sh — small GETs: the files plugin (protocol v2) against nginx, side
# by side, in one run.
#
# Both servers serve the same 1 KiB random file from the same directory: `switchyard`
# with the files plugin, and nginx over HTTP/1.1 keep-alive (`sendfile on`, access log
# off, keep-alive without a request limit). One load generator of ours speaks both
# (`getload`, benches/src/bin/getload/): GETN connections, each looping GET -> whole
# response -> next GET, every body checked byte for byte against the file (and, for
# files v2, against the sha256 the server announces); a wrong, short or refused
# response fails the script (exit 1, the reason on stderr), never a figure.
# For each worker count N in WORKERS (default "1 2") it runs our handler with
# `workers: N` against nginx with `worker_processes N`, at GETS_CONNS connections
# (default "1 50 200"), ROUNDS times (default 3), ours first in odd rounds and nginx
# first in even ones, each run GETS_SECS (default 5) seconds after GETS_WARMUP_SECS
# (default 1) of unmeasured load. It reports requests/s, the server's CPU per request
# (utime + stime from /proc/PID/stat of our process, or of nginx's master and workers,
# over the measured window only), the ratio ours / nginx, and system calls per request
# from a separate GETS_STRACE_SECS (default 2) run of each under `strace -c -f`.
# The load generator runs one thread, pinned with taskset to a core of its own and the
# server to the others when the machine has more cores than the server's N workers
# (the output says what pinning was possible; see pin_plan in benches/lib.sh).
# A `wrk` run against nginx at 50 connections checks that getload is not the limit.
# Our server logs at GETS_LOG_LEVEL (default info, the host's default) to a file.
#
#   benches/files-gets.sh                         # builds --release first
#   SKIP_BUILD=1 ROUNDS=1 GETS_SECS=1 GETS_CONNS="1 50" WORKERS=1 benches/files-gets.sh
#   ROUNDS_TSV=FILE: also append every round's requests/s to FILE (benches/plot.py)
#
# Needs: nginx (nginx-light), wrk, strace, taskset (util-linux), python3.
# Before the host has the handler option `workers` (asked of `switchyard validate`),
# the N > 1 rows are not measured and the output says so.
set -euo pipefail

GETS_SECS=${GETS_SECS:-5}
GETS_WARMUP_SECS=${GETS_WARMUP_SECS:-1}
GETS_CONNS=${GETS_CONNS:-1 50 200}
GETS_STRACE_SECS=${GETS_STRACE_SECS:-2}
GETS_LOG_LEVEL=${GETS_LOG_LEVEL:-info}
WORKERS=${WORKERS:-1 2}
ROUNDS=${ROUNDS:-3}
PROFILE=${PROFILE:-release}
here=$(cd "$(dirname "$0")/.." && pwd)
bin=$here/target/$PROFILE
# shellcheck source=benches/lib.sh
source "$here/benches/lib.sh"

need_tools "apt-get install nginx-light wrk strace util-linux python3" nginx wrk strace taskset python3
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    (cd "$here" && cargo build --profile "$PROFILE" -p switchyard -p switchyard-files \
        -p switchyard-files-client -p switchyard-benches)
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/sy-gets-bench.XXXXXX")
SERVER_PID=
NGINX_PID=
stop_ours() {
    [ -z "$SERVER_PID" ] || { kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null || true; }
    SERVER_PID=
}
stop_nginx() {
    [ -z "$NGINX_PID" ] || { kill "$NGINX_PID" 2>/dev/null; wait "$NGINX_PID" 2>/dev/null || true; }
    NGINX_PID=
}
cleanup() {
    stop_ours
    stop_nginx
    cpu_group_remove
    rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/data" "$work/nginx"
head -c 1024 /dev/urandom > "$work/k1"
k1_sha=$(sha256_of "$work/k1")
WORKERS_SUPPORTED=0
workers_supported && WORKERS_SUPPORTED=1
echo "== setup: GETs of a 1 KiB random file on kept-alive connections; $ROUNDS rounds of $GETS_SECS s after $GETS_WARMUP_SECS s of warm-up;"
echo "   connections: $GETS_CONNS; workers: $WORKERS; profile $PROFILE; our log level $GETS_LOG_LEVEL; nginx access log off;"
echo "   load generator: getload, one thread, every response verified; GLIBC_TUNABLES=${GLIBC_TUNABLES:-unset}"

# start_ours N: our server with the files handler on N workers; sets SERVER_PID, ours_addr.
# Every connection comes from 127.0.0.1, so the per-address limit (64 by default;
# nginx has none) is raised as the soak test does.
start_ours() {
    cat > "$work/ours-$1.ron" <<RON
(
    listeners: { "files_tcp": (kind: tcp, bind: "127.0.0.1:0") },
    handlers: {
        "files": (
            plugin: "files",
            $(workers_field "$1")root: Some("$work/data"),
            limits: (max_connections_per_ip: 4096),
            config: (reserve_free_bytes: 0),
        ),
    },
    routes: [ (from: "files_tcp", to: "files") ],
)
RON
    start_switchyard "$work/ours-$1.log" --config "$work/ours-$1.ron" --plugin-dir "$bin" --log-level "$GETS_LOG_LEVEL"
    ours_addr=$(listener_addr "$work/ours-$1.log")
    [ -n "$ours_addr" ] || fail "no listening line in our server's log"
}

# start_nginx N: nginx with N worker processes serving the same directory; sets
# NGINX_PID (the master) and nginx_addr, and waits for its N workers.
start_nginx() {
    local port n
    port=$(free_tcp_port)
    # As root the workers would run as nobody, who cannot read the 0700 scratch dir.
    local user=
    [ "$(id -u)" -ne 0 ] || user="user $(id -un) $(id -gn);"
    cat > "$work/nginx-$1.conf" <<CONF
$user
worker_processes $1;
daemon off;
master_process on;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    keepalive_timeout 300s;
    keepalive_requests 1000000000;
    default_type application/octet-stream;
    client_body_temp_path $work/nginx/body;
    proxy_temp_path $work/nginx/proxy;
    fastcgi_temp_path $work/nginx/fastcgi;
    uwsgi_temp_path $work/nginx/uwsgi;
    scgi_temp_path $work/nginx/scgi;
    server {
        listen 127.0.0.1:$port;
        root $work/data;
    }
}
CONF
    nginx -p "$work/nginx/" -e "$work/nginx/error.log" -c "$work/nginx-$1.conf" &
    NGINX_PID=$!
    wait_port "$port"
    for _ in $(seq 200); do
        n=$(process_tree "$NGINX_PID" | wc -l)
        [ "$n" -gt "$1" ] && break
        sleep 0.05
    done
    [ "$n" -gt "$1" ] || { cat "$work/nginx/error.log" >&2; fail "nginx did not start $1 workers"; }
    nginx_addr=127.0.0.1:$port
}

results=$work/results.txt
syscalls=$work/syscalls.txt
checks=$work/wrk.txt
pins=$work/pins.txt
: > "$results"
: > "$syscalls"
: > "$checks"
: > "$pins"

# getload_on SERVER CONNS SECS WARMUP: one verified getload run against ours or nginx;
# prints its key=value line.
getload_on() {
    local proto=files addr=$ours_addr pid=$SERVER_PID
    if [ "$1" = nginx ]; then proto=http addr=$nginx_addr pid=$NGINX_PID; fi
    "${LOAD_PIN[@]}" "$bin/getload" --proto "$proto" --addr "$addr" --name k1 --expect "$work/k1" \
        --conns "$2" --secs "$3" --warmup-secs "$4" --server-pid "$pid" ||
        fail "workers $n, $2 connections: getload against $1 failed"
}

# measure SERVER CONNS: one timed round, recorded as "N CONNS SERVER ROUND REQ/S US/REQ LOAD%".
measure() {
    local line
    line=$(getload_on "$1" "$2" "$GETS_SECS" "$GETS_WARMUP_SECS")
    echo "$n $2 $1 $r $(kv per_sec "$line") $(kv server_us_per_req "$line") $(kv client_busy_pct "$line")" >> "$results"
}

# count_syscalls SERVER CONNS: system calls per request of one server under strace.
count_syscalls() {
    local line total calls
    local -a pids
    if [ "$1" = nginx ]; then mapfile -t pids < <(process_tree "$NGINX_PID"); else pids=("$SERVER_PID"); fi
    syscalls_during "$work/sc" "${pids[@]}" -- getload_on "$1" "$2" "$GETS_STRACE_SECS" 0 > "$work/sc.line"
    line=$(cat "$work/sc.line")
    total=$(kv total "$line")
    calls=$(cat "$work/sc")
    echo "$n $2 $1 $(awk -v c="$calls" -v t="$total" 'BEGIN { printf "%.1f", c / t }')" >> "$syscalls"
}

for n in $WORKERS; do
    if [ "$n" -gt 1 ] && [ "$WORKERS_SUPPORTED" != 1 ]; then
        echo "== workers $n: NOT MEASURED: this build of switchyard has no handler option \`workers\`"
        continue
    fi
    pin_plan "$n"
    start_ours "$n"
    if [ ! -f "$work/data/k1" ]; then
        "$bin/switchyard-files" --quiet put "$ours_addr" "$work/k1" k1
        verify "1 KiB upload" "$k1_sha" "$work/data/k1"
    fi
    start_nginx "$n"
    pin_server "$SERVER_PID" $(process_tree "$NGINX_PID")
    echo "== workers $n: switchyard files v2 (workers: $n) on $ours_addr, nginx (worker_processes $n) on $nginx_addr"
    echo "   pinning: $PIN_NOTE"
    echo "$n $([ -n "$SERVER_CORES" ] && echo yes || echo no)" >> "$pins"
    for r in $(seq "$ROUNDS"); do
        for c in $GETS_CONNS; do
            if [ $((r % 2)) = 1 ]; then
                measure ours "$c"; measure nginx "$c"
            else
                measure nginx "$c"; measure ours "$c"
            fi
        done
        echo "   round $r done ($([ $((r % 2)) = 1 ] && echo ours || echo nginx) first)"
    done
    for c in $GETS_CONNS; do
        count_syscalls ours "$c"
        count_syscalls nginx "$c"
    done
    echo "   system calls counted under strace -c -f ($GETS_STRACE_SECS s per server and connection count)"
    # The load generator's own limit: wrk (which does not verify bodies) against the
    # same nginx, same pinning, 50 connections, one thread.
    wrk_secs=$(awk -v s="$GETS_SECS" 'BEGIN { printf "%d", (s == int(s)) ? s : int(s) + 1 }')
    "${LOAD_PIN[@]}" wrk -t1 -c50 -d"${wrk_secs}s" "http://$nginx_addr/k1" > "$work/wrk.out" ||
        fail "wrk against nginx failed"
    ! grep -q "Non-2xx" "$work/wrk.out" || fail "wrk got errors from nginx: $(cat "$work/wrk.out")"
    wrk_rps=$(awk '/^Requests\/sec:/ { print $2 }' "$work/wrk.out")
    [ -n "$wrk_rps" ] || fail "no Requests/sec in wrk's output: $(cat "$work/wrk.out")"
    echo "$n $wrk_rps" >> "$checks"
    stop_ours
    stop_nginx
done
[ -s "$results" ] || fail "nothing was measured (WORKERS=$WORKERS)"
our_errors=$(cat "$work"/ours-*.log | grep -c '"level":"error"' || true)
nginx_errors=$(grep -c '\[error\]\|\[crit\]\|\[alert\]\|\[emerg\]' "$work/nginx/error.log" || true)

python3 - "$results" "$syscalls" "$checks" "$pins" <<'PY'
import os, statistics, sys
from collections import defaultdict

results, syscalls, checks, pins = sys.argv[1:]
rps, us, load = defaultdict(list), defaultdict(list), defaultdict(list)
for line in open(results):
    n, c, server, r, per_sec, us_req, busy = line.split()
    key = (int(n), int(c), server)
    rps[key].append((int(r), float(per_sec)))
    us[key].append(float(us_req))
    load[key].append(float(busy))
sc = {(int(n), int(c), s): v for n, c, s, v in (l.split() for l in open(syscalls))}
wrk = {int(n): float(v) for n, v in (l.split() for l in open(checks))}
pinned = {int(n): p for n, p in (l.split() for l in open(pins))}
med = lambda v: statistics.median(v)
rounds = max(len(v) for v in rps.values())

print()
print(f"requests/s: median of {rounds} round(s); server CPU: µs per request over the same windows (/proc);")
print("syscalls: per request under strace -c -f (separate short run); load: the load generator's CPU, % of one core")
print(f"{'workers':>7} {'conns':>5} {'ours':>9} {'nginx':>9} {'ratio':>6} {'ours':>8} {'nginx':>8} {'ratio':>6} "
      f"{'ours':>8} {'nginx':>8} {'load':>5} {'load':>5}")
print(f"{'':>7} {'':>5} {'req/s':>9} {'req/s':>9} {'':>6} {'µs/req':>8} {'µs/req':>8} {'cpu':>6} "
      f"{'sys/req':>8} {'sys/req':>8} {'ours':>5} {'nginx':>5}")
table = {}
for n, c in sorted({(n, c) for n, c, _ in rps}):
    o, g = med(v for _, v in rps[(n, c, "ours")]), med(v for _, v in rps[(n, c, "nginx")])
    ou, gu = med(us[(n, c, "ours")]), med(us[(n, c, "nginx")])
    table[(n, c)] = (o, ou)
    print(f"{n:>7} {c:>5} {o:>9.0f} {g:>9.0f} {o / g:>6.2f} {ou:>8.2f} {gu:>8.2f} {ou / gu:>6.2f} "
          f"{sc.get((n, c, 'ours'), 'n/a'):>8} {sc.get((n, c, 'nginx'), 'n/a'):>8} "
          f"{med(load[(n, c, 'ours')]):>5.0f} {med(load[(n, c, 'nginx')]):>5.0f}")

# Scaling: our N workers against our 1 worker, per connection count.
ns = sorted({n for n, _ in table})
if len(ns) > 1 and 1 in ns:
    print()
    print("our scaling: N workers / 1 worker (requests/s; server CPU per request, a cost); pinned: whether the load generator had a core of its own")
    print(f"{'scale':<5} {'workers':>7} {'conns':>5} {'req/s':>6} {'cpu':>6} {'pinned':>6}")
    for n in ns[1:]:
        for c in sorted(c for m, c in table if m == n):
            if (1, c) in table:
                (o, ou), (b, bu) = table[(n, c)], table[(1, c)]
                print(f"{'scale':<5} {n:>7} {c:>5} {o / b:>6.2f} {ou / bu:>6.2f} {pinned.get(n, 'no'):>6}")
print()
for n in sorted(wrk):
    g = rps.get((n, 50, "nginx"))
    ours_gen = f"getload {med(v for _, v in g):.0f} req/s in the timed rounds" if g else "no getload run at 50 connections"
    print(f"load generator check, nginx with {n} worker(s), 50 connections: wrk -t1 {wrk[n]:.0f} req/s, {ours_gen}")

tsv = os.environ.get("ROUNDS_TSV")
if tsv:
    with open(tsv, "a", encoding="utf-8") as f:
        for (n, c, server), pts in sorted(rps.items()):
            label, role = ("switchyard files v2", "ours") if server == "ours" else ("nginx", "baseline")
            for r, v in pts:
                f.write(f"workers {n}, {c} connection{'s' if c != 1 else ''}\t{label}\t{role}\t{r}\t{v:.0f}\trequests/s\n")
PY
echo
echo "error lines in the logs: ours $our_errors, nginx $nginx_errors"
