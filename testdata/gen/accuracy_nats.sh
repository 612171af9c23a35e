#!/usr/bin/env bash
# accuracy_nats.sh measures parent-edge accuracy through a broker ("make
# accuracy" runs it after accuracy.sh): real traffic through nats-server
# between Go services, captured on a bridge, scored against the services'
# own logs (never the captures). See testdata/gen/accuracy/nats.go.
#
#   sudo testdata/gen/accuracy_nats.sh [-n REQUESTS] [-c "1 8"] [-v] [-k FILE]
#
# Topology: network namespaces on $WTAN_NET.0/24 (default 10.231.42), no
# default route, IPv6 off, one bridge br0 in ${WTAN_PREFIX}net (default
# prefix wtan-); tcpdump captures on br0.
#
#   ${WTAN_PREFIX}client    .1  accuracy natsload (keep-alive clients; half the
#                               requests carry a traceparent)
#   ${WTAN_PREFIX}pub       .2  accuracy natsserve -role pub :8080: publishes
#                               orders.created, or requests stock.check
#   ${WTAN_PREFIX}nats      .3  nats-server :4222 (Debian nats-server)
#   ${WTAN_PREFIX}consumer  .4  accuracy natsserve -role consumer: calls D,
#                               replies to requests
#   ${WTAN_PREFIX}down      .5  accuracy natsserve -role down :9090
#
# -k FILE keeps the first run's capture in FILE (testdata/nats_scenario.pcap
# is made with: -n 12 -c 1 -k testdata/nats_scenario.pcap).
# Needs root, iproute2, tcpdump, Go, nats-server, python3 (optional: valid
# TCP checksums). Env: WIRETRACE (default bin/wiretrace, built). Everything
# it starts is killed by PID, and its namespaces and temp dir are removed,
# on any exit.
set -euo pipefail

requests=200
concs="1 8"
verbose=()
keep=""
while getopts "n:c:vk:" opt; do
	case $opt in
	n) requests=$OPTARG ;;
	c) concs=$OPTARG ;;
	v) verbose=(-v) ;;
	k) keep=$OPTARG ;;
	*) echo "usage: $0 [-n REQUESTS] [-c \"1 8\"] [-v] [-k FILE]" >&2; exit 2 ;;
	esac
done
if [[ $(id -u) -ne 0 ]]; then
	echo "accuracy_nats.sh: must run as root (network namespaces, tcpdump)" >&2
	exit 1
fi
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
TCPDUMP=${TCPDUMP:-$(command -v tcpdump || echo /usr/sbin/tcpdump)}
NATS_SERVER=${NATS_SERVER:-$(command -v nats-server || echo /usr/sbin/nats-server)}
WIRETRACE=${WIRETRACE:-$repo/bin/wiretrace}
for bin in "$GO" "$TCPDUMP" "$NATS_SERVER"; do
	[[ -x $bin ]] || { echo "accuracy_nats.sh: $bin not found" >&2; exit 1; }
done
command -v ip >/dev/null || { echo "accuracy_nats.sh: ip (iproute2) not found" >&2; exit 1; }

NET=${WTAN_NET:-10.231.42}
P=${WTAN_PREFIX:-wtan-}
HOSTS=(client pub nats consumer down)
PUB=$NET.2 NATS=$NET.3 DOWN=$NET.5

