#!/usr/bin/env bash
# demo.sh records wiretrace's bundled demo captures from real traffic.
#
#   sudo testdata/gen/demo.sh            -> testdata/demo.pcap
#   sudo testdata/gen/demo.sh --split    -> testdata/two_points_gateway.pcap
#                                           testdata/two_points_backend.pcap
#
# Topology: five network namespaces on one private /24 with no default route
# and IPv6 off (no ND/MLD noise). wtdemo-net holds bridge br0; each host
# namespace has an eth0 veth whose peer is a port of br0.
#
#   wtdemo-client    10.231.7.1   curl (or `backend -mode client`)
#   wtdemo-gateway   10.231.7.2   nginx :80, upstream keepalive, adds X-Request-ID
#   wtdemo-backend   10.231.7.3   backend -mode backend   :8080
#   wtdemo-inventory 10.231.7.4   backend -mode inventory :9090
#
# Default mode captures on br0 (sees every hop once, Ethernet link type).
# Both modes capture with snaplen 0 and the filter "tcp" (no ARP frames).
# --split runs two tcpdumps at once: on eth0 inside wtdemo-gateway and on
# eth0 inside wtdemo-backend, so the gateway->backend hop is in both files
# with the same TCP sequence numbers.
#
# Needs root, iproute2, nginx (Debian nginx-light), tcpdump, Go (to build
# testdata/gen/backend), python3 (to turn off veth TX checksum offload so
# the captured TCP checksums are valid; optional, warns without it) and curl
# (optional; falls back to the Go client).
# Env overrides: GO, NGINX, TCPDUMP, CURL (CURL= uses the Go client).
# Everything it starts is killed by PID, and its namespaces and temp dir are
# removed, on any exit.
set -euo pipefail

usage() { echo "usage: $0 [--split]" >&2; exit 2; }

