#!/usr/bin/env bash
# activemq.sh records testdata/openwire_activemq.pcap and
# testdata/stomp_activemq.pcap: a real ActiveMQ 5.17 (Debian activemq)
# with ActiveMQ's own OpenWire command-line producer and consumer
# (activemq.jar producer/consumer, which is all the Debian package ships as
# clients) and testdata/gen/mq's STOMP client.
#
#   sudo testdata/gen/activemq.sh
#
# Topology: two network namespaces joined by one veth pair on
# 10.241.2.0/24, no default route, IPv6 off:
#
#   wmq1-amqb  10.241.2.5  ActiveMQ: OpenWire :61616, STOMP :61613
#   wmq1-amqc  10.241.2.6  the clients
#
# What the clients do, in order (OpenWire with ActiveMQ's default wire
# format, tight encoding and the object cache, unless said otherwise):
#   1. OpenWire producer: 2 text messages to queue://orders
#   2. OpenWire consumer: takes them
#   3. OpenWire producer: 2 text messages to queue://ow-out
#   4. STOMP (mq -mode stomp-activemq): SEND to /queue/stomp-in with
#      correlation-id, traceparent and x-request-id; SUBSCRIBE to
#      /queue/ow-out and take step 3's messages
#   5. OpenWire consumer: takes step 4's message from queue://stomp-in
#   6. OpenWire producer and consumer with the loose encoding
#      (wireFormat.tightEncodingEnabled=false): 1 message via queue://loose
#      (tshark decodes the loose encoding; it does not decode the tight one)
# Two tcpdumps on the clients' eth0 ("tcp port 61616", "tcp port 61613").
# ActiveMQ starts in a few seconds; the script waits for its ports
# (bounded by 120 s), each JVM client is bounded by 60 s.
#
# Needs root, iproute2, tcpdump, activemq (and its Java), Go (builds
# testdata/gen/mq) and optionally python3 (TX checksum offload off).
# Env: AMQ_OUT writes the captures elsewhere; GO, TCPDUMP, JAVA override
# the tools. Everything it starts is killed by PID, and its namespaces and
# temp dir removed, on any exit.
set -euo pipefail

