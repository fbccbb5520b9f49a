#!/usr/bin/env bash
# benches/tftp.sh — our TFTP plugin against tftpd-hpa, side by side, in one run.
#
# Serves the same SIZE_MIB (default 64) MiB random file from two servers on loopback —
# `switchyard` with the tftp plugin, and tftpd-hpa (`in.tftpd -L`) — and moves it with
# the same client and options against each, ROUNDS times (default 3), alternating the
# servers round by round so that machine noise hits both alike. Prints the median MB/s
# of each and the ratio ours / tftpd-hpa (the goal is >= 1.2 on every download line).
# "ours" is a handler as configured by default; "spin" is the same plugin on a handler
# with busy_poll_us: $BUSY_POLL_US (default 50), which keeps its thread awake between a
# DATA and its ACK (docs/operations.md): CPU traded for lock-step latency.
# tftpd-hpa has no windowsize: the atftp windowsize lines fall back to lock-step there,
# as they do with it in production. So where windowsize is asked, a third server takes
# its turn in the same rounds: atftpd, the only packaged server with windowsize (its
# package conflicts with tftpd-hpa's: benches/run extracts it into a temporary
# directory, and ATFTPD=/path/to/atftpd names that binary; without it those rows say
# NOT MEASURED). Every transfer is verified by sha256 of what arrived
# against what was sent; a corrupt or failed transfer stops the script (exit 1, the
# reason on stderr), never a 0 in a median. Our server fsyncs an upload before its
# final ACK and tftpd-hpa does not, so uploads are also compared with "tftpd-hpa + sync
# FILE" (the last two columns). A second table gives the CPU seconds per GiB of each
# server (each in a cgroup of its own, which also counts tftpd-hpa's forked transfer
# processes; see benches/lib.sh) and of the client (wait4): what busy polling costs.
# The goals (issue 19): in the default topology (busy_poll_us 50, the "spin" column)
# >= 1.2x tftpd-hpa's MB/s on every download line with server CPU per GiB no more than
# tftpd-hpa's, and >= 1.2x atftpd's MB/s where windowsize is asked.
# With ROUNDS_TSV=FILE, every round's MB/s of each server is appended to FILE for
# benches/plot.py (benches/README.md, "Plots").
#
#   benches/tftp.sh                       # builds --release first
#   SKIP_BUILD=1 SIZE_MIB=16 ROUNDS=1 benches/tftp.sh
#
# Needs: in.tftpd (tftpd-hpa), curl, tftp (tftp-hpa), atftp, python3. glibc's rep-movsb
# threshold is left as the environment sets it (see glibc's memcpy threshold in
# benches/README.md); the script prints it.
set -euo pipefail

SIZE_MIB=${SIZE_MIB:-64}
BUSY_POLL_US=${BUSY_POLL_US:-50}
ROUNDS=${ROUNDS:-3}
PROFILE=${PROFILE:-release}
here=$(cd "$(dirname "$0")/.." && pwd)
bin=$here/target/$PROFILE
# shellcheck source=benches/lib.sh
source "$here/benches/lib.sh"

need_tools "apt-get install tftpd-hpa tftp-hpa atftp curl python3" in.tftpd curl tftp atftp python3 pgrep
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    (cd "$here" && cargo build --profile "$PROFILE" -p switchyard -p switchyard-tftp -p switchyard-tftp-client)
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/sy-tftp-bench.XXXXXX")
SERVER_PID=
hpa_pid=
atftpd_pid=
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    # tftpd-hpa forks one child per transfer: end the children of the one we started.
    if [ -n "$hpa_pid" ]; then
        pkill -P "$hpa_pid" 2>/dev/null || true
        kill "$hpa_pid" 2>/dev/null || true
        wait "$hpa_pid" 2>/dev/null || true
    fi
    if [ -n "$atftpd_pid" ]; then
        kill "$atftpd_pid" 2>/dev/null || true
        wait "$atftpd_pid" 2>/dev/null || true
    fi
    cpu_group_remove
    rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/ours" "$work/hpa" "$work/atftpd" "$work/out"
