#!/usr/bin/env bash
# vxlan.sh records HTTP through a real Linux VXLAN tunnel, captured at once
# on the tunnel device and on the underlay link:
#
#   sudo testdata/gen/vxlan.sh   -> testdata/vxlan_inner.pcap
#                                   testdata/vxlan_underlay.pcap
#
# Topology: two namespaces joined by one veth pair (the underlay), each with
# a VXLAN device (VNI 42, UDP 4789) whose remote is the other's underlay
# address. No default route, IPv6 off.
#
#   wtvx-client  underlay eth0   10.231.27.1   overlay vxlan42 10.231.28.1   curl
#   wtvx-server  underlay eth0   10.231.27.2   overlay vxlan42 10.231.28.2   python3 http.server :8080
#
# Two tcpdumps run in wtvx-client: on vxlan42 (filter "tcp": the inner
# frames, Ethernet) and on eth0 (filter "udp port 4789": the same frames
# VXLAN-encapsulated), so each exchange is in both files with the same
# inner TCP sequence numbers.
#
# Needs root, iproute2, tcpdump, python3 (the server, and turning off TX
# checksum offload) and curl. Env overrides: TCPDUMP, CURL, PYTHON. Every
# process it starts is killed by PID and its namespaces and temp dir are
# removed on any exit.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
	echo "vxlan.sh: must run as root (network namespaces, tcpdump)" >&2
	exit 1
fi

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out="${WTVX_OUT:-$repo/testdata}" # WTVX_OUT: write the captures elsewhere

TCPDUMP=${TCPDUMP:-$(command -v tcpdump || echo /usr/sbin/tcpdump)}
CURL=${CURL:-$(command -v curl || true)}
PYTHON=${PYTHON:-$(command -v python3 || true)}
for bin in "$TCPDUMP" "$CURL" "$PYTHON"; do
	[[ -n $bin && -x $bin ]] || { echo "vxlan.sh: missing one of tcpdump, curl, python3" >&2; exit 1; }
done
command -v ip >/dev/null || { echo "vxlan.sh: ip (iproute2) not found" >&2; exit 1; }

UNDER=10.231.27 OVER=10.231.28 VNI=42 PORT=8080
NSS=(wtvx-client wtvx-server)

pids=()
created_ns=()
tmp=""

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	set +e
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
		echo "vxlan.sh: failed (exit $rc); logs:" >&2
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

for ns in "${NSS[@]}"; do
	if ip netns list | grep -qw "^$ns"; then
		echo "vxlan.sh: namespace $ns already exists (left by a killed run?); remove it with: ip netns del $ns" >&2
		exit 1
	fi
done
tmp=$(mktemp -d /tmp/wtvx.XXXXXX)

nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

mkns() {
	ip netns add "$1"
	created_ns+=("$1")
	nsx "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	nsx "$1" ip link set lo up
}

# txcsum_off NS IFACE turns off TX checksum offload (ethtool -K IFACE tx
# off, through the SIOCETHTOOL ioctl), so captured checksums are complete.
txcsum_off() {
	nsx "$1" "$PYTHON" - "$2" <<'PY'
import ctypes, fcntl, socket, struct, sys
SIOCETHTOOL, ETHTOOL_STXCSUM = 0x8946, 0x17
value = ctypes.create_string_buffer(struct.pack("II", ETHTOOL_STXCSUM, 0))
ifreq = struct.pack("16sP", sys.argv[1].encode(), ctypes.addressof(value)).ljust(40, b"\0")
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
    fcntl.ioctl(s.fileno(), SIOCETHTOOL, ifreq)
PY
}

mkns wtvx-client
mkns wtvx-server
ip link add eth0 netns wtvx-client type veth peer name eth0 netns wtvx-server
n=1
for ns in "${NSS[@]}"; do
	nsx "$ns" ip addr add "$UNDER.$n/24" dev eth0
	txcsum_off "$ns" eth0
	nsx "$ns" ip link set eth0 up
	peer=$((3 - n))
	nsx "$ns" ip link add vxlan$VNI type vxlan id $VNI local "$UNDER.$n" remote "$UNDER.$peer" dstport 4789 dev eth0
	# Fixed MACs make the inner frames the same on every run.
	nsx "$ns" ip link set vxlan$VNI address "02:00:00:00:28:0$n"
	nsx "$ns" ip addr add "$OVER.$n/24" dev vxlan$VNI
	txcsum_off "$ns" vxlan$VNI
	nsx "$ns" ip link set vxlan$VNI up
	n=$((n + 1))
done

start() { # start LOG NS CMD...
	local log=$1 ns=$2
	shift 2
	ip netns exec "$ns" "$@" >"$tmp/$log.log" 2>&1 &
	pids+=($!)
}

mkdir "$tmp/www"
printf 'hello through vxlan\n' >"$tmp/www/hello.txt"
printf '{"vni":42,"items":["a","b"]}\n' >"$tmp/www/data.json"
start server wtvx-server "$PYTHON" -m http.server "$PORT" --bind "$OVER.2" --directory "$tmp/www"
for _ in $(seq 50); do
	nsx wtvx-client "$CURL" -s -o /dev/null --max-time 1 "http://$OVER.2:$PORT/hello.txt" && break
	sleep 0.1
done

start tcpdump-inner wtvx-client "$TCPDUMP" -i vxlan$VNI -s 0 -U -w "$tmp/inner.pcap" tcp
tcpdump_inner=$!
start tcpdump-underlay wtvx-client "$TCPDUMP" -i eth0 -s 0 -U -w "$tmp/underlay.pcap" udp port 4789
tcpdump_underlay=$!
for f in tcpdump-inner tcpdump-underlay; do
	for _ in $(seq 50); do
		grep -q "listening on" "$tmp/$f.log" && break
		sleep 0.1
	done
done

# Three requests, one connection each, 0.2 s apart.
for path in /hello.txt /data.json /missing; do
	nsx wtvx-client "$CURL" -s -o /dev/null --max-time 5 -H "X-Request-ID: vxlan-demo${path//\//-}" "http://$OVER.2:$PORT$path" || true
	sleep 0.2
done
sleep 0.5

# Stop the tcpdumps so they flush, then keep the files. They are reaped:
# drop them from pids so cleanup never signals a reused PID.
kill -TERM "$tcpdump_inner" "$tcpdump_underlay"
wait "$tcpdump_inner" "$tcpdump_underlay" 2>/dev/null || true
keep=()
for pid in "${pids[@]}"; do
	[[ $pid == "$tcpdump_inner" || $pid == "$tcpdump_underlay" ]] || keep+=("$pid")
done
pids=("${keep[@]}")
cp "$tmp/inner.pcap" "$out/vxlan_inner.pcap"
cp "$tmp/underlay.pcap" "$out/vxlan_underlay.pcap"
echo "vxlan.sh: wrote $out/vxlan_inner.pcap and $out/vxlan_underlay.pcap"