pids=()
created_ns=()
tmp=""
stop() { # PID...: SIGTERM, up to 5 s, SIGKILL
	local pid i
	for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "$@"; do
		for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
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
	for ns in "${created_ns[@]}"; do ip netns del "$ns" 2>/dev/null; done
	if [[ $rc -ne 0 && -n $tmp ]]; then
		echo "accuracy_nats.sh: failed (exit $rc); logs:" >&2
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

for ns in "${P}net" "${HOSTS[@]/#/$P}"; do
	if ip netns list | grep -qw "^$ns"; then
		echo "accuracy_nats.sh: namespace $ns already exists; remove it with: ip netns del $ns" >&2
		exit 1
	fi
done
tmp=$(mktemp -d /tmp/wtan.XXXXXX)
echo "accuracy_nats.sh: building the harness and wiretrace"
(cd "$repo/testdata/gen/accuracy" && CGO_ENABLED=0 "$GO" build -buildvcs=false -o "$tmp/accuracy" .)
if [[ $WIRETRACE == "$repo/bin/wiretrace" ]]; then
	(cd "$repo" && "$GO" build -buildvcs=false -trimpath -o bin/wiretrace ./cmd/wiretrace)
fi

nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
mkns() {
	ip netns add "$1"
	created_ns+=("$1")
	nsx "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	nsx "$1" ip link set lo up
}
PYTHON=$(command -v python3 || true)
txcsum_off() { # NS IFACE (see demo.sh)
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
mkns "${P}net"
nsx "${P}net" ip link add br0 type bridge stp_state 0 forward_delay 0
nsx "${P}net" ip link set br0 up
addr=1
for h in "${HOSTS[@]}"; do
	mkns "$P$h"
	ip link add eth0 netns "$P$h" type veth peer name "v-$h" netns "${P}net"
	nsx "${P}net" ip link set "v-$h" master br0 up
	nsx "$P$h" ip addr add "$NET.$addr/24" dev eth0
	txcsum_off "$P$h" eth0
	nsx "$P$h" ip link set eth0 up
	addr=$((addr + 1))
done

start() { # LOG NS CMD...
	local log=$1 ns=$2
	shift 2
	ip netns exec "$ns" "$@" >"$tmp/$log" 2>&1 &
	pids+=($!)
}
forget() {
	local live=() p
	for p in "${pids[@]}"; do [[ " $* " == *" $p "* ]] || live+=("$p"); done
	pids=("${live[@]}")
}
wait_log() { # LOG PATTERN PID
	local i
	for ((i = 0; i < 150; i++)); do
		grep -q "$2" "$tmp/$1" 2>/dev/null && return 0
		kill -0 "$3" 2>/dev/null || break
		sleep 0.1
	done
	echo "accuracy_nats.sh: no \"$2\" in $1" >&2
	return 1
}

runs=()
for c in $concs; do
	run=$tmp/run-c$c
	mkdir "$run"
	echo "$c clients" >"$run/label"
	echo "accuracy_nats.sh: run with $c clients, $requests requests"
	start "nats-c$c.log" "${P}nats" "$NATS_SERVER" -a "$NATS" -p 4222
	sn=${pids[-1]}
	wait_log "nats-c$c.log" "Server is ready" "$sn"
	start "tcpdump-c$c.log" "${P}net" "$TCPDUMP" -i br0 -B 32768 -s 0 -U --immediate-mode -n -w "$run/capture.pcap" tcp
	d=${pids[-1]}
	for ((i = 0; i < 100; i++)); do grep -q "listening on" "$tmp/tcpdump-c$c.log" && break; sleep 0.1; done
	sleep 0.5
	start "down-c$c.log" "${P}down" "$tmp/accuracy" natsserve -role down -listen "$DOWN:9090" -log "$run/d.log"
	sd=${pids[-1]}
	wait_log "down-c$c.log" ready "$sd"
	start "consumer-c$c.log" "${P}consumer" "$tmp/accuracy" natsserve -role consumer -nats "nats://$NATS:4222" \
		-down "http://$DOWN:9090" -log "$run/c.log"
	sc=${pids[-1]}
	wait_log "consumer-c$c.log" ready "$sc"
	start "pub-c$c.log" "${P}pub" "$tmp/accuracy" natsserve -role pub -listen "$PUB:8080" -nats "nats://$NATS:4222" -log "$run/p.log"
	sp=${pids[-1]}
	wait_log "pub-c$c.log" ready "$sp"
	sleep 0.2
	ip netns exec "${P}client" "$tmp/accuracy" natsload -target "http://$PUB:8080" -c "$c" -n "$requests" -seed "$c"
	sleep 0.5
	stop "$sp"
	stop "$sc"
	stop "$sd"
	sleep 0.3
	kill -INT "$d"
	wait "$d" || true
	stop "$sn"
	forget "$sp" "$sc" "$sd" "$d" "$sn"
	grep -h "dropped by kernel" "$tmp/tcpdump-c$c.log" | sed 's/^/  tcpdump: /' || true
	if [[ -n $keep ]]; then
		cp "$run/capture.pcap" "$keep"
		echo "accuracy_nats.sh: capture kept in $keep"
		keep=""
	fi
	runs+=("$run")
done

echo "accuracy_nats.sh: scoring ($WIRETRACE replay --format jsonl)"
"$tmp/accuracy" natsscore -wiretrace "$WIRETRACE" "${verbose[@]}" "${runs[@]}"