echo "== setup: ${SIZE_MIB} MiB random file, $ROUNDS rounds, profile $PROFILE, GLIBC_TUNABLES=${GLIBC_TUNABLES:-unset}"
head -c "$((SIZE_MIB * 1024 * 1024))" /dev/urandom > "$work/src.bin"
cp "$work/src.bin" "$work/ours/big.bin"
cp "$work/src.bin" "$work/hpa/big.bin"
cp "$work/src.bin" "$work/atftpd/big.bin"
src_sha=$(sha256_of "$work/src.bin")
verify "our server's copy" "$src_sha" "$work/ours/big.bin"
verify "tftpd-hpa's copy" "$src_sha" "$work/hpa/big.bin"

# Our server: uploads on, the largest blksize and a window of 64 allowed. Two handlers
# serve the same directory: `tftp` as configured by default, and `spin` with
# busy_poll_us (docs/operations.md), which trades CPU for lock-step latency.
cfg='allow_create: true, allow_overwrite: true, requests_per_sec: 1000, request_burst: 1000'
cat > "$work/topology.ron" <<RON
(
    listeners: {
        "tftp_udp": (kind: udp, bind: "127.0.0.1:0"),
        "spin_udp": (kind: udp, bind: "127.0.0.1:0"),
    },
    handlers: {
        "tftp": (plugin: "tftp", root: Some("$work/ours"), config: ($cfg)),
        "spin": (plugin: "tftp", root: Some("$work/ours"), busy_poll_us: $BUSY_POLL_US, config: ($cfg)),
    },
    routes: [ (from: "tftp_udp", to: "tftp"), (from: "spin_udp", to: "spin") ],
)
RON
start_switchyard "$work/ours.log" --config "$work/topology.ron" --plugin-dir "$bin" --log-level info
listener_port() { local a; a=$(listener_addr "$work/ours.log" "$1"); echo "${a##*:}"; }
ours_port=$(listener_port tftp_udp)
spin_port=$(listener_port spin_udp)
[ -n "$ours_port" ] && [ -n "$spin_port" ] || { cat "$work/ours.log" >&2; fail "our server logged no listening lines"; }

hpa_port=$(free_udp_port)
in.tftpd -L -a "127.0.0.1:$hpa_port" -s "$work/hpa" -c -p -u "$(id -un)" &
hpa_pid=$!
cpu_group_track "$hpa_pid"
# atftpd: one process, a thread per transfer (its CPU is the process's). It serves and
# stores in its own directory, as the user running the script.
ATFTPD=${ATFTPD:-$(command -v atftpd || true)}
atftpd_port=
if [ -n "$ATFTPD" ] && [ -x "$ATFTPD" ]; then
    atftpd_port=$(free_udp_port)
    chmod 0777 "$work/atftpd"
    "$ATFTPD" --daemon --no-fork --port "$atftpd_port" --bind-address 127.0.0.1 \
        --logfile /dev/null --user "$(id -un).$(id -gn)" "$work/atftpd" &
    atftpd_pid=$!
    cpu_group_track "$atftpd_pid"
    atftpd_note="atftpd ($ATFTPD) on 127.0.0.1:$atftpd_port"
else
    atftpd_note="atftpd: NOT MEASURED (set ATFTPD=/path/to/atftpd; benches/run extracts Debian's package)"
fi
sleep 0.3
[ -z "$atftpd_pid" ] || kill -0 "$atftpd_pid" 2>/dev/null || fail "atftpd did not start"
echo "== switchyard tftp on 127.0.0.1:$ours_port (busy_poll_us $BUSY_POLL_US on :$spin_port), tftpd-hpa on 127.0.0.1:$hpa_port"
echo "== $atftpd_note"

