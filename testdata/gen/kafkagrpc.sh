#!/usr/bin/env bash
# kafkagrpc.sh records testdata/kafka_headers.pcap and
# testdata/grpc_traceparent.pcap with testdata/gen/kafkagrpc (its own Go
# module): a pure-Go Kafka broker (franz-go kfake) with a franz-go producer
# and consumer whose records carry traceparent and x-request-id headers, and
# a gRPC server and client whose calls carry them as metadata.
#
#   sudo testdata/gen/kafkagrpc.sh
#
# Topology: two network namespaces joined by one veth pair on 10.231.31.0/24,
# no default route, IPv6 off:
#
#   wtkg-srv  10.231.31.2  kafkagrpc -mode servers (Kafka :9092, gRPC :50051)
#   wtkg-cli  10.231.31.1  kafkagrpc -mode kafka, then -mode grpc
#
# Two tcpdumps on the client's eth0 (--immediate-mode, snaplen 0), one with
# filter "tcp port 9092", one with "tcp port 50051", start before the
# clients, so each capture holds its connections from the SYN.
#
# Needs root, iproute2, tcpdump, Go (builds testdata/gen/kafkagrpc, whose
# dependencies come from the Go module proxy or the module cache) and
# optionally python3 (TX checksum offload off, so TCP checksums are valid).
# Env overrides: GO, TCPDUMP; WTKG_OUT writes the captures elsewhere.
# Everything it starts is killed by PID, and its namespaces and temp dir are
# removed, on any exit.
set -euo pipefail

[[ $# -eq 0 ]] || { echo "usage: $0" >&2; exit 2; }
if [[ $(id -u) -ne 0 ]]; then
	echo "kafkagrpc.sh: must run as root (network namespaces, tcpdump)" >&2
	exit 1
fi

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out="${WTKG_OUT:-$repo/testdata}"
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
TCPDUMP=${TCPDUMP:-$(command -v tcpdump || echo /usr/sbin/tcpdump)}
for bin in "$GO" "$TCPDUMP"; do
	[[ -x $bin ]] || { echo "kafkagrpc.sh: $bin not found" >&2; exit 1; }
done
command -v ip >/dev/null || { echo "kafkagrpc.sh: ip (iproute2) not found" >&2; exit 1; }

NET=10.231.31
CLI=$NET.1 SRV=$NET.2
NS_CLI=wtkg-cli NS_SRV=wtkg-srv

pids=()
created_ns=()
tmp=""

# stop PID...: SIGTERM, then up to 5 s for each to exit, then SIGKILL.
stop() {
	local pid i
	for pid in "$@"; do kill -TERM "$pid" 2>/dev/null; done
	for pid in "$@"; do
		for ((i = 0; i < 50; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	set +e
	local rev=() i
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do rev+=("${pids[i]}"); done
	((${#rev[@]})) && stop "${rev[@]}"
	for ns in "${created_ns[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	if [[ $rc -ne 0 && -n $tmp ]]; then
		echo "kafkagrpc.sh: failed (exit $rc); logs:" >&2
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

tmp=$(mktemp -d /tmp/wtkg.XXXXXX)

echo "kafkagrpc.sh: building kafkagrpc"
(cd "$repo/testdata/gen/kafkagrpc" && CGO_ENABLED=0 "$GO" build -buildvcs=false -o "$tmp/kafkagrpc" .)

for ns in "$NS_CLI" "$NS_SRV"; do
	if ip netns list | grep -qw "^$ns"; then
		echo "kafkagrpc.sh: namespace $ns already exists (left by a killed run?); remove it with: ip netns del $ns" >&2
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

# txcsum_off NS IFACE turns off TX checksum offload (see demo.sh), so the
# TCP checksums in the capture are valid.
PYTHON=$(command -v python3 || true)
txcsum_off() {
	if [[ -z $PYTHON ]]; then
		echo "kafkagrpc.sh: warning: no python3; TCP checksums in the capture will be partial (offload)" >&2
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

mkns "$NS_CLI"
mkns "$NS_SRV"
ip link add eth0 netns "$NS_CLI" type veth peer name eth0 netns "$NS_SRV"
nsx "$NS_CLI" ip addr add "$CLI/24" dev eth0
nsx "$NS_SRV" ip addr add "$SRV/24" dev eth0
txcsum_off "$NS_CLI" eth0
txcsum_off "$NS_SRV" eth0
nsx "$NS_CLI" ip link set eth0 up
nsx "$NS_SRV" ip link set eth0 up

start() { # start LOG NS CMD... : run CMD in NS in the background, remember its PID
	local log=$1 ns=$2
	shift 2
	ip netns exec "$ns" "$@" >"$tmp/$log" 2>&1 &
	pids+=($!)
}

# --- servers -------------------------------------------------------------------
start servers.log "$NS_SRV" "$tmp/kafkagrpc" -mode servers -kafka "$SRV:9092" -grpc "$SRV:50051"
for ((i = 0; i < 100; i++)); do
	grep -q "^ready" "$tmp/servers.log" && break
	kill -0 "${pids[-1]}" 2>/dev/null || break
	sleep 0.1
done
grep -q "^ready" "$tmp/servers.log" || { echo "kafkagrpc.sh: servers did not start" >&2; exit 1; }

# --- capture ---------------------------------------------------------------------
# -U and --immediate-mode: each packet is written as it arrives (see
# scenario.sh); snaplen 0 = whole frames.
start tcpdump-kafka.log "$NS_CLI" "$TCPDUMP" -i eth0 -s 0 -U --immediate-mode -n -w "$tmp/kafka_headers.pcap" tcp port 9092
dump_pids=("${pids[-1]}")
start tcpdump-grpc.log "$NS_CLI" "$TCPDUMP" -i eth0 -s 0 -U --immediate-mode -n -w "$tmp/grpc_traceparent.pcap" tcp port 50051
dump_pids+=("${pids[-1]}")
for ((i = 0; i < 100; i++)); do
	n=$(($(ip netns exec "$NS_CLI" cat /proc/net/packet | wc -l) - 1))
	grep -q "listening on" "$tmp/tcpdump-kafka.log" && grep -q "listening on" "$tmp/tcpdump-grpc.log" && ((n >= 2)) && break
	sleep 0.1
done
((n >= 2)) || { echo "kafkagrpc.sh: tcpdump did not start" >&2; exit 1; }
sleep 0.5

# --- clients ---------------------------------------------------------------------
echo "kafkagrpc.sh: Kafka producer and consumer ($CLI → $SRV:9092)"
nsx "$NS_CLI" timeout 60 "$tmp/kafkagrpc" -mode kafka -kafka "$SRV:9092" | sed 's/^/  /'
sleep 0.3
echo "kafkagrpc.sh: gRPC calls ($CLI → $SRV:50051)"
nsx "$NS_CLI" timeout 60 "$tmp/kafkagrpc" -mode grpc -grpc "$SRV:50051" | sed 's/^/  /'
sleep 0.5

# --- stop the capturers, keep the files --------------------------------------------
for pid in "${dump_pids[@]}"; do
	kill -INT "$pid"
done
for pid in "${dump_pids[@]}"; do
	wait "$pid" || { echo "kafkagrpc.sh: tcpdump failed; see its log" >&2; exit 1; }
done
mkdir -p "$out"
for f in kafka_headers.pcap grpc_traceparent.pcap; do
	cp "$tmp/$f" "$out/$f"
	echo "kafkagrpc.sh: wrote $out/$f ($(stat -c %s "$out/$f") bytes)"
done