[[ $# -eq 0 ]] || { echo "usage: $0" >&2; exit 2; }
if [[ $(id -u) -ne 0 ]]; then
	echo "activemq.sh: must run as root (network namespaces, tcpdump)" >&2
	exit 1
fi

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out="${AMQ_OUT:-$repo/testdata}"
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
TCPDUMP=${TCPDUMP:-$(command -v tcpdump || echo /usr/sbin/tcpdump)}
JAVA=${JAVA:-$(command -v java || echo /usr/bin/java)}
AMQ_JAR=/usr/share/activemq/bin/activemq.jar
for bin in "$GO" "$TCPDUMP" "$JAVA"; do
	[[ -x $bin ]] || { echo "activemq.sh: $bin not found" >&2; exit 1; }
done
[[ -f $AMQ_JAR ]] || { echo "activemq.sh: $AMQ_JAR not found (apt-get install activemq)" >&2; exit 1; }
command -v ip >/dev/null || { echo "activemq.sh: ip (iproute2) not found" >&2; exit 1; }

NET=10.241.2
BROKER=$NET.5 CLI=$NET.6
NS_B=wmq1-amqb NS_C=wmq1-amqc

pids=()
created_ns=()
tmp=""

# stop PID...: SIGTERM, then up to 10 s for each to exit, then SIGKILL.
stop() {
	local pid i
	for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "$@"; do
		for ((i = 0; i < 100; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	set +e
	local rev=() i
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do rev+=("${pids[i]}"); done
	((${#rev[@]})) && stop "${rev[@]}"
	# Anything the broker left in its namespace (a JVM child):
	# kill what is left there by PID.
	for pid in $(ip netns pids "$NS_B" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
	for ns in "${created_ns[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	if [[ $rc -ne 0 && -n $tmp ]]; then
		echo "activemq.sh: failed (exit $rc); logs:" >&2
		for f in "$tmp"/*.log; do
			[[ -s $f ]] && { echo "== ${f##*/}" >&2; tail -n 30 "$f" >&2; }
		done
	fi
	[[ -n $tmp ]] && rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

tmp=$(mktemp -d /tmp/wmq1a.XXXXXX)
chmod 755 "$tmp"

for ns in "$NS_B" "$NS_C"; do
	if ip netns list | grep -qw "^$ns"; then
		echo "activemq.sh: namespace $ns already exists (left by a killed run?); remove it with: ip netns del $ns" >&2
		exit 1
	fi
done

nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

PYTHON=$(command -v python3 || true)
txcsum_off() {
	[[ -n $PYTHON ]] || return 0
	nsx "$1" "$PYTHON" - "$2" <<'PY'
import ctypes, fcntl, socket, struct, sys
SIOCETHTOOL, ETHTOOL_STXCSUM = 0x8946, 0x17
value = ctypes.create_string_buffer(struct.pack("II", ETHTOOL_STXCSUM, 0))
ifreq = struct.pack("16sP", sys.argv[1].encode(), ctypes.addressof(value)).ljust(40, b"\0")
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
    fcntl.ioctl(s.fileno(), SIOCETHTOOL, ifreq)
PY
}

for ns in "$NS_B" "$NS_C"; do
	ip netns add "$ns"
	created_ns+=("$ns")
	nsx "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	nsx "$ns" ip link set lo up
done
ip link add eth0 netns "$NS_B" type veth peer name eth0 netns "$NS_C"
nsx "$NS_B" ip addr add "$BROKER/24" dev eth0
nsx "$NS_C" ip addr add "$CLI/24" dev eth0
txcsum_off "$NS_B" eth0
txcsum_off "$NS_C" eth0
nsx "$NS_B" ip link set eth0 up
nsx "$NS_C" ip link set eth0 up

(cd "$repo/testdata/gen/mq" && "$GO" build -o "$tmp/mq" .)

mkdir -p "$tmp/amq/conf" "$tmp/amq/data"
cat >"$tmp/amq/conf/activemq.xml" <<'EOF2'
<beans xmlns="http://www.springframework.org/schema/beans"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xsi:schemaLocation="http://www.springframework.org/schema/beans http://www.springframework.org/schema/beans/spring-beans-2.0.xsd
  http://activemq.apache.org/schema/core http://activemq.apache.org/schema/core/activemq-core.xsd">
  <broker xmlns="http://activemq.apache.org/schema/core" useJmx="false" persistent="false"
          brokerName="wiretrace" dataDirectory="${activemq.base}/data">
    <transportConnectors>
      <transportConnector name="openwire" uri="tcp://0.0.0.0:61616"/>
      <transportConnector name="stomp" uri="stomp://0.0.0.0:61613"/>
    </transportConnectors>
  </broker>
</beans>
EOF2
jvm=("$JAVA" -Xms32m -Xmx256m -Djava.io.tmpdir="$tmp" -Dactivemq.home=/usr/share/activemq
	-Dactivemq.base="$tmp/amq" -Dactivemq.conf="$tmp/amq/conf" -Dactivemq.data="$tmp/amq/data")
nsx "$NS_B" "${jvm[@]}" -jar "$AMQ_JAR" start "xbean:file:$tmp/amq/conf/activemq.xml" </dev/null >"$tmp/activemq.log" 2>&1 &
pids+=($!)
start=$SECONDS
up=""
for ((i = 0; i < 240; i++)); do
	if nsx "$NS_B" bash -c 'exec 3<>/dev/tcp/127.0.0.1/61616 && exec 4<>/dev/tcp/127.0.0.1/61613' 2>/dev/null; then
		up=1
		break
	fi
	kill -0 "${pids[0]}" 2>/dev/null || break
	sleep 0.5
done
[[ -n $up ]] || { echo "activemq.sh: ActiveMQ did not open its ports within 120 s" >&2; exit 1; }
echo "activemq.sh: ActiveMQ up after $((SECONDS - start)) s" >&2

nsx "$NS_C" "$TCPDUMP" -i eth0 -s 0 --immediate-mode -U -w "$tmp/openwire_activemq.pcap" tcp port 61616 >"$tmp/tcpdump-ow.log" 2>&1 &
pids+=($!)
nsx "$NS_C" "$TCPDUMP" -i eth0 -s 0 --immediate-mode -U -w "$tmp/stomp_activemq.pcap" tcp port 61613 >"$tmp/tcpdump-stomp.log" 2>&1 &
pids+=($!)
sleep 1

tool() { # tool LOG ARGS...: activemq.jar producer/consumer in the client namespace, bounded
	local log=$1
	shift
	nsx "$NS_C" timeout 60 "${jvm[@]}" -jar "$AMQ_JAR" "$@" </dev/null >>"$tmp/$log" 2>&1
}
url="tcp://$BROKER:61616"
tool producer.log producer --brokerUrl "$url" --destination queue://orders --messageCount 2 --message order
tool consumer.log consumer --brokerUrl "$url" --destination queue://orders --messageCount 2
tool producer.log producer --brokerUrl "$url" --destination queue://ow-out --messageCount 2 --message to-stomp
nsx "$NS_C" "$tmp/mq" -mode stomp-activemq -addr "$BROKER:61613" >"$tmp/stomp.log" 2>&1
tool consumer.log consumer --brokerUrl "$url" --destination queue://stomp-in --messageCount 1
loose="$url?wireFormat.tightEncodingEnabled=false"
tool producer.log producer --brokerUrl "$loose" --destination queue://loose --messageCount 1 --message loose
tool consumer.log consumer --brokerUrl "$loose" --destination queue://loose --messageCount 1
grep -q "Consumed: 2 messages\|Consumed: 1 messages" "$tmp/consumer.log" || true
sleep 0.5

stop "${pids[2]}" "${pids[1]}" # the tcpdumps: flush and close
pids=("${pids[0]}")
cp "$tmp/openwire_activemq.pcap" "$tmp/stomp_activemq.pcap" "$out/"
echo "activemq.sh: wrote $out/openwire_activemq.pcap $out/stomp_activemq.pcap"
