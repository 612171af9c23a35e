#!/usr/bin/env bash
# bench.sh measures wiretrace end to end (make bench runs it).
#
#   testdata/gen/bench.sh                     # ~2-3 minutes on 2 cores
#   BENCH_PACKETS=3000000 testdata/gen/bench.sh   # ~1.6 GB, the issue's size
#
# 1. the Go micro-benchmarks (BENCH_MICRO=0 skips them);
# 2. a synthetic capture from testdata/gen/synth (BENCH_PACKETS packets,
#    BENCH_SEED seed; kept in BENCH_DIR and reused when already there);
# 3. wall time and peak RSS (/usr/bin/time -v) of
#      wiretrace replay --format jsonl -o /dev/null   (--workers 1 and 2)
#      testdata/gen/floor (pcapgo + DecodingLayerParser + gopacket/reassembly)
#      tcpdump -nn -r FILE > /dev/null
#      tshark -r FILE -Y http.request -T fields -e http.request.uri > /dev/null
#    tshark reads only the first BENCH_TSHARK_PACKETS packets (it is about
#    50 times slower); its rates are per packet read, and its ratio compares
#    packet rates;
# 4. live capture (testdata/gen/livebench.sh, as root with ip netns only;
#    BENCH_LIVE=0 skips it): packets/s captured with zero kernel drops on a
#    veth by wiretrace capture --workers 1 and 2 and tcpdump -w /dev/null,
#    at the same time on the same traffic.
#
# Needs go, and for their rows /usr/bin/time (Debian time), tcpdump, tshark:
# a missing tool's row says so.
set -euo pipefail
cd "$(dirname "$0")/../.."

GO=${GO:-go}
PACKETS=${BENCH_PACKETS:-2000000}
SEED=${BENCH_SEED:-1}
DIR=${BENCH_DIR:-bin/bench}
TSHARK_PACKETS=${BENCH_TSHARK_PACKETS:-200000}
MICRO=${BENCH_MICRO:-1}

mkdir -p "$DIR"
if [ "$MICRO" != 0 ]; then
	echo "== go micro-benchmarks"
	$GO test -run '^$' -bench . -benchmem -benchtime "${BENCH_TIME:-300ms}" ./... 2>&1 | grep -E '^(Benchmark|ok|FAIL|---)' || true
fi

echo "== building"
$GO build -trimpath -o bin/wiretrace ./cmd/wiretrace
$GO build -trimpath -o bin/synth ./testdata/gen/synth
$GO build -trimpath -o bin/floor ./testdata/gen/floor

PCAP="$DIR/synth-$SEED-$PACKETS.pcap"
if [ ! -s "$PCAP" ]; then
	echo "== generating $PCAP"
	bin/synth -seed "$SEED" -packets "$PACKETS" -o "$PCAP.tmp"
	mv "$PCAP.tmp" "$PCAP"
fi
SIZE=$(stat -c %s "$PCAP")
NPKT=$(bin/wiretrace replay --format summary -o /dev/null "$PCAP" 2>&1 | sed -n 's/.* packets=\([0-9]*\) .*/\1/p')
echo "capture: $PCAP, $SIZE bytes, $NPKT packets"

TIME=/usr/bin/time
if [ ! -x $TIME ]; then
	echo "bench: /usr/bin/time missing (Debian package time): no RSS, wall time from bash" >&2
	TIME=
fi

