#!/usr/bin/env bash
# rpc.sh records testdata/mongodb_ops.pcap and testdata/dubbo_http.pcap
# with testdata/gen/rpcgen: a MongoDB server and client of its own (OP_MSG,
# OP_QUERY/OP_REPLY, OP_COMPRESSED), and an HTTP → Dubbo → HTTP chain
# passing trace context (see rpcgen's doc comment).
#
#   sudo testdata/gen/rpc.sh
#
# Topology: one network namespace, wrpc-gen, whose loopback carries four
# addresses of 10.241.4.0/24 (no default route, IPv6 off), so each hop has
# its own client and server address:
#
#   10.241.4.1  clients (curl-like HTTP client, MongoDB client)
#   10.241.4.2  front HTTP server :8080 (Dubbo consumer)
#   10.241.4.3  Dubbo provider :20880, MongoDB server :27017
#   10.241.4.4  backend HTTP server :9090
#
# tcpdump on lo (snaplen 0, --immediate-mode, 8 MiB buffer), one capture
# per scenario; a capture in which tcpdump dropped packets is an error
# (exit 3), to be run again.
#
# Needs root, iproute2, tcpdump, Go; ethtool (optional) for valid TCP
# checksums. Env
# overrides: GO, TCPDUMP; WRPC_OUT writes the captures elsewhere.
# Everything it starts is killed by PID, and its namespace and temp dir are
# removed, on any exit.
set -euo pipefail

[[ $# -eq 0 ]] || { echo "usage: $0" >&2; exit 2; }
if [[ $(id -u) -ne 0 ]]; then
	echo "rpc.sh: must run as root (network namespaces, tcpdump)" >&2
	exit 1
fi

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out="${WRPC_OUT:-$repo/testdata}"
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
TCPDUMP=${TCPDUMP:-$(command -v tcpdump || echo /usr/sbin/tcpdump)}
for bin in "$GO" "$TCPDUMP"; do
	[[ -x $bin ]] || { echo "rpc.sh: $bin not found" >&2; exit 1; }
done
command -v ip >/dev/null || { echo "rpc.sh: ip (iproute2) not found" >&2; exit 1; }

NET=10.241.4
NS=wrpc-gen
dump_pid=""
made_ns=""
tmp=""

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	set +e
	if [[ -n $dump_pid ]]; then
		kill -TERM "$dump_pid" 2>/dev/null
		wait "$dump_pid" 2>/dev/null
	fi
	[[ -n $made_ns ]] && ip netns del "$NS" 2>/dev/null
	if [[ $rc -ne 0 && -n $tmp ]]; then
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

tmp=$(mktemp -d /tmp/wrpc.XXXXXX)
echo "rpc.sh: building rpcgen"
(cd "$repo" && CGO_ENABLED=0 "$GO" build -buildvcs=false -o "$tmp/rpcgen" ./testdata/gen/rpcgen)

if ip netns list | grep -qw "^$NS"; then
	echo "rpc.sh: namespace $NS already exists (left by a killed run?); remove it with: ip netns del $NS" >&2
	exit 1
fi
ip netns add "$NS"
made_ns=1
nsx() { ip netns exec "$NS" "$@"; }
nsx sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
nsx ip link set lo up
for i in 1 2 3 4; do
	nsx ip addr add "$NET.$i/32" dev lo
done
# Loopback keeps TX checksums partial (CHECKSUM_PARTIAL): ethtool turns
# that off when it is installed; otherwise the captured TCP checksums are
# not valid, which neither wiretrace nor tshark (by default) checks.
if command -v ethtool >/dev/null; then
	nsx ethtool -K lo tx off >/dev/null 2>&1 || echo "rpc.sh: warning: could not turn off checksum offload on lo" >&2
else
	echo "rpc.sh: note: no ethtool; TCP checksums in the capture will be partial (offload)" >&2
fi

# record NAME CMD...: run CMD under tcpdump into $tmp/NAME.pcap.
record() {
	local name=$1
	shift
	# ip netns exec execs tcpdump, so $! is tcpdump's PID.
	ip netns exec "$NS" "$TCPDUMP" -i lo -s 0 -B 8192 -U --immediate-mode -n -w "$tmp/$name.pcap" tcp >"$tmp/tcpdump-$name.log" 2>&1 &
	dump_pid=$!
	for ((i = 0; i < 100; i++)); do
		grep -q "listening on" "$tmp/tcpdump-$name.log" && break
		sleep 0.1
	done
	grep -q "listening on" "$tmp/tcpdump-$name.log" || { echo "rpc.sh: tcpdump did not start" >&2; exit 1; }
	sleep 0.3
	nsx timeout 60 "$@" | sed 's/^/  /'
	sleep 0.3
	kill -TERM "$dump_pid"
	wait "$dump_pid" || [[ $? -eq 143 ]] || { echo "rpc.sh: tcpdump failed" >&2; exit 1; }
	dump_pid=""
	# A capture that lost packets (a loaded machine) is no use: say so.
	local dropped
	dropped=$(sed -n 's/^\([0-9]*\) packets dropped by kernel$/\1/p' "$tmp/tcpdump-$name.log")
	if [[ ${dropped:-0} -ne 0 ]]; then
		echo "rpc.sh: tcpdump dropped $dropped packets of $name; run again" >&2
		exit 3
	fi
	mkdir -p "$out"
	cp "$tmp/$name.pcap" "$out/$name.pcap"
	echo "rpc.sh: wrote $out/$name.pcap ($(stat -c %s "$out/$name.pcap") bytes)"
}

echo "rpc.sh: MongoDB ($NET.1 → $NET.3:27017)"
record mongodb_ops "$tmp/rpcgen" -mode mongo -client "$NET.1" -server "$NET.3:27017"
echo "rpc.sh: HTTP → Dubbo → HTTP ($NET.1 → $NET.2:8080 → $NET.3:20880 → $NET.4:9090)"
record dubbo_http "$tmp/rpcgen" -mode dubbo -client "$NET.1" -front "$NET.2:8080" -provider "$NET.3:20880" -backend "$NET.4:9090"
