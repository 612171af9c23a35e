#!/usr/bin/env bash
# mq.sh records testdata/amqp_rabbitmq.pcap and testdata/stomp_rabbitmq.pcap:
# testdata/gen/mq (its own Go module: amqp091-go, and a small STOMP client)
# producing and consuming through a real RabbitMQ (Debian rabbitmq-server,
# with its STOMP plugin).
#
#   sudo testdata/gen/mq.sh
#
# Topology: two network namespaces joined by one veth pair on
# 10.241.2.0/24, no default route, IPv6 off:
#
#   wmq1-broker  10.241.2.1  rabbitmq-server: AMQP :5672, STOMP :61613
#   wmq1-cli     10.241.2.2  mq -mode amqp, then mq -mode stomp
#
# Two tcpdumps on the client's eth0 (--immediate-mode, snaplen 0), filters
# "tcp port 5672" and "tcp port 61613", start before the clients.
# RabbitMQ takes 5-15 s to start; the script waits for it (rabbitmqctl
# await_startup, bounded by 120 s).
#
# Needs root, iproute2, tcpdump, rabbitmq-server, Go (builds
# testdata/gen/mq) and optionally python3 (TX checksum offload off).
# Env: MQ_OUT writes the captures elsewhere; GO, TCPDUMP override the
# tools. Everything it starts is killed by PID, and its namespaces and temp
# dir removed, on any exit.
set -euo pipefail

[[ $# -eq 0 ]] || { echo "usage: $0" >&2; exit 2; }
if [[ $(id -u) -ne 0 ]]; then
	echo "mq.sh: must run as root (network namespaces, tcpdump)" >&2
	exit 1
fi

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out="${MQ_OUT:-$repo/testdata}"
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
TCPDUMP=${TCPDUMP:-$(command -v tcpdump || echo /usr/sbin/tcpdump)}
RABBIT=/usr/lib/rabbitmq/bin
for bin in "$GO" "$TCPDUMP" "$RABBIT/rabbitmq-server" "$RABBIT/rabbitmqctl"; do
	[[ -x $bin ]] || { echo "mq.sh: $bin not found (apt-get install rabbitmq-server tcpdump)" >&2; exit 1; }
done
command -v ip >/dev/null || { echo "mq.sh: ip (iproute2) not found" >&2; exit 1; }

NET=10.241.2
BROKER=$NET.1 CLI=$NET.2
NS_B=wmq1-broker NS_C=wmq1-cli

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
	# The Erlang VM's epmd and helpers live in the broker's namespace:
	# kill what is left there by PID.
	for pid in $(ip netns pids "$NS_B" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
	for ns in "${created_ns[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	if [[ $rc -ne 0 && -n $tmp ]]; then
		echo "mq.sh: failed (exit $rc); logs:" >&2
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

tmp=$(mktemp -d /tmp/wmq1.XXXXXX)
chmod 755 "$tmp"

for ns in "$NS_B" "$NS_C"; do
	if ip netns list | grep -qw "^$ns"; then
		echo "mq.sh: namespace $ns already exists (left by a killed run?); remove it with: ip netns del $ns" >&2
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

# RabbitMQ, all state under $tmp; guest may log in from the other
# namespace (loopback_users = none).
mkdir -p "$tmp/rabbit"
cat >"$tmp/rabbit/rabbitmq.conf" <<EOF
listeners.tcp.default = 5672
stomp.listeners.tcp.1 = 61613
loopback_users = none
log.console = true
log.file = false
EOF
echo "[rabbitmq_stomp]." >"$tmp/rabbit/enabled_plugins"
rabbit_env=(env HOME="$tmp/rabbit" RABBITMQ_NODENAME=rabbit@localhost RABBITMQ_NODE_IP_ADDRESS=0.0.0.0
	RABBITMQ_CONFIG_FILE="$tmp/rabbit/rabbitmq.conf" RABBITMQ_ENABLED_PLUGINS_FILE="$tmp/rabbit/enabled_plugins"
	RABBITMQ_MNESIA_BASE="$tmp/rabbit/mnesia" RABBITMQ_LOG_BASE="$tmp/rabbit/log"
	RABBITMQ_PID_FILE="$tmp/rabbit/rabbit.pid")
nsx "$NS_B" "${rabbit_env[@]}" "$RABBIT/rabbitmq-server" </dev/null >"$tmp/rabbitmq.log" 2>&1 &
pids+=($!)
start=$SECONDS
nsx "$NS_B" "${rabbit_env[@]}" timeout 120 "$RABBIT/rabbitmqctl" --timeout 110 wait "$tmp/rabbit/rabbit.pid" >"$tmp/wait.log" 2>&1 || {
	echo "mq.sh: rabbitmq-server did not start within 120 s" >&2
	exit 1
}
echo "mq.sh: rabbitmq-server up after $((SECONDS - start)) s" >&2

nsx "$NS_C" "$TCPDUMP" -i eth0 -s 0 --immediate-mode -U -w "$tmp/amqp_rabbitmq.pcap" tcp port 5672 >"$tmp/tcpdump-amqp.log" 2>&1 &
pids+=($!)
nsx "$NS_C" "$TCPDUMP" -i eth0 -s 0 --immediate-mode -U -w "$tmp/stomp_rabbitmq.pcap" tcp port 61613 >"$tmp/tcpdump-stomp.log" 2>&1 &
pids+=($!)
sleep 1

nsx "$NS_C" "$tmp/mq" -mode amqp -addr "$BROKER:5672" >"$tmp/amqp.log" 2>&1
nsx "$NS_C" "$tmp/mq" -mode stomp -addr "$BROKER:61613" >"$tmp/stomp.log" 2>&1
sleep 0.5

stop "${pids[2]}" "${pids[1]}" # the tcpdumps: flush and close
pids=("${pids[0]}")
cp "$tmp/amqp_rabbitmq.pcap" "$tmp/stomp_rabbitmq.pcap" "$out/"
echo "mq.sh: wrote $out/amqp_rabbitmq.pcap $out/stomp_rabbitmq.pcap"