ROWS=()
# run NAME PACKETS-READ CMD...: time CMD, print and record a row.
run() {
	local name=$1 npkt=$2
	shift 2
	local log="$DIR/$name.log" tv="$DIR/$name.time"
	local start end wall rss
	start=$(date +%s.%N)
	if [ -n "$TIME" ]; then
		$TIME -v -o "$tv" "$@" >/dev/null 2>"$log"
	else
		"$@" >/dev/null 2>"$log"
	fi
	end=$(date +%s.%N)
	wall=$(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.3f", b-a}')
	rss=0 cpu=
	if [ -n "$TIME" ]; then
		rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$tv")
		cpu=$(awk -F': ' '/User time|System time/ {s += $2} END {printf "%.2f", s}' "$tv")
	fi
	local spans
	spans=$(sed -n 's/.* spans=\([0-9]*\) .*/\1/p' "$log" | tail -1)
	ROWS+=("$name|$wall|$npkt|${spans:-}|$rss|$*|$cpu")
	echo "  $name: ${wall}s wall, ${cpu}s CPU, peak RSS $((rss / 1024)) MiB"
}

echo "== end to end"
run "wiretrace-w1" "$NPKT" bin/wiretrace replay --format jsonl -o /dev/null --workers 1 "$PCAP"
run "wiretrace-w2" "$NPKT" bin/wiretrace replay --format jsonl -o /dev/null --workers 2 "$PCAP"
run "floor" "$NPKT" bin/floor "$PCAP"
if command -v tcpdump >/dev/null; then
	run "tcpdump" "$NPKT" tcpdump -nn -r "$PCAP"
else
	echo "  tcpdump: missing (Debian package tcpdump)"
fi
if command -v tshark >/dev/null; then
	TS_N=$((NPKT < TSHARK_PACKETS ? NPKT : TSHARK_PACKETS))
	run "tshark" "$TS_N" tshark -r "$PCAP" -c "$TS_N" -Y http.request -T fields -e http.request.uri
else
	echo "  tshark: missing (Debian package tshark)"
fi

echo
echo "== results ($(nproc) cores; capture $((SIZE / 1000000)) MB, $NPKT packets; tshark on the first ${TS_N:-0} packets)"
printf '%s\n' "${ROWS[@]}" | awk -F'|' -v size="$SIZE" -v npkt="$NPKT" '
{
	name[NR] = $1; wall[NR] = $2; n[NR] = $3; spans[NR] = $4; rss[NR] = $5; cmd[NR] = $6; cpu[NR] = $7
	pps[NR] = $3 / ($2 > 0 ? $2 : 1e-9)
	if ($1 == "wiretrace-w1") w1 = NR
	if ($1 == "floor") fl = NR
	if ($1 == "tshark") ts = NR
}
END {
	printf "| %-13s | %8s | %8s | %11s | %8s | %11s | %9s | %s |\n", "run", "wall s", "CPU s", "packets/s", "MB/s", "spans/s", "peak RSS", "vs wiretrace-w1"
	printf "|%s|%s|%s|%s|%s|%s|%s|%s|\n", "---------------", "----------", "----------", "-------------", "----------", "-------------", "-----------", "-----------------"
	for (i = 1; i <= NR; i++) {
		mbs = pps[i] * (size / npkt) / 1e6
		sp = spans[i] == "" ? "" : sprintf("%.0f", spans[i] / wall[i])
		rel = ""
		if (w1 && i != w1) rel = sprintf("%.2fx the packet rate", pps[i] / pps[w1])
		printf "| %-13s | %8.2f | %8s | %11.0f | %8.1f | %11s | %5d MiB | %s |\n", name[i], wall[i], cpu[i], pps[i], mbs, sp, rss[i] / 1024, rel
	}
	print ""
	if (w1 && fl) printf "wiretrace (1 worker) / floor wall time: %.2fx, CPU time: %.2fx (target <= 2)\n", wall[w1] / wall[fl], (cpu[fl] > 0 ? cpu[w1] / cpu[fl] : 0)
	if (w1 && ts) printf "wiretrace (1 worker) / tshark packet rate: %.1fx (target >= 30)\n", pps[w1] / pps[ts]
	for (i = 1; i <= NR; i++) if (name[i] == "wiretrace-w2" && w1) printf "2 workers / 1 worker speed-up: %.2fx (target >= 1.7)\n", wall[w1] / wall[i]
	print ""
	for (i = 1; i <= NR; i++) printf "%s: %s\n", name[i], cmd[i]
}'

if [ "${BENCH_LIVE:-1}" != 0 ]; then
	echo
	testdata/gen/livebench.sh
fi
