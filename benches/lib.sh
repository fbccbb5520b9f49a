# benches/lib.sh — what every side-by-side benchmark script shares; sourced, not run.
#
# The rules it serves: a transfer is only timed if it is checked (sha256 of what
# arrived against the sha256 of what was sent, on both sides), every transfer also
# reports the CPU time of both ends (a server can win on time by spending more CPU,
# e.g. busy polling), and a failed or corrupt transfer stops the script with a non-zero
# exit and its message on stderr, never a 0 in a table that a median could hide.
#
# Needs python3 (port probing, the measure.py wrapper). Callers set `set -euo pipefail`.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Clock ticks per second for /proc/PID/stat's CPU fields.
CLK_TCK=$(getconf CLK_TCK)

# Print the message on stderr and exit 1 (the caller's EXIT trap stops its servers).
fail() {
    echo "$(basename "$0"): $*" >&2
    exit 1
}

# need_tools "apt-get hint" tool...: exit 2 naming the first missing tool.
need_tools() {
    local hint=$1 tool
    shift
    for tool in "$@"; do
        command -v "$tool" >/dev/null || { echo "$(basename "$0"): needs $tool ($hint)" >&2; exit 2; }
    done
}

now() { date +%s.%N; }
free_tcp_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
free_udp_port() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Wait until something listens on TCP 127.0.0.1:$1 (the baselines' servers); fail after 10 s.
wait_port() {
    python3 - "$1" <<'PY' || fail "nothing listens on 127.0.0.1:$1 after 10 s"
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

# start_switchyard LOG ARGS...: start `switchyard serve ARGS` (JSON logs to LOG) in the
# background, set SERVER_PID, and wait for its "serving" line; fail with the log if it
# does not come or the process dies.
start_switchyard() {
    local log=$1
    shift
    "$bin/switchyard" serve --log-format json "$@" 2> "$log" &
    SERVER_PID=$!
    cpu_group_track "$SERVER_PID"
    for _ in $(seq 200); do
        grep -q '"msg":"serving"' "$log" 2>/dev/null && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.05
    done
    cat "$log" >&2
    fail "switchyard did not start"
}

# listener_addr LOG [NAME]: the address of listener NAME (or the first one) from LOG.
listener_addr() {
    python3 - "$@" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    try:
        j = json.loads(line)
    except ValueError:
        continue
    if j.get("msg") == "listening" and (len(sys.argv) < 3 or j.get("listener") == sys.argv[2]):
        print(j["addr"])
        break
PY
}

# proc_cpu PID: CPU seconds (user + system) of a running process and of the children it
# has waited for (/proc/PID/stat utime, stime, cutime, cstime), e.g. tftpd-hpa's forked
# transfer processes. Take it before and after a transfer; the difference is its cost.
proc_cpu() {
    local stat fields
    stat=$(< "/proc/$1/stat") || fail "process $1 is gone"
    # The command name may hold spaces: fields are counted after its closing parenthesis.
    read -r -a fields <<< "${stat##*) }"
    # fields[0] is the state (field 3): utime..cstime are fields 14..17.
    echo "$(( fields[11] + fields[12] + fields[13] + fields[14] )) $CLK_TCK" |
        awk '{printf "%.3f\n", $1 / $2}'
}

# measured OUT CMD...: run CMD under benches/measure.py, which writes "START END CPU"
# of CMD to OUT (its own start-up not included in START..END).
measured() {
    python3 "$BENCH_DIR/measure.py" "$@"
}

# measured_field OUT N: field N (1 start, 2 end, 3 CPU) of a measured.py record.
measured_field() {
    local rec
    read -r -a rec < "$1" || fail "no measurement in $1"
    echo "${rec[$(($2 - 1))]}"
}

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# verify WHAT WANT_SHA256 FILE: fail unless FILE exists and its sha256 is WANT_SHA256.
verify() {
    local what=$1 want=$2 file=$3 got
    [ -f "$file" ] || fail "$what: nothing arrived ($file is missing)"
    got=$(sha256_of "$file")
    [ "$got" = "$want" ] || fail "$what: CORRUPT: sha256 $got, sent $want ($file, $(stat -c %s "$file") bytes)"
}

# record RESULTS KEY SECONDS CLIENT_CPU SERVER_CPU: one timed, verified transfer.
record() {
    echo "$2 $3 $4 $5" >> "$1"
}

# sub A B: A - B for decimal seconds.
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f\n", a - b }'; }

# later A B: the later of two timestamps.
later() { awk -v a="$1" -v b="$2" 'BEGIN { print (a > b) ? a : b }'; }

# The two kinds of timed step. Both use the caller's globals: `work` (scratch dir),
# `results` (the RESULTS file of benches/times.py), `r` (the round, for messages) and
# SERVER_PID (our server); both verify before they record.

# ours_step KEY WANT_SHA256 ARRIVED CMD...: one of our clients against our server, timed
# by the client's lifetime; the server's CPU is its /proc counter across it. ARRIVED is
# the file the bytes must have reached (on the server for an upload, locally for a
# download).
ours_step() {
    local key=$1 want=$2 arrived=$3 c0 c1
    shift 3
    c0=$(server_cpu "$SERVER_PID")
    measured "$work/mc" "$@" > "$work/client.out" || fail "$key round $r: our client failed: $* ($(cat "$work/client.out"))"
    c1=$(server_cpu "$SERVER_PID")
    verify "$key round $r" "$want" "$arrived"
    record "$results" "$key" "$(sub "$(measured_field "$work/mc" 2)" "$(measured_field "$work/mc" 1)")" \
        "$(measured_field "$work/mc" 3)" "$(sub "$c1" "$c0")"
}

# baseline_step KEY WANT_SHA256 ARRIVED SERVER_CMD... -- CLIENT_CMD...: a baseline
# server (@PORT@ in its arguments becomes a free port) started first, then its client;
# timed from the client's start until both have exited. The commands' stdin and stdout
# come from SERVER_IN/SERVER_OUT and CLIENT_IN/CLIENT_OUT (default /dev/null). Sets
# STEP_SECS (for a "+ sync" variant). The server's pid is in `lp` while it runs, for
# the caller's EXIT trap.
baseline_step() {
    local key=$1 want=$2 arrived=$3 p end
    shift 3
    local -a server=()
    while [ "$1" != -- ]; do server+=("$1"); shift; done
    shift
    p=$(free_tcp_port)
    measured "$work/ms" "${server[@]//@PORT@/$p}" < "${SERVER_IN:-/dev/null}" > "${SERVER_OUT:-/dev/null}" &
    lp=$!
    wait_port "$p"
    measured "$work/mc" "${@//@PORT@/$p}" < "${CLIENT_IN:-/dev/null}" > "${CLIENT_OUT:-/dev/null}" ||
        fail "$key round $r: the baseline client failed: $*"
    wait "$lp" || fail "$key round $r: the baseline server failed: ${server[*]}"
    lp=
    end=$(later "$(measured_field "$work/ms" 2)" "$(measured_field "$work/mc" 2)")
    STEP_SECS=$(sub "$end" "$(measured_field "$work/mc" 1)")
    verify "$key round $r" "$want" "$arrived"
    record "$results" "$key" "$STEP_SECS" "$(measured_field "$work/mc" 3)" "$(measured_field "$work/ms" 3)"
}

# plus_sync KEY FILE: record KEY as the last step's time plus `sync FILE` (the fsync a
# baseline skips and our server does before it answers). No CPU figures.
plus_sync() {
    local t0 t1
    t0=$(now)
    sync "$2"
    t1=$(now)
    record "$results" "$1" "$(awk -v a="$STEP_SECS" -v s="$(sub "$t1" "$t0")" 'BEGIN { print a + s }')" - -
}

# Server CPU. /proc/PID/stat counts in clock ticks (10 ms), too coarse for a small
# transfer, and a server that forks per request and ignores SIGCHLD (tftpd-hpa) leaves
# no trace of its children's CPU there: the kernel discards unwaited children's times.
# A cgroup of its own counts every process in it, forked ones included, in µs or ns;
# every server is put in one when possible (root and a cgroup file system needed).
declare -A CPU_GROUP_OF=()

# cpu_group_track PID: move PID into a fresh CPU-accounting cgroup (cgroup v2, else v1
# cpuacct). Says on stderr when that is not possible (server_cpu then falls back).
cpu_group_track() {
    local base dir
    for base in /sys/fs/cgroup /sys/fs/cgroup/unified /sys/fs/cgroup/cpuacct; do
        [ -f "$base/cgroup.procs" ] || continue
        [ -f "$base/cpu.stat" ] || [ -f "$base/cpuacct.usage" ] ||
            [ "$(stat -fc %T "$base")" = cgroup2fs ] || continue
        dir="$base/switchyard-bench.$$.$1"
        if mkdir "$dir" 2>/dev/null; then
            if echo "$1" > "$dir/cgroup.procs" 2>/dev/null; then
                CPU_GROUP_OF[$1]=$dir
                return 0
            fi
            rmdir "$dir" 2>/dev/null || true
        fi
    done
    echo "$(basename "$0"): no cgroup for process $1 (needs root and a cgroup file system): its CPU comes from /proc in 10 ms ticks, or is n/a if it forks" >&2
}

# server_cpu PID [forks]: CPU seconds used so far by server PID, from its cgroup, else
# from /proc/PID/stat; "n/a" for a server that forks ("forks") and has no cgroup.
server_cpu() {
    local dir=${CPU_GROUP_OF[$1]:-}
    if [ -n "$dir" ] && [ -f "$dir/cpu.stat" ]; then
        awk '$1 == "usage_usec" { printf "%.6f\n", $2 / 1e6 }' "$dir/cpu.stat"
    elif [ -n "$dir" ]; then
        awk '{ printf "%.6f\n", $1 / 1e9 }' "$dir/cpuacct.usage"
    elif [ "${2:-}" = forks ]; then
        echo n/a
    else
        proc_cpu "$1"
    fi
}

# cpu_group_remove: remove the cgroups once their processes are gone (EXIT traps, after
# the servers were stopped).
cpu_group_remove() {
    local dir
    for dir in "${CPU_GROUP_OF[@]}"; do
        for _ in $(seq 50); do
            rmdir "$dir" 2>/dev/null && continue 2
            sleep 0.02
        done
        echo "$(basename "$0"): could not remove $dir" >&2
    done
}

# --- Several workers, pinning and system calls (files-gets.sh, tftp-storm.sh) ---

# workers_supported: whether this build's topology has the handler option `workers`
# (asked of `switchyard validate`, which binds nothing). Before it, a handler runs on
# one thread and the N > 1 rows cannot be measured; the scripts say so in their output.
workers_supported() {
    local dir rc=0
    dir=$(mktemp -d "${TMPDIR:-/tmp}/sy-workers-probe.XXXXXX")
    cat > "$dir/t.ron" <<RON
(
    listeners: { "u": (kind: udp, bind: "127.0.0.1:0") },
    handlers: { "h": (plugin: "echo", workers: 1) },
    routes: [ (from: "u", to: "h") ],
)
RON
    "$bin/switchyard" validate --plugin-dir "$bin" "$dir/t.ron" >/dev/null 2>&1 || rc=$?
    rm -rf "$dir"
    return "$rc"
}

# workers_field N: the handler field for N workers, given explicitly whenever the build
# knows it (its default is the number of CPUs, not 1); nothing for N = 1 on a build
# without it. Call only with N = 1 or a supported build.
workers_field() {
    if [ "${WORKERS_SUPPORTED:-0}" = 1 ]; then
        echo "workers: $1, "
    fi
}

# pin_plan N: where a server with N workers and a one-thread load generator run.
# With more cores than the server needs, the server gets cores 0..N-1 and the load
# generator the last core, so that neither takes the other's CPU; otherwise nothing is
# pinned. Sets SERVER_CORES and LOAD_PIN (a taskset prefix, or empty) and PIN_NOTE.
pin_plan() {
    local n=$1 cores
    cores=$(nproc)
    if [ "$cores" -gt "$n" ]; then
        SERVER_CORES=0-$((n - 1))
        LOAD_PIN=(taskset -c "$((cores - 1))")
        PIN_NOTE="servers pinned to cores $SERVER_CORES, the load generator to core $((cores - 1)) ($cores cores)"
    else
        SERVER_CORES=
        LOAD_PIN=()
        PIN_NOTE="nothing pinned: $cores cores do not fit $n for the server and 1 for the load generator, so they share them"
    fi
}

# pin_server PID...: every thread of each process onto SERVER_CORES (when pin_plan set it).
pin_server() {
    local pid
    [ -n "${SERVER_CORES:-}" ] || return 0
    for pid in "$@"; do
        taskset -a -p -c "$SERVER_CORES" "$pid" >/dev/null || fail "cannot pin process $pid"
    done
}

# process_tree PID: PID and its children (nginx's master and workers), one a line.
process_tree() {
    echo "$1"
    cat /proc/"$1"/task/*/children 2>/dev/null | tr ' ' '\n' | grep -v '^$' || true
}

# syscalls_during OUT PID... -- CMD...: run CMD while `strace -c -f` counts the system
# calls of every thread of the PIDs (and of what they fork), and write their total
# to OUT. A short separate run: strace slows its targets many times over, so this
# counts calls, never times them. CMD's stdout passes through.
syscalls_during() {
    local out=$1 spid rc=0
    shift
    local -a pids=()
    while [ "$1" != -- ]; do pids+=("$1"); shift; done
    shift
    need_tools "apt-get install strace" strace
    strace -c -f -o "$out.strace" "${pids[@]/#/-p}" 2> "$out.attach" &
    spid=$!
    # Every process attached before the load starts: strace says so once for each
    # (with all its threads), and only after it has attached them.
    for _ in $(seq 200); do
        [ "$(grep -c attached "$out.attach" 2>/dev/null || true)" -ge "${#pids[@]}" ] && break
        kill -0 "$spid" 2>/dev/null || { cat "$out.attach" >&2; fail "strace could not attach to ${pids[*]}"; }
        sleep 0.05
    done
    "$@" || rc=$?
    kill -INT "$spid"
    wait "$spid" || true
    [ "$rc" -eq 0 ] || fail "under strace: $* failed (exit $rc)"
    awk '$NF == "total" { print $4 }' "$out.strace" > "$out"
    [ -s "$out" ] || { cat "$out.strace" "$out.attach" >&2; fail "no strace summary for ${pids[*]}"; }
}

# kv FIELD LINE: the value of FIELD=VALUE in a line of key=value fields.
kv() {
    local f
    for f in $2; do
        [ "${f%%=*}" = "$1" ] && { echo "${f#*=}"; return 0; }
    done
    fail "no $1= in: $2"
}
