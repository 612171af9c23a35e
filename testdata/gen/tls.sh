#!/usr/bin/env bash
# tls.sh records the TLS captures of testdata/: curl through a TLS
# terminating nginx gateway to a plaintext nginx backend, with curl's key
# log, for TLS 1.2 and 1.3, HTTP/1.1 and HTTP/2, and the same requests in
# plaintext.
#
#   sudo testdata/gen/tls.sh [CASE...]  -> testdata/tls*.pcap, testdata/tls*.keys
#
# CASE is a file name below without extension (default: all of them).
#
# Topology: four network namespaces on 10.241.1.0/24, no default route, IPv6
# off. wtls-net holds bridge br0; each host namespace has an eth0 veth whose
# peer is a port of br0. tcpdump on br0 sees both hops.
#
#   wtls-client   10.241.1.1  curl (SSLKEYLOGFILE), one process per case
#   wtls-gw       10.241.1.2  nginx: :443 TLS 1.2+1.3 with HTTP/2, :80
#                             HTTP/1.1; proxy_pass http to the backend
#   wtls-backend  10.241.1.3  nginx :8080, plaintext, fixed answers
#
# Each case is one curl process (one connection, its requests in turn):
#   GET /, GET /api/orders?id=1 (proxied), POST /api/login with an
#   Authorization header (proxied), GET /api/fail (proxied, 503),
#   GET /missing (404 from the gateway).
# Cases and files (each capture also has its plaintext upstream hop):
#   tls12_http1.pcap/.keys   --tlsv1.2 --tls-max 1.2 --http1.1
#   tls13_http1.pcap/.keys   --tlsv1.3 --http1.1
#   tls12_h2.pcap/.keys      --tlsv1.2 --tls-max 1.2 --http2
#   tls13_h2.pcap/.keys      --tlsv1.3 --http2
#   tls12_cbc_http1.pcap/.keys  --tlsv1.2 --tls-max 1.2 --ciphers
#                            ECDHE-ECDSA-AES128-SHA256 --http1.1 (AES-CBC with
#                            HMAC-SHA256; OpenSSL negotiates encrypt-then-MAC)
#   tls13_keyupdate.pcap/.keys  openssl s_client -tls1_3 -keylogfile: GET /,
#                            then "k" (the client sends a KeyUpdate) and
#                            "K" (a KeyUpdate asking the server for one
#                            too), each followed by GET /api/orders?id=1
#   tls_plain_http1.pcap     http://gw:80 --http1.1 (the same requests; curl
#                            7.88 fails reused h2c prior-knowledge
#                            connections, so HTTP/1.1 is the plaintext
#                            reference for the HTTP/2 cases too)
#   tls_alert.pcap           curl --tlsv1.3 without -k: the client rejects
#                            the self-signed certificate (alert unknown_ca)
# The certificate (CN and SAN shop.test, EC P-256, self-signed) and the key
# logs are made here for these captures only. The TLS 1.2 cases offer only
# ECDHE-ECDSA-AES128-GCM-SHA256 and ECDHE-ECDSA-CHACHA20-POLY1305 (nginx
# picks the first); TLS 1.3 negotiates TLS_AES_256_GCM_SHA384.
#
# Needs root, iproute2, nginx (nginx-light), tcpdump, curl, openssl.
# Env: WTLS_OUT writes the files to this directory instead of testdata/.
#   WTLS_WIRETRACE  also run "$WTLS_WIRETRACE capture -i br0 --format jsonl
#                   -q --tls-keylog KEYS tcp" next to tcpdump for each TLS
#                   case, KEYS being the key log curl is appending to, and
#                   write its output to $WTLS_OUT/CASE.live.jsonl (the live
#                   test: the key log is re-read as it grows)
# Everything it starts is killed by PID, and its namespaces and temp dir are
# removed, on any exit.
set -euo pipefail