split=0
case "${1:-}" in
"") ;;
--split) split=1 ;;
-h | --help) usage ;;
*) usage ;;
esac
[[ $# -le 1 ]] || usage

if [[ $(id -u) -ne 0 ]]; then
	echo "demo.sh: must run as root (network namespaces, tcpdump)" >&2
	exit 1
fi

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out="${WTDEMO_OUT:-$repo/testdata}" # WTDEMO_OUT: write the captures elsewhere (tests)

GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
TCPDUMP=${TCPDUMP:-$(command -v tcpdump || echo /usr/sbin/tcpdump)}
CURL=${CURL-$(command -v curl || true)} # CURL= forces the Go client
for bin in "$GO" "$NGINX" "$TCPDUMP"; do
	[[ -x $bin ]] || { echo "demo.sh: $bin not found" >&2; exit 1; }
done
command -v ip >/dev/null || { echo "demo.sh: ip (iproute2) not found" >&2; exit 1; }

NET=10.231.7
CLIENT=$NET.1 GATEWAY=$NET.2 BACKEND=$NET.3 INVENTORY=$NET.4
NS_NET=wtdemo-net
HOSTS=(client gateway backend inventory)

pids=()
created_ns=()
tmp=""

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	set +e
	# Reverse start order: tcpdumps (if still running) first, then servers.
	local i
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		kill -TERM "${pids[i]}" 2>/dev/null
	done
	for pid in "${pids[@]}"; do
		wait "$pid" 2>/dev/null
	done
	for ns in "${created_ns[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	if [[ $rc -ne 0 && -n $tmp ]]; then
		echo "demo.sh: failed (exit $rc); logs:" >&2
		for f in "$tmp"/*.log; do
			[[ -s $f ]] && { echo "== ${f##*/}" >&2; tail -n 20 "$f" >&2; }
		done
	fi
	[[ -n $tmp ]] && rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

tmp=$(mktemp -d /tmp/wtdemo.XXXXXX)
chmod 755 "$tmp" # nginx workers run as nobody

echo "demo.sh: building backend"
(cd "$repo" && CGO_ENABLED=0 "$GO" build -buildvcs=false -o "$tmp/backend" ./testdata/gen/backend)

# --- namespaces and bridge -------------------------------------------------
for ns in "$NS_NET" "${HOSTS[@]/#/wtdemo-}"; do
	if ip netns list | grep -qw "^$ns"; then
		echo "demo.sh: namespace $ns already exists (left by a killed run?); remove it with: ip netns del $ns" >&2
		exit 1
	fi
done

nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

mkns() {
	ip netns add "$1"
	created_ns+=("$1")
	nsx "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	nsx "$1" ip link set lo up
}

# txcsum_off NS IFACE turns off TX checksum offload (ethtool -K IFACE tx off,
# done with the SIOCETHTOOL ioctl since ethtool is often not installed), so the
# kernel fills in TCP checksums before tcpdump sees the frames. Without it a
# veth hands on CHECKSUM_PARTIAL packets and every TCP checksum in the
# capture is wrong.
PYTHON=$(command -v python3 || true)
txcsum_off() {
	if [[ -z $PYTHON ]]; then
		echo "demo.sh: warning: no python3; TCP checksums in the capture will be partial (offload)" >&2
		return 0
	fi
	nsx "$1" "$PYTHON" - "$2" <<'PY'
import ctypes, fcntl, socket, struct, sys
SIOCETHTOOL, ETHTOOL_STXCSUM = 0x8946, 0x17
value = ctypes.create_string_buffer(struct.pack("II", ETHTOOL_STXCSUM, 0))
ifreq = struct.pack("16sP", sys.argv[1].encode(), ctypes.addressof(value)).ljust(40, b"\0")
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
    fcntl.ioctl(s.fileno(), SIOCETHTOOL, ifreq)
PY
}

mkns "$NS_NET"
nsx "$NS_NET" ip link add br0 type bridge stp_state 0 forward_delay 0
nsx "$NS_NET" ip link set br0 up

addr=1
for h in "${HOSTS[@]}"; do
	ns=wtdemo-$h
	mkns "$ns"
	# Created in place so IPv6 never comes up on either end.
	ip link add eth0 netns "$ns" type veth peer name "v-$h" netns "$NS_NET"
	nsx "$NS_NET" ip link set "v-$h" master br0 up
	nsx "$ns" ip addr add "$NET.$addr/24" dev eth0
	txcsum_off "$ns" eth0
	nsx "$ns" ip link set eth0 up
	addr=$((addr + 1))
done

# --- servers -------------------------------------------------------------
start() { # start LOG NS CMD... : run CMD in NS in the background, remember its PID
	local log=$1 ns=$2
	shift 2
	ip netns exec "$ns" "$@" >"$tmp/$log" 2>&1 &
	pids+=($!)
}

start inventory.log wtdemo-inventory "$tmp/backend" -mode inventory -listen "$INVENTORY:9090"
start backend.log wtdemo-backend "$tmp/backend" -mode backend -listen "$BACKEND:8080" \
	-inventory "http://$INVENTORY:9090"

mkdir -p "$tmp/nginx"
cat >"$tmp/nginx.conf" <<NGINX
# Generated by testdata/gen/demo.sh
daemon off;
master_process on;
worker_processes 1;
user nobody nogroup;
pid $tmp/nginx.pid;
error_log $tmp/nginx-error.log info;

events { worker_connections 64; }

http {
    access_log $tmp/nginx-access.log;
    client_body_temp_path $tmp/nginx/body;
    proxy_temp_path       $tmp/nginx/proxy;
    fastcgi_temp_path     $tmp/nginx/fastcgi;
    uwsgi_temp_path       $tmp/nginx/uwsgi;
    scgi_temp_path        $tmp/nginx/scgi;
    server_tokens off;

    upstream backend {
        server $BACKEND:8080;
        keepalive 4;
    }

    server {
        listen $GATEWAY:80;
        server_name gateway;

        location /api/ {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$host;
            proxy_set_header X-Request-ID \$request_id;
            add_header X-Request-ID \$request_id always;
        }
    }
}
NGINX
start nginx.log wtdemo-gateway "$NGINX" -e "$tmp/nginx-error.log" -p "$tmp/nginx" -c "$tmp/nginx.conf"

# Wait for each listener with a bounded number of TCP connects (done before
# tcpdump starts, so the probes are not in the capture).
wait_port() { # NS HOST PORT
	local i
	for ((i = 0; i < 50; i++)); do
		if ip netns exec "$1" timeout 1 bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	echo "demo.sh: $2:$3 not ready after 5s" >&2
	return 1
}
wait_port wtdemo-backend "$INVENTORY" 9090
wait_port wtdemo-gateway "$BACKEND" 8080
wait_port wtdemo-client "$GATEWAY" 80

# --- capture ---------------------------------------------------------------
captures=() # pairs: ns:iface:file
if [[ $split -eq 0 ]]; then
	captures+=("$NS_NET:br0:demo.pcap")
else
	captures+=("wtdemo-gateway:eth0:two_points_gateway.pcap" "wtdemo-backend:eth0:two_points_backend.pcap")
fi

dump_pids=()
for c in "${captures[@]}"; do
	IFS=: read -r ns ifc file <<<"$c"
	# -U: write each packet as it arrives; snaplen 0 = whole frames.
	start "tcpdump-$file.log" "$ns" "$TCPDUMP" -i "$ifc" -s 0 -U --immediate-mode -n -w "$tmp/$file" tcp
	dump_pids+=("${pids[-1]}")
done
for c in "${captures[@]}"; do
	IFS=: read -r ns ifc file <<<"$c"
	for ((i = 0; i < 50; i++)); do
		grep -q "listening on" "$tmp/tcpdump-$file.log" 2>/dev/null && break
		sleep 0.1
	done
	grep -q "listening on" "$tmp/tcpdump-$file.log" || { echo "demo.sh: tcpdump on $ns/$ifc did not start" >&2; exit 1; }
done
sleep 0.3

# --- requests ----------------------------------------------------------------
# request METHOD PATH [DATA] [HEADER...]
request() {
	local method=$1 path=$2 data=${3:-}
	shift 3 || shift $#
	local url="http://$GATEWAY$path"
	if [[ -n $CURL ]]; then
		local args=(-sS --max-time 5 -o "$tmp/body" -w '%{http_code}' -X "$method" -A wtdemo-client/1)
		[[ -n $data ]] && args+=(-H 'Content-Type: application/json' --data-binary "$data")
		for h in "$@"; do args+=(-H "$h"); done
		local code
		code=$(ip netns exec wtdemo-client "$CURL" "${args[@]}" "$url")
		echo "  $method $path -> $code $(tr -d '\n' <"$tmp/body")"
	else
		local args=(-mode client -method "$method" -url "$url")
		[[ -n $data ]] && args+=(-data "$data" -header 'Content-Type: application/json')
		for h in "$@"; do args+=(-header "$h"); done
		echo -n "  "
		ip netns exec wtdemo-client timeout 10 "$tmp/backend" "${args[@]}"
	fi
}

echo "demo.sh: sending requests from $CLIENT to gateway $GATEWAY"
request GET /api/orders/42 "" \
	'Authorization: Bearer demo-secret-token' 'Cookie: session=demo-secret'
sleep 0.2
request POST /api/checkout '{"order_id":42,"item":"widget-7","qty":2}'
sleep 0.2
request GET /api/fail ""
sleep 0.5

# --- stop tcpdump, keep the files ----------------------------------------------
for pid in "${dump_pids[@]}"; do
	kill -INT "$pid"
done
for pid in "${dump_pids[@]}"; do
	wait "$pid" || true
done
# They are reaped: drop them so cleanup never signals a reused PID.
live=()
for pid in "${pids[@]}"; do
	[[ " ${dump_pids[*]} " == *" $pid "* ]] || live+=("$pid")
done
pids=("${live[@]}")
for c in "${captures[@]}"; do
	IFS=: read -r ns ifc file <<<"$c"
	sed -n 's/^/  tcpdump: /p' "$tmp/tcpdump-$file.log" | grep -E 'captured|dropped' || true
	install -m 0644 "$tmp/$file" "$out/$file"
	echo "demo.sh: wrote $out/$file ($(stat -c %s "$out/$file") bytes)"
done
