#!/usr/bin/env bash
# plugins.sh records the captures of the example plugins (testdata/plugins):
#
#   sudo testdata/gen/plugins.sh   -> testdata/plugin_txn.pcap
#                                     testdata/plugin_privrpc.pcap
#                                     testdata/plugin_hostile.pcap
#
# One network namespace, wwasm-plugins, with only its loopback up and the
# addresses 10.241.6.1 (client), .2 (payments service) and .3 (ledger,
# privrpc and echo servers) on it; no route out. For each scenario of
# testdata/gen/plugincap (txn, privrpc, hostile; see its doc), tcpdump
# captures lo in the namespace (Ethernet link type, snaplen 0, filter
# "tcp") while plugincap runs the servers and clients there.
#
# Needs root, iproute2, tcpdump and Go. Env: WWASM_OUT writes the captures
# elsewhere. Everything it starts is killed by PID, and the namespace and
# temp dir removed, on any exit.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
	echo "plugins.sh: must run as root (network namespace, tcpdump)" >&2
	exit 1
fi
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out="${WWASM_OUT:-$repo/testdata}"
TCPDUMP=${TCPDUMP:-$(command -v tcpdump || echo /usr/sbin/tcpdump)}
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
[[ -x $TCPDUMP ]] || { echo "plugins.sh: $TCPDUMP not found" >&2; exit 1; }
command -v ip >/dev/null || { echo "plugins.sh: ip (iproute2) not found" >&2; exit 1; }

NS=wwasm-plugins
NET=10.241.6
tmp=$(mktemp -d)
pids=()
ns_made=""

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	set +e
	for pid in "${pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	[[ -n $ns_made ]] && ip netns del "$NS" 2>/dev/null
	if [[ $rc -ne 0 ]]; then
		for f in "$tmp"/*.log; do
			[[ -s $f ]] && { echo "== ${f##*/}" >&2; tail -n 20 "$f" >&2; }
		done
	fi
	rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT INT TERM

(cd "$repo" && "$GO" build -o "$tmp/plugincap" ./testdata/gen/plugincap)

ip netns del "$NS" 2>/dev/null || true
ip netns add "$NS"
ns_made=1
ip -n "$NS" link set lo up
for i in 1 2 3; do
	ip -n "$NS" addr add "$NET.$i/32" dev lo
done

for scenario in txn privrpc hostile; do
	pcap="$out/plugin_$scenario.pcap"
	ip netns exec "$NS" "$TCPDUMP" -i lo -s 0 -U --immediate-mode -w "$tmp/$scenario.pcap" tcp >"$tmp/tcpdump-$scenario.log" 2>&1 &
	tpid=$!
	pids+=("$tpid")
	for _ in $(seq 50); do
		grep -q "listening on" "$tmp/tcpdump-$scenario.log" 2>/dev/null && break
		sleep 0.1
	done
	timeout 60 ip netns exec "$NS" "$tmp/plugincap" -scenario "$scenario" -client "$NET.1" -a "$NET.2" -b "$NET.3" >"$tmp/plugincap-$scenario.log" 2>&1
	sleep 0.5
	kill -TERM "$tpid"
	wait "$tpid" 2>/dev/null || true
	pids=("${pids[@]/$tpid}")
	cat "$tmp/tcpdump-$scenario.log" >&2
	cp "$tmp/$scenario.pcap" "$pcap"
	echo "plugins.sh: wrote $pcap ($(stat -c %s "$pcap") bytes)"
done