all=(tls12_http1 tls13_http1 tls12_h2 tls13_h2 tls12_cbc_http1 tls13_keyupdate tls_plain_http1 tls_alert)
cases=("$@")
((${#cases[@]})) || cases=("${all[@]}")
for c in "${cases[@]}"; do
	[[ " ${all[*]} " == *" $c "* ]] || { echo "usage: $0 [${all[*]}]" >&2; exit 2; }
done
want() { [[ " ${cases[*]} " == *" $1 "* ]]; }
if [[ $(id -u) -ne 0 ]]; then
	echo "tls.sh: must run as root (network namespaces, tcpdump)" >&2
	exit 1
fi
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out="${WTLS_OUT:-$repo/testdata}"
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
TCPDUMP=${TCPDUMP:-$(command -v tcpdump || echo /usr/bin/tcpdump)}
CURL=${CURL:-$(command -v curl || echo /usr/bin/curl)}
WIRETRACE=${WTLS_WIRETRACE:-}
[[ -z $WIRETRACE || -x $WIRETRACE ]] || { echo "tls.sh: $WIRETRACE not executable" >&2; exit 1; }
OPENSSL=${OPENSSL:-$(command -v openssl || echo /usr/bin/openssl)}
for bin in "$NGINX" "$TCPDUMP" "$CURL" "$OPENSSL"; do
	[[ -x $bin ]] || { echo "tls.sh: $bin not found" >&2; exit 1; }
done

NET=10.241.1
CLIENT=$NET.1 GW=$NET.2 BACKEND=$NET.3
NS_NET=wtls-net
HOSTS=(client gw backend)
pids=()
created_ns=()
tmp=""

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
	for ns in "${created_ns[@]}"; do ip netns del "$ns" 2>/dev/null; done
	if [[ $rc -ne 0 && -n $tmp ]]; then
		echo "tls.sh: failed (exit $rc); logs:" >&2
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

tmp=$(mktemp -d /tmp/wtls.XXXXXX)

mkns() {
	ip netns add "$1"
	created_ns+=("$1")
	ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
	ip netns exec "$1" ip link set lo up
}
mkns $NS_NET
ip netns exec $NS_NET ip link add br0 type bridge
ip netns exec $NS_NET ip link set br0 up
n=1
for h in "${HOSTS[@]}"; do
	mkns "wtls-$h"
	ip link add "wtls-$h-p" type veth peer name eth0 netns "wtls-$h"
	ip link set "wtls-$h-p" netns $NS_NET
	ip netns exec $NS_NET ip link set "wtls-$h-p" master br0 up
	ip netns exec "wtls-$h" ip addr add "$NET.$n/24" dev eth0
	ip netns exec "wtls-$h" ip link set eth0 up
	# No offloads: tcpdump sees packets as they are on the wire.
	ip netns exec "wtls-$h" ethtool -K eth0 tso off gso off gro off >/dev/null 2>&1 || true
	n=$((n + 1))
done

# The certificate: EC P-256, self-signed, for shop.test.
"$OPENSSL" req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
	-subj "/O=wiretrace test/CN=shop.test" -addext "subjectAltName=DNS:shop.test" \
	-keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>"$tmp/openssl.log"

mime="types { text/plain txt; }"
cat >"$tmp/backend.conf" <<EOF
worker_processes 1;
pid $tmp/backend.pid;
error_log $tmp/backend.log;
events { worker_connections 64; }
http {
	$mime
	access_log off;
	client_body_temp_path $tmp/bbody;
	server {
		listen $BACKEND:8080;
		location /api/orders { default_type application/json; return 200 '{"order":1}\n'; }
		location /api/login { default_type application/json; return 200 '{"ok":true}\n'; }
		location /api/fail { return 503 'unavailable\n'; }
		location / { return 404; }
	}
}
EOF
cat >"$tmp/gw.conf" <<EOF
worker_processes 1;
pid $tmp/gw.pid;
error_log $tmp/gw.log;
events { worker_connections 64; }
http {
	$mime
	access_log off;
	client_body_temp_path $tmp/gbody;
	proxy_temp_path $tmp/gproxy;
	upstream backend { server $BACKEND:8080; }
	server {
		listen $GW:443 ssl http2;
		listen $GW:80;
		server_name shop.test;
		ssl_certificate $tmp/cert.pem;
		ssl_certificate_key $tmp/key.pem;
		ssl_protocols TLSv1.2 TLSv1.3;
		ssl_session_tickets off;
		location = / { default_type text/plain; return 200 'home\n'; }
		location /api/ {
			proxy_pass http://backend;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
		}
		location / { return 404; }
	}
}
EOF
ip netns exec wtls-backend "$NGINX" -c "$tmp/backend.conf" -g 'daemon off;' >"$tmp/backend.out.log" 2>&1 &
pids+=($!)
ip netns exec wtls-gw "$NGINX" -c "$tmp/gw.conf" -g 'daemon off;' >"$tmp/gw.out.log" 2>&1 &
pids+=($!)
for ((i = 0; i < 50; i++)); do
	ip netns exec wtls-client bash -c "exec 3<>/dev/tcp/$GW/443" 2>/dev/null && break
	sleep 0.1
done

# requests BASEURL CURL-OPTIONS...: the five requests in one curl process.
requests() {
	local base=$1
	shift
	ip netns exec wtls-client "$CURL" -sS -o /dev/null --max-time 10 --resolve "shop.test:443:$GW" "$@" "$base/" \
		--next -sS -o /dev/null --max-time 10 --resolve "shop.test:443:$GW" "$@" "$base/api/orders?id=1" \
		--next -sS -o /dev/null --max-time 10 --resolve "shop.test:443:$GW" "$@" -X POST \
		-H "Authorization: Bearer tls-Secret-4242" --data-raw '{"user":"ann"}' "$base/api/login" \
		--next -sS -o /dev/null --max-time 10 --resolve "shop.test:443:$GW" "$@" "$base/api/fail" \
		--next -sS -o /dev/null --max-time 10 --resolve "shop.test:443:$GW" "$@" "$base/missing"
}

# record NAME CMD...: capture br0 while CMD runs, into $out/NAME.pcap; with
# WTLS_WIRETRACE and a key log $tmp/NAME.keys, wiretrace captures live too.
# tcpdump may lag on a busy machine, and what it has not read when stopped
# is lost ("received by filter" > "captured"): the case is then run again,
# up to three times.
record() {
	local attempt rc
	for attempt in 1 2 3; do
		rc=0
		record1 "$@" || rc=$?
		((rc == 3)) || return $rc
		echo "tls.sh: $1: tcpdump lost packets, again" >&2
	done
	return 1
}

record1() {
	local name=$1
	shift
	local npacket=1 wpid=""
	[[ -e $tmp/$name.keys ]] && : >"$tmp/$name.keys"
	ip netns exec $NS_NET "$TCPDUMP" -i br0 -s 0 -U --immediate-mode -w "$tmp/$name.pcap" tcp >"$tmp/tcpdump-$name.log" 2>&1 &
	local tpid=$!
	pids+=($tpid)
	if [[ -n $WIRETRACE && -e $tmp/$name.keys ]]; then
		# A bound on its own, in case this script is killed first.
		ip netns exec $NS_NET "$WIRETRACE" capture -i br0 --ebpf off --format jsonl -q --duration 60s \
			--tls-keylog "$tmp/$name.keys" tcp >"$tmp/$name.live.jsonl" 2>"$tmp/wiretrace-$name.log" &
		wpid=$!
		pids+=($wpid)
		npacket=2
	fi
	local n=0
	for ((i = 0; i < 100; i++)); do
		n=$(($(ip netns exec $NS_NET cat /proc/net/packet | wc -l) - 1))
		grep -q "listening on" "$tmp/tcpdump-$name.log" 2>/dev/null && ((n >= npacket)) && break
		sleep 0.1
	done
	((n >= npacket)) || { echo "tls.sh: $name: a capturer did not open its socket" >&2; return 1; }
	"$@" || { echo "tls.sh: $name: command failed" >&2; return 1; }
	# tcpdump may lag on a busy machine and drops what it has not read
	# when stopped: wait until its file stops growing (at most 10 s).
	local size=-1
	for ((i = 0; i < 20; i++)); do
		sleep 0.5
		local now
		now=$(stat -c %s "$tmp/$name.pcap")
		((now == size)) && break
		size=$now
	done
	stop $tpid || true
	local captured received
	captured=$(sed -n 's/^\([0-9]*\) packets\{0,1\} captured.*/\1/p' "$tmp/tcpdump-$name.log")
	received=$(sed -n 's/^\([0-9]*\) packets\{0,1\} received by filter.*/\1/p' "$tmp/tcpdump-$name.log")
	if [[ -z $captured || $captured != "$received" ]]; then
		[[ -n $wpid ]] && { stop $wpid || true; }
		return 3
	fi
	cp "$tmp/$name.pcap" "$out/$name.pcap"
	if [[ -n $wpid ]]; then
		stop $wpid || true
		cp "$tmp/$name.live.jsonl" "$out/$name.live.jsonl"
	fi
}

tls12=(--tlsv1.2 --tls-max 1.2 --ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305)
for c in tls12_http1 tls13_http1 tls12_h2 tls13_h2 tls12_cbc_http1; do
	want "$c" || continue
	opts=(-k)
	case $c in
	tls12_cbc_*) opts+=(--tlsv1.2 --tls-max 1.2 --ciphers ECDHE-ECDSA-AES128-SHA256) ;;
	tls12_*) opts+=("${tls12[@]}") ;;
	*) opts+=(--tlsv1.3) ;;
	esac
	case $c in
	*_http1) opts+=(--http1.1) ;;
	*) opts+=(--http2) ;;
	esac
	rm -f "$tmp/$c.keys"
	# Created empty before the capture starts: curl appends to it.
	: >"$tmp/$c.keys"
	record "$c" env SSLKEYLOGFILE="$tmp/$c.keys" bash -c "$(declare -f requests); GW=$GW CURL=$CURL; requests https://shop.test ${opts[*]}"
	cp "$tmp/$c.keys" "$out/$c.keys"
