#!/usr/bin/env bash
# redis_queue.sh records testdata/redis_queue.pcap: a producer and consumers
# handing messages over through one Redis server (streams, lists, pub/sub),
# with no id on the wire that ties them.
#
#   sudo testdata/gen/redis_queue.sh     -> testdata/redis_queue.pcap
#
# Topology: four network namespaces on the private 10.231.22.0/24, no
# default route, IPv6 off. wtrq-net holds bridge br0; each host namespace
# has an eth0 veth whose peer is a port of br0. tcpdump captures on br0
# (Ethernet link type, snaplen 0, filter "tcp port 6379").
#
#   wtrq-server    10.231.22.1   redis-server :6379 (Debian redis-server)
#   wtrq-producer  10.231.22.2   redis-cli: XADD, LPUSH, PUBLISH
#   wtrq-consumer  10.231.22.3   redis-cli: XREAD BLOCK (RESP2 and RESP3),
#                                BRPOP, SUBSCRIBE (RESP2 and RESP3)
#
# Every redis-cli call is its own TCP connection. The consumers start first
# and block; the script waits (polling the server over its loopback, which
# the capture does not see) until all five are blocked or subscribed, then
# the producer runs one command per connection.
#
# Needs root, iproute2, tcpdump, redis-server and redis-cli (Debian
# redis-server, which pulls in redis-tools), python3 (optional: turns off
# veth TX checksum offload so the captured TCP checksums are valid).
# Env: WTRQ_OUT writes the capture elsewhere. Everything it starts is killed
# by PID, and its namespaces and temp dir removed, on any exit.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
	echo "redis_queue.sh: must run as root (network namespaces, tcpdump)" >&2
	exit 1
fi
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out="${WTRQ_OUT:-$repo/testdata}"

REDIS_SERVER=${REDIS_SERVER:-$(command -v redis-server || echo /usr/bin/redis-server)}
REDIS_CLI=${REDIS_CLI:-$(command -v redis-cli || echo /usr/bin/redis-cli)}
TCPDUMP=${TCPDUMP:-$(command -v tcpdump || echo /usr/sbin/tcpdump)}
for bin in "$REDIS_SERVER" "$REDIS_CLI" "$TCPDUMP"; do
	[[ -x $bin ]] || { echo "redis_queue.sh: $bin not found" >&2; exit 1; }
done
command -v ip >/dev/null || { echo "redis_queue.sh: ip (iproute2) not found" >&2; exit 1; }

NET=10.231.22
SERVER=$NET.1
NS_NET=wtrq-net
HOSTS=(server producer consumer)

pids=()       # servers and tcpdump: killed at exit
consumers=()  # blocked redis-cli processes
created_ns=()
tmp=""

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	set +e
	local i
	for pid in "${consumers[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		kill -TERM "${pids[i]}" 2>/dev/null
	done
	for pid in "${consumers[@]}" "${pids[@]}"; do
		wait "$pid" 2>/dev/null
	done
	for ns in "${created_ns[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	if [[ $rc -ne 0 && -n $tmp ]]; then
		echo "redis_queue.sh: failed (exit $rc); logs:" >&2
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

tmp=$(mktemp -d /tmp/wtrq.XXXXXX)

for ns in "$NS_NET" "${HOSTS[@]/#/wtrq-}"; do
	if ip netns list | grep -qw "^$ns"; then
		echo "redis_queue.sh: namespace $ns already exists (left by a killed run?); remove it with: ip netns del $ns" >&2
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

# txcsum_off NS IFACE: ethtool -K IFACE tx off through SIOCETHTOOL (see
# demo.sh), so that the captured TCP checksums are complete.
PYTHON=$(command -v python3 || true)
txcsum_off() {
	if [[ -z $PYTHON ]]; then
		echo "redis_queue.sh: warning: no python3; TCP checksums in the capture will be partial (offload)" >&2
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
	ns=wtrq-$h
	mkns "$ns"
	ip link add eth0 netns "$ns" type veth peer name "v-$h" netns "$NS_NET"
	nsx "$NS_NET" ip link set "v-$h" master br0 up
	nsx "$ns" ip addr add "$NET.$addr/24" dev eth0
	txcsum_off "$ns" eth0
	nsx "$ns" ip link set eth0 up
	addr=$((addr + 1))
done

start() { # start LOG NS CMD...: run CMD in NS in the background, keep its PID
	local log=$1 ns=$2
	shift 2
	ip netns exec "$ns" "$@" >"$tmp/$log" 2>&1 &
	pids+=($!)
}

start redis.log wtrq-server "$REDIS_SERVER" --bind "$SERVER 127.0.0.1" --port 6379 --save "" --appendonly no \
	--protected-mode no --dir "$tmp" --daemonize no
# Wait for the server on its loopback (not captured); bounded.
local_cli() { nsx wtrq-server "$REDIS_CLI" -h 127.0.0.1 "$@"; }
for i in $(seq 50); do
	[[ $(local_cli PING 2>/dev/null) == PONG ]] && break
	[[ $i -eq 50 ]] && { echo "redis_queue.sh: redis-server did not start" >&2; exit 1; }
	sleep 0.1
done

start tcpdump.log wtrq-net "$TCPDUMP" -i br0 -s 0 -U -w "$tmp/redis_queue.pcap" tcp port 6379
sleep 1 # let tcpdump attach

cli() { # cli NS LOG ARGS...: one redis-cli connection to the server
	local ns=$1 log=$2
	shift 2
	nsx "$ns" "$REDIS_CLI" -h "$SERVER" "$@" >>"$tmp/$log" 2>&1
}
consume() { # consume LOG ARGS...: a consumer that blocks, in the background
	local log=$1
	shift
	cli wtrq-consumer "$log" "$@" &
	consumers+=($!)
}

consume xread2.log XREAD BLOCK 10000 STREAMS orders '$'
consume xread3.log -3 XREAD BLOCK 10000 STREAMS audit '$'
consume brpop.log BRPOP jobs 10
consume sub2.log SUBSCRIBE events
consume sub3.log -3 SUBSCRIBE events

# Wait until the three blocked clients and two subscribers are in place.
for i in $(seq 100); do
	info=$(local_cli INFO clients 2>/dev/null | tr -d '\r')
	subs=$(local_cli PUBSUB NUMSUB events 2>/dev/null | tail -n 1)
	if grep -q '^blocked_clients:3$' <<<"$info" && [[ $subs == 2 ]]; then
		break
	fi
	[[ $i -eq 100 ]] && { echo "redis_queue.sh: consumers did not block: $info subs=$subs" >&2; exit 1; }
	sleep 0.1
done

cli wtrq-producer producer.log XADD orders '*' item 42
cli wtrq-producer producer.log XADD audit '*' who producer
cli wtrq-producer producer.log LPUSH jobs job-1
cli wtrq-producer producer.log PUBLISH events hello-1

# The blocking consumers end on their reply; the subscribers never do.
for pid in "${consumers[@]:0:3}"; do
	wait "$pid"
done
sleep 0.5
kill -TERM "${consumers[3]}" "${consumers[4]}"
wait "${consumers[3]}" "${consumers[4]}" 2>/dev/null || true
consumers=()
sleep 0.5

kill -TERM "${pids[1]}" # tcpdump: flush and close
wait "${pids[1]}" || true
pids=("${pids[0]}")
cp "$tmp/redis_queue.pcap" "$out/redis_queue.pcap"
echo "redis_queue.sh: wrote $out/redis_queue.pcap"
for f in xread2 xread3 brpop sub2 sub3 producer; do
	echo "== $f"
	cat "$tmp/$f.log"
done
