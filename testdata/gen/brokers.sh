#!/usr/bin/env bash
# brokers.sh records testdata/mqtt_broker.pcap, testdata/nats_broker.pcap and
# testdata/memcached.pcap: real brokers from Debian packages (mosquitto,
# nats-server, memcached) driven by their usual Go clients (module
# testdata/gen/brokers: paho.golang, paho.mqtt.golang, nats.go,
# gomemcache), then writes their goldens with bin/wiretrace.
#
#   sudo testdata/gen/brokers.sh
#
# Topology: two network namespaces joined by one veth pair, no default
# route, IPv6 off; tcpdump captures on the server's eth0 (Ethernet, snaplen
# 0) and the capture is split by port into the three files.
#
#   ${WTB_PREFIX}srv  $WTB_NET.1  mosquitto :1883, nats-server :4222 (user svc),
#                                 memcached :11211 (TCP and UDP)
#   ${WTB_PREFIX}cli  $WTB_NET.2  brokers mqtt|nats|memcached: subscribers
#                     $WTB_NET.3  the same: publishers (a second address, so
#                                 that the two sides are two hosts)
#
# Needs root, iproute2, tcpdump, Go, mosquitto, nats-server, memcached,
# python3 (optional: valid TCP checksums). Env: WTB_NET (default 10.231.41),
# WTB_PREFIX (default wtb-), WTB_OUT (default testdata), WIRETRACE (default
# bin/wiretrace, built). Everything it starts is killed by PID, and its
# namespaces and temp dir are removed, on any exit.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
	echo "brokers.sh: must run as root (network namespaces, tcpdump)" >&2
	exit 1
fi
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out=${WTB_OUT:-$repo/testdata}
NET=${WTB_NET:-10.231.41}
P=${WTB_PREFIX:-wtb-}
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
TCPDUMP=${TCPDUMP:-$(command -v tcpdump || echo /usr/sbin/tcpdump)}
MOSQUITTO=${MOSQUITTO:-$(command -v mosquitto || echo /usr/sbin/mosquitto)}
NATS_SERVER=${NATS_SERVER:-$(command -v nats-server || echo /usr/sbin/nats-server)}
MEMCACHED=${MEMCACHED:-$(command -v memcached || echo /usr/bin/memcached)}
WIRETRACE=${WIRETRACE:-$repo/bin/wiretrace}
for bin in "$GO" "$TCPDUMP" "$MOSQUITTO" "$NATS_SERVER" "$MEMCACHED"; do
	[[ -x $bin ]] || { echo "brokers.sh: $bin not found" >&2; exit 1; }
done
command -v ip >/dev/null || { echo "brokers.sh: ip (iproute2) not found" >&2; exit 1; }
SRV=$NET.1 CLI=$NET.2 PUB=$NET.3

pids=()
created_ns=()
tmp=""
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	set +e
	local i
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill -TERM "${pids[i]}" 2>/dev/null; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
	for ns in "${created_ns[@]}"; do ip netns del "$ns" 2>/dev/null; done
	if [[ $rc -ne 0 && -n $tmp ]]; then
		echo "brokers.sh: failed (exit $rc); logs:" >&2
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

for ns in "${P}srv" "${P}cli"; do
	if ip netns list | grep -qw "^$ns"; then
		echo "brokers.sh: namespace $ns already exists; remove it with: ip netns del $ns" >&2
		exit 1
	fi
done
tmp=$(mktemp -d /tmp/wtbrokers.XXXXXX)
chmod 755 "$tmp"

echo "brokers.sh: building the clients and wiretrace"
(cd "$repo/testdata/gen/brokers" && CGO_ENABLED=0 "$GO" build -buildvcs=false -o "$tmp/brokers" .)
if [[ $WIRETRACE == "$repo/bin/wiretrace" ]]; then
	(cd "$repo" && "$GO" build -buildvcs=false -trimpath -o bin/wiretrace ./cmd/wiretrace)
fi

nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
PYTHON=$(command -v python3 || true)
txcsum_off() { # NS IFACE: valid TCP checksums in the capture (see demo.sh)
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
for h in srv cli; do
	ip netns add "$P$h"
	created_ns+=("$P$h")
	nsx "$P$h" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	nsx "$P$h" ip link set lo up
done
ip link add eth0 netns "${P}srv" type veth peer name eth0 netns "${P}cli"
nsx "${P}srv" ip addr add "$SRV/24" dev eth0
nsx "${P}cli" ip addr add "$CLI/24" dev eth0
nsx "${P}cli" ip addr add "$PUB/24" dev eth0
for h in srv cli; do
	txcsum_off "$P$h" eth0
	nsx "$P$h" ip link set eth0 up
done

start() { # LOG NS CMD...
	local log=$1 ns=$2
	shift 2
	ip netns exec "$ns" "$@" >"$tmp/$log" 2>&1 &
	pids+=($!)
}
wait_port() { # HOST PORT
	local i
	for ((i = 0; i < 100; i++)); do
		nsx "${P}srv" timeout 1 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "brokers.sh: $1:$2 not ready after 10s" >&2
	return 1
}

cat >"$tmp/mosquitto.conf" <<CONF
listener 1883 $SRV
allow_anonymous true
persistence false
log_dest stderr
CONF
start mosquitto.log "${P}srv" "$MOSQUITTO" -c "$tmp/mosquitto.conf"
start nats.log "${P}srv" "$NATS_SERVER" -a "$SRV" -p 4222 --user svc --pass secret-pw
start memcached.log "${P}srv" "$MEMCACHED" -l "$SRV" -p 11211 -U 11211 -u nobody -m 16
wait_port "$SRV" 1883
wait_port "$SRV" 4222
wait_port "$SRV" 11211

start tcpdump.log "${P}srv" "$TCPDUMP" -i eth0 -s 0 -U --immediate-mode -n -w "$tmp/all.pcap" "port 1883 or port 4222 or port 11211"
tcpdump_pid=${pids[-1]}
for ((i = 0; i < 100; i++)); do grep -q "listening on" "$tmp/tcpdump.log" && break; sleep 0.1; done
sleep 0.3
for p in mqtt nats memcached; do
	port=1883
	[[ $p == nats ]] && port=4222
	[[ $p == memcached ]] && port=11211
	echo "brokers.sh: $p"
	timeout 60 ip netns exec "${P}cli" "$tmp/brokers" "$p" -addr "$SRV:$port" -sub "$CLI" -pub "$PUB"
	sleep 0.3
done
sleep 0.5
kill -INT "$tcpdump_pid"
wait "$tcpdump_pid" || true

"$TCPDUMP" -r "$tmp/all.pcap" -w "$out/mqtt_broker.pcap" "tcp port 1883" 2>/dev/null
"$TCPDUMP" -r "$tmp/all.pcap" -w "$out/nats_broker.pcap" "tcp port 4222" 2>/dev/null
"$TCPDUMP" -r "$tmp/all.pcap" -w "$out/memcached.pcap" "port 11211" 2>/dev/null
for f in mqtt_broker nats_broker memcached; do
	"$WIRETRACE" replay -q --format tree "$out/$f.pcap" >"$out/$f.golden.tree"
	echo "brokers.sh: $out/$f.pcap ($(stat -c %s "$out/$f.pcap") bytes) and $f.golden.tree"
done