done
# s_client reads commands at the start of a line ("k", "K") when neither
# -quiet nor -ign_eof is given; the pauses let each step finish.
keyupdate() {
	local get='GET /%s HTTP/1.1\r\nHost: shop.test\r\n\r\n'
	{
		printf "$get" ""
		sleep 0.5
		echo k
		sleep 0.3
		printf "$get" "api/orders?id=1"
		sleep 0.5
		echo K
		sleep 0.3
		printf "$get" "api/orders?id=1"
		sleep 0.5
	} | ip netns exec wtls-client "$OPENSSL" s_client -connect "$GW:443" -servername shop.test -tls1_3 \
		-keylogfile "$tmp/tls13_keyupdate.keys" >"$tmp/s_client.log" 2>&1
	[[ $(grep -c '^HTTP/1.1 200' "$tmp/s_client.log") -eq 3 ]] || { echo "tls.sh: s_client did not get 3 answers" >&2; return 1; }
}
if want tls13_keyupdate; then
	: >"$tmp/tls13_keyupdate.keys"
	record tls13_keyupdate keyupdate
	cp "$tmp/tls13_keyupdate.keys" "$out/tls13_keyupdate.keys"
fi
want tls_plain_http1 && record tls_plain_http1 bash -c "$(declare -f requests); GW=$GW CURL=$CURL; requests http://$GW:80 --http1.1"
# The client rejects the self-signed certificate: curl exits 60.
want tls_alert && record tls_alert bash -c "ip netns exec wtls-client $CURL -sS -o /dev/null --max-time 10 --resolve shop.test:443:$GW --tlsv1.2 --tls-max 1.2 https://shop.test/ || true"
echo "tls.sh: wrote $out/tls*.pcap and $out/tls*.keys" >&2
