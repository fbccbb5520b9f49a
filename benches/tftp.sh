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
# as they do with it in production. Every transfer is compared byte for byte. Our server
# fsyncs an upload before its final ACK and tftpd-hpa does not, so uploads are also
# compared with "tftpd-hpa + sync FILE" (the last two columns).
#
#   benches/tftp.sh                       # builds --release first
#   SKIP_BUILD=1 SIZE_MIB=16 ROUNDS=1 benches/tftp.sh
#
# Needs: in.tftpd (tftpd-hpa), curl, tftp (tftp-hpa), atftp, python3. glibc's rep-movsb
# threshold is left as the environment sets it (see GLIBC_TUNABLES in shared/DESIGN.md
# §5); the script prints it.
set -euo pipefail

SIZE_MIB=${SIZE_MIB:-64}
BUSY_POLL_US=${BUSY_POLL_US:-50}
ROUNDS=${ROUNDS:-3}
PROFILE=${PROFILE:-release}
here=$(cd "$(dirname "$0")/.." && pwd)
bin=$here/target/$PROFILE

for tool in in.tftpd curl tftp atftp python3; do
    command -v "$tool" >/dev/null || { echo "benches/tftp.sh: needs $tool (apt-get install tftpd-hpa tftp-hpa atftp curl python3)" >&2; exit 2; }
done
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    (cd "$here" && cargo build --profile "$PROFILE" -p switchyard -p switchyard-tftp)
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/sy-tftp-bench.XXXXXX")
ours_pid=
hpa_pid=
cleanup() {
    [ -n "$ours_pid" ] && kill "$ours_pid" 2>/dev/null && wait "$ours_pid" 2>/dev/null
    # tftpd-hpa forks one child per transfer: end the children of the one we started.
    if [ -n "$hpa_pid" ]; then
        pkill -P "$hpa_pid" 2>/dev/null || true
        kill "$hpa_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

free_udp_port() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }

mkdir -p "$work/ours" "$work/hpa" "$work/out"
echo "== setup: ${SIZE_MIB} MiB random file, $ROUNDS rounds, profile $PROFILE, GLIBC_TUNABLES=${GLIBC_TUNABLES:-unset}"
head -c "$((SIZE_MIB * 1024 * 1024))" /dev/urandom > "$work/src.bin"
cp "$work/src.bin" "$work/ours/big.bin"
cp "$work/src.bin" "$work/hpa/big.bin"

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
"$bin/switchyard" serve --config "$work/topology.ron" --plugin-dir "$bin" --log-format json --log-level info \
    2> "$work/ours.log" &
ours_pid=$!
for _ in $(seq 100); do
    grep -q '"msg":"serving"' "$work/ours.log" 2>/dev/null && break
    sleep 0.05
done
listener_port() {
    python3 -c 'import json,sys
for l in open(sys.argv[1]):
    try: j = json.loads(l)
    except ValueError: continue
    if j.get("msg") == "listening" and j.get("listener") == sys.argv[2]: print(j["addr"].rsplit(":", 1)[1]); break' "$work/ours.log" "$1"
}
ours_port=$(listener_port tftp_udp)
spin_port=$(listener_port spin_udp)
[ -n "$ours_port" ] && [ -n "$spin_port" ] || { echo "our server did not start:" >&2; cat "$work/ours.log" >&2; exit 1; }

hpa_port=$(free_udp_port)
in.tftpd -L -a "127.0.0.1:$hpa_port" -s "$work/hpa" -c -p -u "$(id -un)" &
hpa_pid=$!
sleep 0.3
echo "== switchyard tftp on 127.0.0.1:$ours_port (busy_poll_us $BUSY_POLL_US on :$spin_port), tftpd-hpa on 127.0.0.1:$hpa_port"

