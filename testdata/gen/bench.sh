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

# Fleet: assembler spans/s with 1 and 2 instances. One agent publishes the
# span records of a smaller synthetic capture (BENCH_FLEET_PACKETS) to a
# JetStream stream of a local NATS server (Debian nats-server when
# installed, else 'wiretrace serve --agents-listen'); then 1 or 2
# 'wiretrace assemble' processes read that stream to the end
# (--exit-when-idle 2s, not counted). spans/s = spans written by all
# instances / wall time.
if [ "${BENCH_FLEET:-1}" != 0 ]; then
	echo
	echo "== fleet: assembler throughput"
	FPK=${BENCH_FLEET_PACKETS:-300000}
	FPCAP="$DIR/synth-$SEED-$FPK.pcap"
	if [ ! -s "$FPCAP" ]; then
		bin/synth -seed "$SEED" -packets "$FPK" -o "$FPCAP.tmp"
		mv "$FPCAP.tmp" "$FPCAP"
	fi
	PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	JS=$(mktemp -d)
	if command -v nats-server >/dev/null; then
		nats-server -js -a 127.0.0.1 -p "$PORT" -sd "$JS" >"$DIR/nats.log" 2>&1 &
		BROKER="nats-server $(nats-server --version | awk '{print $NF}')"
	else
		HTTP=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
		bin/wiretrace serve -q --agents-listen "127.0.0.1:$PORT" --agents-store-dir "$JS" --listen "127.0.0.1:$HTTP" >"$DIR/nats.log" 2>&1 &
		BROKER="wiretrace serve --agents-listen (embedded nats-server)"
	fi
	BPID=$!
	trap 'kill $BPID 2>/dev/null; rm -rf "$JS"' EXIT
	sleep 2
	URL="nats://127.0.0.1:$PORT"
	FROWS=()
	for n in 1 2; do
		stream="BENCH$n"
		bin/wiretrace replay -q --publish "$URL" --stream "$stream" --agent bench "$FPCAP" 2>"$DIR/agent$n.log"
		start=$(date +%s.%N)
		pids=()
		for i in $(seq 1 $n); do
			bin/wiretrace assemble --from "$URL" --stream "$stream" --name "asm$i" --format jsonl -o /dev/null \
				--exit-when-idle 2s --lateness 60s 2>"$DIR/asm$n-$i.log" &
			pids+=($!)
		done
		wait "${pids[@]}"
		end=$(date +%s.%N)
		spans=$(cat "$DIR"/asm$n-*.log | sed -n 's/.* emitted_spans=\([0-9]*\) .*/\1/p' | awk '{s += $1} END {print s + 0}')
		wall=$(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.2f", b - a - 2}')
		rate=$(awk -v s="$spans" -v w="$wall" 'BEGIN{printf "%.0f", s / w}')
		FROWS+=("| $n | $spans | $wall | $rate |")
		echo "  $n assembler(s): $spans spans in ${wall}s: $rate spans/s"
	done
	echo
	echo "broker: $BROKER; capture $FPCAP"
	echo "| assemblers | spans | wall s | spans/s |"
	echo "|---|---|---|---|"
	printf '%s\n' "${FROWS[@]}"
fi