# One timed, verified client run: $1 = server (ours|spin|hpa|atftpd), $2 = case command with
# PORT/OUT/UP/SRC, $3 = "sync" to include an fsync of the stored upload in the time
# (tftpd-hpa does not fsync; our server fsyncs every upload before its final ACK).
# Sets RESULT (MB/s), CLIENT_CPU and SERVER_CPU (seconds); a failed or corrupt transfer
# fails the script.
run_once() {
    local server=$1 cmd=$2 want_sync=${3:-} port out up t0 t1 stored= spid c0 c1
    local -a argv
    case $server in
        ours) port=$ours_port; spid=$SERVER_PID ;;
        spin) port=$spin_port; spid=$SERVER_PID ;;
        atftpd) port=$atftpd_port; spid=$atftpd_pid ;;
        *) port=$hpa_port; spid=$hpa_pid ;;
    esac
    # tftpd-hpa forks a process per transfer: only its cgroup counts them.
    local forks=
    [ "$server" = hpa ] && forks=forks
    out="$work/out/$server.bin"
    up="up-$server-$RANDOM.bin"
    cmd=${cmd//PORT/$port}
    cmd=${cmd//OUT/$out}
    cmd=${cmd//UP/$up}
    cmd=${cmd//SRC/$work/src.bin}
    # The case's quoting ('blksize 1468') split as the shell would, without a shell
    # process of its own in the measurement.
    eval "argv=($cmd)"
    rm -f "$out"
    c0=$(server_cpu "$spid" "$forks")
    measured "$work/mc" "${argv[@]}" > "$work/client.log" 2>&1 ||
        fail "$server: $cmd failed: $(cat "$work/client.log")"
    t0=$(measured_field "$work/mc" 1)
    if [[ "$cmd" == *" -T "* || "$cmd" == *" -p "* ]]; then
        stored="$work/${server/spin/ours}/$up"
        [ "$server" = atftpd ] && stored="$work/atftpd/$up"
        for _ in $(seq 50); do [ -e "$stored" ] && break; sleep 0.02; done
        [ "$want_sync" = sync ] && sync "$stored"
        t1=$(now)
    else
        t1=$(measured_field "$work/mc" 2)
    fi
    # tftpd-hpa's transfer process may outlive the client by its final retransmit
    # wait: count its CPU once it has exited.
    for _ in $(seq 100); do pgrep -P "$spid" >/dev/null || break; sleep 0.02; done
    c1=$(server_cpu "$spid" "$forks")
    if [ -n "$stored" ]; then
        verify "upload to $server: $cmd" "$src_sha" "$stored"
        rm -f "$stored"
    else
        verify "download from $server: $cmd" "$src_sha" "$out"
    fi
    RESULT=$(awk -v mib="$SIZE_MIB" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", mib * 1048576 / (b - a) / 1e6 }')
    CLIENT_CPU=$(measured_field "$work/mc" 3)
    if [ "$c0" = n/a ]; then SERVER_CPU=n/a; else SERVER_CPU=$(sub "$c1" "$c0"); fi
}

# run_into SERVER ARRAY_PREFIX CMD [sync]: run_once, then append MB/s and both CPU
# figures to ARRAY_PREFIX, ARRAY_PREFIX_ccpu and ARRAY_PREFIX_scpu.
run_into() {
    local server=$1 name=$2 cmd=$3 want_sync=${4:-}
    run_once "$server" "$cmd" "$want_sync"
    local -n rate=$name ccpu=${name}_ccpu scpu=${name}_scpu
    rate+=("$RESULT")
    ccpu+=("$CLIENT_CPU")
    scpu+=("$SERVER_CPU")
}

median() { python3 -c 'import statistics,sys; print(f"{statistics.median(float(x) for x in sys.argv[1:]):.1f}")' "$@"; }

cases=(
    "curl get blksize 512|curl -s --tftp-blksize 512 -o OUT tftp://127.0.0.1:PORT/big.bin"
    "curl get blksize 1468|curl -s --tftp-blksize 1468 -o OUT tftp://127.0.0.1:PORT/big.bin"
    "curl get blksize 8192|curl -s --tftp-blksize 8192 -o OUT tftp://127.0.0.1:PORT/big.bin"
    "curl get blksize 65464|curl -s --tftp-blksize 65464 -o OUT tftp://127.0.0.1:PORT/big.bin"
    "tftp-hpa get 512|tftp 127.0.0.1 PORT -m binary -c get big.bin OUT"
    "atftp get 1468|atftp --option 'blksize 1468' -g -r big.bin -l OUT 127.0.0.1 PORT"
    "atftp get 65464|atftp --option 'blksize 65464' -g -r big.bin -l OUT 127.0.0.1 PORT"
    "atftp get 1468 ws 8|atftp --option 'blksize 1468' --option 'windowsize 8' -g -r big.bin -l OUT 127.0.0.1 PORT"
    "atftp get 8192 ws 8|atftp --option 'blksize 8192' --option 'windowsize 8' -g -r big.bin -l OUT 127.0.0.1 PORT"
    "atftp get 65464 window 4|atftp --option 'blksize 65464' --option 'windowsize 4' -g -r big.bin -l OUT 127.0.0.1 PORT"
    "atftp get 65464 window 16|atftp --option 'blksize 65464' --option 'windowsize 16' -g -r big.bin -l OUT 127.0.0.1 PORT"
    "ours get 65464|$bin/switchyard-tftp get 127.0.0.1:PORT big.bin OUT --quiet --blksize 65464"
    "ours get 65464 window 8|$bin/switchyard-tftp get 127.0.0.1:PORT big.bin OUT --quiet --blksize 65464 --windowsize 8"
    "curl put blksize 65464|curl -s --tftp-blksize 65464 -T SRC tftp://127.0.0.1:PORT/UP"
    "atftp put 65464|atftp --option 'blksize 65464' -p -l SRC -r UP 127.0.0.1 PORT"
    "atftp put 1468 ws 8|atftp --option 'blksize 1468' --option 'windowsize 8' -p -l SRC -r UP 127.0.0.1 PORT"
)
# "window" rows ask a window of 64 KiB blocks, more than a client's default socket
# buffer holds (issue 19): atftpd, like every server without window handling, does
# not finish them, so they run without it; tftpd-hpa serves them lock-step. The goal:
# each at least its lock-step row's speed ("atftp get 65464", "ours get 65464").
# ONLY=regex limits the cases.
ratio() { python3 -c "print(f'{$1 / $2:.2f}' if $2 > 0 else 'n/a')"; }
printf '\n%-26s %9s %9s %9s %6s %6s %9s %6s %6s\n' "client, options" "ours" "spin" "hpa" "ratio" "spin" "hpa+sync" "ratio" "spin"
printf '%-26s %9s %9s %9s %6s %6s %9s %6s %6s\n' "" "MB/s" "MB/s" "MB/s" "" "ratio" "MB/s" "" "ratio"
# CPU seconds per GiB moved: the median of a case's rounds, per server and client.
per_gib() { python3 -c 'import statistics,sys; v = sys.argv[2:]; print("-" if not v else "n/a" if "n/a" in v else f"{statistics.median(float(x) for x in v) / (float(sys.argv[1]) / 1024):.2f}")' "$SIZE_MIB" "$@"; }
cpu_rows=()
ws_rows=()
for c in "${cases[@]}"; do
    name=${c%%|*}
    cmd=${c#*|}
    if [ -n "${ONLY:-}" ] && ! [[ "$name" =~ $ONLY ]]; then continue; fi
    put=0
    [[ "$name" == *put* ]] && put=1
    # Where windowsize is asked, atftpd (which has it) takes its turn too.
    windowed=0
    [[ "$name" == *" ws "* ]] && [ -n "$atftpd_pid" ] && windowed=1
    for a in ours spin hpa hpa_sync atftpd; do
        declare -a "$a=()" "${a}_ccpu=()" "${a}_scpu=()"
    done
    for r in $(seq "$ROUNDS"); do
        if [ $((r % 2)) = 1 ]; then
            run_into ours ours "$cmd"
            run_into spin spin "$cmd"
            run_into hpa hpa "$cmd"
            [ $put = 1 ] && run_into hpa hpa_sync "$cmd" sync
            [ $windowed = 1 ] && run_into atftpd atftpd "$cmd"
        else
            [ $windowed = 1 ] && run_into atftpd atftpd "$cmd"
            [ $put = 1 ] && run_into hpa hpa_sync "$cmd" sync
            run_into hpa hpa "$cmd"
            run_into spin spin "$cmd"
            run_into ours ours "$cmd"
        fi
    done
    o=$(median "${ours[@]}")
    sp=$(median "${spin[@]}")
    h=$(median "${hpa[@]}")
    if [ $put = 1 ]; then
        hs=$(median "${hpa_sync[@]}")
        sratio=$(ratio "$o" "$hs")
        spsratio=$(ratio "$sp" "$hs")
    else
        hs=-
        sratio=-
        spsratio=-
    fi
    printf '%-26s %9s %9s %9s %6s %6s %9s %6s %6s\n' "$name" "$o" "$sp" "$h" "$(ratio "$o" "$h")" "$(ratio "$sp" "$h")" "$hs" "$sratio" "$spsratio"
    if [ $windowed = 1 ]; then
        at=$(median "${atftpd[@]}")
        ws_rows+=("$(printf 'ws %-26s %9s %9s %9s %6s %6s' "$name" "$o" "$sp" "$at" "$(ratio "$o" "$at")" "$(ratio "$sp" "$at")")")
    elif [[ "$name" == *" ws "* ]]; then
        ws_rows+=("$(printf 'ws %-26s %9s %9s %9s %6s %6s' "$name" "$o" "$sp" - - -)")
    fi
    # Every round's MB/s for benches/plot.py (ROUNDS_TSV: benches/README.md, "Plots").
    if [ -n "${ROUNDS_TSV:-}" ]; then
        for series in "ours:ours:switchyard" "spin:ours:switchyard, busy_poll_us $BUSY_POLL_US" \
            "hpa:baseline:tftpd-hpa" "hpa_sync:baseline:tftpd-hpa + sync" "atftpd:baseline:atftpd"; do
            IFS=: read -r a role label <<< "$series"
            declare -n rates=$a
            for i in "${!rates[@]}"; do
                printf '%s\t%s\t%s\t%s\t%s\tMB/s\n' "$name" "$label" "$role" "$((i + 1))" "${rates[$i]}"
            done >> "$ROUNDS_TSV"
            unset -n rates
        done
    fi
    cpu_rows+=("$(printf 'cpu %-26s %7s %7s %7s %7s %7s %7s %7s %7s' "$name" \
        "$(per_gib "${ours_scpu[@]}")" "$(per_gib "${spin_scpu[@]}")" "$(per_gib "${hpa_scpu[@]}")" \
        "$(per_gib "${atftpd_scpu[@]}")" \
        "$(per_gib "${ours_ccpu[@]}")" "$(per_gib "${spin_ccpu[@]}")" "$(per_gib "${hpa_ccpu[@]}")" \
        "$(per_gib "${atftpd_ccpu[@]}")")")
done
if [ ${#ws_rows[@]} -gt 0 ]; then
    echo
    echo "Where windowsize is asked: the same rounds against atftpd (tftpd-hpa has no windowsize; $atftpd_note)"
    printf 'ws %-26s %9s %9s %9s %6s %6s\n' "client, options" "ours" "spin" "atftpd" "ratio" "spin"
    printf 'ws %-26s %9s %9s %9s %6s %6s\n' "" "MB/s" "MB/s" "MB/s" "" "ratio"
    printf '%s\n' "${ws_rows[@]}"
fi
echo
echo "CPU seconds per GiB moved (median of $ROUNDS; server: ours, spin = busy_poll_us $BUSY_POLL_US, tftpd-hpa, atftpd; then the client against each; - = not run)"
printf 'cpu %-26s %7s %7s %7s %7s %7s %7s %7s %7s\n' "client, options" "ours" "spin" "hpa" "atftpd" "client" "client" "client" "client"
printf 'cpu %-26s %7s %7s %7s %7s %7s %7s %7s %7s\n' "" "server" "server" "server" "server" "ours" "spin" "hpa" "atftpd"
printf '%s\n' "${cpu_rows[@]}"
grep -c '"level":"warn"' "$work/ours.log" > "$work/warns" || true
echo
echo "our server's warnings during the run: $(cat "$work/warns") (retransmits show as warn lines)"