# One timed client run: $1 = server (ours|spin|hpa), $2 = case command with PORT/OUT/UP/SRC,
# $3 = "sync" to include an fsync of the stored upload in the time (tftpd-hpa does not
# fsync; our server fsyncs every upload before its final ACK).
run_once() {
    local server=$1 cmd=$2 want_sync=${3:-} port out up t0 t1 stored=
    case $server in
        ours) port=$ours_port ;;
        spin) port=$spin_port ;;
        *) port=$hpa_port ;;
    esac
    out="$work/out/$server.bin"
    up="up-$server-$RANDOM.bin"
    cmd=${cmd//PORT/$port}
    cmd=${cmd//OUT/$out}
    cmd=${cmd//UP/$up}
    cmd=${cmd//SRC/$work/src.bin}
    rm -f "$out"
    t0=$(now)
    if ! eval "$cmd" > "$work/client.log" 2>&1; then
        echo "FAILED ($server): $cmd" >&2
        cat "$work/client.log" >&2
        echo "0"
        return
    fi
    if [[ "$cmd" == *" -T "* || "$cmd" == *" -p "* ]]; then
        stored="$work/${server/spin/ours}/$up"
        for _ in $(seq 50); do [ -e "$stored" ] && break; sleep 0.02; done
        [ "$want_sync" = sync ] && sync "$stored"
    fi
    t1=$(now)
    if [ -e "$out" ] && ! cmp -s "$out" "$work/src.bin"; then
        echo "CORRUPT download ($server): $cmd" >&2
        echo "0"
        return
    fi
    if [ -n "$stored" ]; then
        cmp -s "$stored" "$work/src.bin" || { echo "CORRUPT upload ($server): $cmd" >&2; echo 0; return; }
        rm -f "$stored"
    fi
    python3 -c "print(f'{$SIZE_MIB * 1048576 / ($t1 - $t0) / 1e6:.1f}')"
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
    "curl put blksize 65464|curl -s --tftp-blksize 65464 -T SRC tftp://127.0.0.1:PORT/UP"
    "atftp put 65464|atftp --option 'blksize 65464' -p -l SRC -r UP 127.0.0.1 PORT"
    "atftp put 1468 ws 8|atftp --option 'blksize 1468' --option 'windowsize 8' -p -l SRC -r UP 127.0.0.1 PORT"
)
# ONLY=regex limits the cases.
ratio() { python3 -c "print(f'{$1 / $2:.2f}' if $2 > 0 else 'n/a')"; }
printf '\n%-26s %9s %9s %9s %6s %6s %9s %6s %6s\n' "client, options" "ours" "spin" "hpa" "ratio" "spin" "hpa+sync" "ratio" "spin"
printf '%-26s %9s %9s %9s %6s %6s %9s %6s %6s\n' "" "MB/s" "MB/s" "MB/s" "" "ratio" "MB/s" "" "ratio"
for c in "${cases[@]}"; do
    name=${c%%|*}
    cmd=${c#*|}
    if [ -n "${ONLY:-}" ] && ! [[ "$name" =~ $ONLY ]]; then continue; fi
    put=0
    [[ "$name" == *put* ]] && put=1
    ours=()
    spin=()
    hpa=()
    hpa_sync=()
    for r in $(seq "$ROUNDS"); do
        if [ $((r % 2)) = 1 ]; then
            ours+=("$(run_once ours "$cmd")")
            spin+=("$(run_once spin "$cmd")")
            hpa+=("$(run_once hpa "$cmd")")
            [ $put = 1 ] && hpa_sync+=("$(run_once hpa "$cmd" sync)")
        else
            [ $put = 1 ] && hpa_sync+=("$(run_once hpa "$cmd" sync)")
            hpa+=("$(run_once hpa "$cmd")")
            spin+=("$(run_once spin "$cmd")")
            ours+=("$(run_once ours "$cmd")")
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
done
grep -c '"level":"warn"' "$work/ours.log" > "$work/warns" || true
echo
echo "our server's warnings during the run: $(cat "$work/warns") (retransmits show as warn lines)"
