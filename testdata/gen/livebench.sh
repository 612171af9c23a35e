#!/usr/bin/env bash
# livebench.sh measures live capture: packets/s captured with zero kernel
# drops by "wiretrace capture" with 1 and 2 fanout workers, against
# "tcpdump -w /dev/null", all three on the same veth at the same time.
#
#   sudo testdata/gen/livebench.sh            # ~4 minutes
#   LIVEBENCH_RUNS=5 LIVEBENCH_TRAFFIC=http LIVEBENCH_RATES_HTTP="20000 0" sudo testdata/gen/livebench.sh
#
# Topology: two network namespaces joined by a veth on 10.241.8.0/24, no
# default route, IPv6 off. In wlive-bs-PID (10.241.8.1, wlbs) the blaster
# (testdata/gen/blaster) sends LIVEBENCH_COUNT packets at each rate of
# LIVEBENCH_RATES_UDP or LIVEBENCH_RATES_HTTP in turn (0: as fast as it
# can), for each traffic kind of LIVEBENCH_TRAFFIC:
#   udp   UDP datagrams of LIVEBENCH_SIZE bytes from 64 source ports
#         (sendmmsg(2), batches of 32) to 10.241.8.3:9999, an address no one
#         has: a static neighbour entry points it at the receiver's MAC, so
#         the receiving kernel drops each datagram quietly (no ICMP, no
#         socket) after the packet sockets have seen it; wiretrace only
#         decodes them and finds no protocol;
#   http  the first LIVEBENCH_COUNT frames of a testdata/gen/synth capture
#         (keep-alive HTTP through a gateway adding X-Request-ID, Redis,
#         MySQL; seed 1), written raw to wlbs: wiretrace reassembles,
#         parses and links them into spans; the receiving kernel drops them
#         (not its addresses).
# In wlive-br-PID (10.241.8.2, wlbr) run, for each rate, at the same time:
#   wiretrace capture -i wlbr --workers 1 --format jsonl > /dev/null
#   wiretrace capture -i wlbr --workers 2 --format jsonl > /dev/null
#   tcpdump -i wlbr -B 8192 -w /dev/null        (8 MiB, wiretrace's ring)
# and after the last packet (and a second for the rings to drain) each
# is stopped with SIGINT and reports what its sockets received and what
# the kernel dropped (wiretrace's stats line: PACKET_STATISTICS summed over
# its sockets; tcpdump's "received by filter" and "dropped by kernel").
# The sweep is run LIVEBENCH_RUNS times; the summary gives, for each
# capturer, the median over runs of the highest send rate it captured with
# zero kernel drops at that step and every lower one, and the share it
# dropped at the max step. The three compete with each other and with the
# sender for the CPUs: the numbers are for this contention, on this machine.
#
# Needs root, iproute2, Go (builds bin/wiretrace and the blaster) and
# tcpdump (its row is left out without it). Without root or ip netns it
# says so and exits 0 (make bench runs it). Everything it starts is killed
# by PID, and its namespaces are removed, on any exit.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [[ $(id -u) -ne 0 ]] || ! command -v ip >/dev/null || ! ip netns list >/dev/null 2>&1; then
	echo "livebench: skipped (needs root and ip netns)"
	exit 0
fi

GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
TCPDUMP=${TCPDUMP:-$(command -v tcpdump || true)}
RUNS=${LIVEBENCH_RUNS:-3}
RATES_udp=${LIVEBENCH_RATES_UDP:-"50000 100000 150000 200000 0"}
RATES_http=${LIVEBENCH_RATES_HTTP:-"10000 25000 50000 75000 0"}
TRAFFIC=${LIVEBENCH_TRAFFIC:-"udp http"}
COUNT=${LIVEBENCH_COUNT:-200000}
SIZE=${LIVEBENCH_SIZE:-64}
DIR=${LIVEBENCH_DIR:-bin/livebench}

S=wlive-bs-$$ R=wlive-br-$$
pids=()
tmp=""
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	set +e
	for pid in "${pids[@]}"; do kill -INT "$pid" 2>/dev/null; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
	ip netns del "$S" 2>/dev/null
	ip netns del "$R" 2>/dev/null
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$DIR"
echo "== building"
"$GO" build -trimpath -o bin/wiretrace ./cmd/wiretrace
"$GO" build -trimpath -o bin/blaster ./testdata/gen/blaster
SYNTH="$DIR/synth-1-$COUNT.pcap"
if [[ " $TRAFFIC " == *" http "* && ! -s $SYNTH ]]; then
	"$GO" build -trimpath -o bin/synth ./testdata/gen/synth
	bin/synth -seed 1 -packets "$COUNT" -o "$SYNTH.tmp"
	mv "$SYNTH.tmp" "$SYNTH"
fi

ip netns add "$S"
ip netns add "$R"
ip link add wlbs netns "$S" type veth peer name wlbr netns "$R"
for ns in "$S" "$R"; do
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	ip -n "$ns" link set lo up
done
ip -n "$S" addr add 10.241.8.1/24 dev wlbs
ip -n "$R" addr add 10.241.8.2/24 dev wlbr
ip -n "$S" link set wlbs up
ip -n "$R" link set wlbr up
rmac=$(ip netns exec "$R" cat /sys/class/net/wlbr/address)
ip -n "$S" neigh add 10.241.8.3 lladdr "$rmac" dev wlbs nud permanent

# field NAME FILE: the last NAME=value of wiretrace's stats line.
field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" "$2" | tail -n 1; }

# step KIND RUN RATE: one traffic kind at one rate, all capturers; appends
# rows to $DIR/rows.
step() {
	local kind=$1 run=$2 rate=$3 w1 w2 td sent pps
	local base="$DIR/$kind-r$run-$rate"
	ip netns exec "$R" bin/wiretrace capture -i wlbr --workers 1 --format jsonl >/dev/null 2>"$base.w1" &
	w1=$!
	ip netns exec "$R" bin/wiretrace capture -i wlbr --workers 2 --format jsonl >/dev/null 2>"$base.w2" &
	w2=$!
	pids=("$w1" "$w2")
	td=""
	if [[ -n $TCPDUMP ]]; then
		ip netns exec "$R" "$TCPDUMP" -i wlbr -B 8192 -w /dev/null 2>"$base.td" &
		td=$!
		pids+=("$td")
	fi
	sleep 1.5 # sockets open
	if [[ $kind == http ]]; then
		ip netns exec "$S" bin/blaster -pcap "$SYNTH" -iface wlbs -count "$COUNT" -rate "$rate" >"$base.send"
	else
		ip netns exec "$S" bin/blaster -to 10.241.8.3:9999 -count "$COUNT" -rate "$rate" -size "$SIZE" >"$base.send"
	fi
	sleep 1 # the rings drain
	kill -INT "${pids[@]}"
	wait "${pids[@]}" || true
	pids=()
	read -r sent pps < <(sed -n 's/^sent \([0-9]*\) in [0-9.]*s (\([0-9]*\) pps).*/\1 \2/p' "$base.send")
	printf '%s|%s|%s|%s|%s|wiretrace-w1|%s|%s|%s\n' "$kind" "$run" "$rate" "$sent" "$pps" "$(field live_received "$base.w1")" "$(field live_kernel_drops "$base.w1")" "$(field spans "$base.w1")" >>"$DIR/rows"
	printf '%s|%s|%s|%s|%s|wiretrace-w2|%s|%s|%s\n' "$kind" "$run" "$rate" "$sent" "$pps" "$(field live_received "$base.w2")" "$(field live_kernel_drops "$base.w2")" "$(field spans "$base.w2")" >>"$DIR/rows"
	if [[ -n $td ]]; then
		printf '%s|%s|%s|%s|%s|tcpdump|%s|%s|\n' "$kind" "$run" "$rate" "$sent" "$pps" \
			"$(sed -n 's/^\([0-9]*\) packets received by filter.*/\1/p' "$base.td")" \
			"$(sed -n 's/^\([0-9]*\) packets dropped by kernel.*/\1/p' "$base.td")" >>"$DIR/rows"
	fi
	echo "  $kind, run $run, rate ${rate/#0/max}: $(cat "$base.send")"
}

rm -f "$DIR/rows"
echo "== live capture: $COUNT packets per step ($TRAFFIC), $RUNS runs, $(nproc) cores"
for kind in $TRAFFIC; do
	rates=RATES_$kind
	echo "  $kind rates: ${!rates} (0 = max)"
	for ((run = 1; run <= RUNS; run++)); do
		for rate in ${!rates}; do
			step "$kind" "$run" "$rate"
		done
	done
done

echo
awk -F'|' -v runs="$RUNS" '
BEGIN {
	print "| traffic | run | target pps | sent pps | capturer | received | kernel drops | dropped | spans |"
	print "|---|---|---|---|---|---|---|---|---|"
}
{
	kind = $1; run = $2; rate = $3; pps = $5; who = kind " " $6; recv = $7; drops = $8; spans = $9
	if (!(who in seen)) { seen[who] = 1; order[++n] = who }
	printf "| %s | %d | %7s | %8d | %-12s | %8d | %8d | %5.2f%% | %s |\n", kind, run, (rate == 0 ? "max" : rate), pps, $6, recv, drops, (recv > 0 ? 100 * drops / recv : 0), spans
	# Steps come in rising target rate: count a rate only while no
	# earlier step of the run dropped.
	if (drops > 0 || recv == 0) broke[who, run] = 1
	if (!broke[who, run] && pps > best[who, run]) best[who, run] = pps
	if (rate == 0) maxdrop[who, run] = (recv > 0 ? 100 * drops / recv : 0)
}
function median(v, k,   a, b, x) {
	for (a = 2; a <= k; a++) { x = v[a]; b = a - 1; while (b >= 1 && v[b] > x) { v[b + 1] = v[b]; b-- } v[b + 1] = x }
	return (k % 2) ? v[(k + 1) / 2] : (v[k / 2] + v[k / 2 + 1]) / 2
}
END {
	print ""
	print "median of " runs " runs (per run in brackets): highest send rate captured with zero kernel drops"
	print "(at it and every lower step); share dropped at the max rate step"
	for (i = 1; i <= n; i++) {
		w = order[i]
		l1 = ""; l2 = ""
		for (r = 1; r <= runs; r++) {
			v[r] = best[w, r] + 0; d[r] = maxdrop[w, r] + 0
			l1 = l1 (r > 1 ? " " : "") v[r]; l2 = l2 (r > 1 ? " " : "") sprintf("%.2f%%", d[r])
		}
		printf "  %-17s %8.0f pps [%s]   max step: %.2f%% dropped [%s]\n", w, median(v, runs), l1, median(d, runs), l2
	}
}' "$DIR/rows"
