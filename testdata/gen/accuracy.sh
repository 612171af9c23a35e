#!/usr/bin/env bash
# accuracy.sh measures how well wiretrace reconstructs parent edges
# ("make accuracy"): real traffic through nginx and two Go backends that
# call each other, MariaDB and Redis, captured at two points, scored
# against the services' own logs (never the captures).
#
#   sudo testdata/gen/accuracy.sh [-n REQUESTS] [-c "1 8 32"] [-v]
#
# Topology: six network namespaces on 10.231.32.0/24, no default route,
# IPv6 off. wtacc-net holds bridge br0; each host namespace has an eth0 veth
# whose peer is a port of br0.
#
#   wtacc-client  10.231.32.1  accuracy load (keep-alive clients)
#   wtacc-gw      10.231.32.2  nginx :80, adds X-Request-ID $request_id upstream
#   wtacc-a       10.231.32.3  accuracy serve -role a :8080 (calls B, MariaDB, Redis)
#   wtacc-b       10.231.32.4  accuracy serve -role b :8081 (calls MariaDB, Redis)
#   wtacc-db      10.231.32.5  mariadbd :3306, redis-server :6379
#
# For each concurrency, a run: tcpdump on br0 and on eth0 in wtacc-a, start
# B and A (fresh connections, so the captures hold every connection from its
# start), send REQUESTS requests with that many clients, stop A and B (they
# wait for their fire-and-forget calls and flush their logs), stop tcpdump.
# Then testdata/gen/accuracy (score) replays each run's two captures with
# bin/wiretrace and prints the table.
#
# Needs root, iproute2, nginx, tcpdump, Go, python3 (optional: valid TCP
# checksums), mariadb-server and redis-server (Debian packages; run here as
# plain processes with their own data directories in a temp dir).
# Env: GO, NGINX, TCPDUMP, MARIADBD, MARIADB_INSTALL_DB, REDIS_SERVER,
# WIRETRACE (default bin/wiretrace, built if missing), ACC_OUT (keep each
# run's captures and logs in this directory).
# Everything it starts is killed by PID, and its namespaces and temp dir are
# removed, on any exit.
set -euo pipefail

requests=300
concs="1 8 32"
verbose=()
while getopts "n:c:v" opt; do
	case $opt in
	n) requests=$OPTARG ;;
	c) concs=$OPTARG ;;
	v) verbose=(-v) ;;
	*) echo "usage: $0 [-n REQUESTS] [-c \"1 8 32\"] [-v]" >&2; exit 2 ;;
	esac
done
if [[ $(id -u) -ne 0 ]]; then
	echo "accuracy.sh: must run as root (network namespaces, tcpdump)" >&2
	exit 1
fi

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
TCPDUMP=${TCPDUMP:-$(command -v tcpdump || echo /usr/sbin/tcpdump)}
MARIADBD=${MARIADBD:-$(command -v mariadbd || echo /usr/sbin/mariadbd)}
MARIADB_INSTALL_DB=${MARIADB_INSTALL_DB:-$(command -v mariadb-install-db || echo /usr/bin/mariadb-install-db)}
REDIS_SERVER=${REDIS_SERVER:-$(command -v redis-server || echo /usr/bin/redis-server)}
WIRETRACE=${WIRETRACE:-$repo/bin/wiretrace}
for bin in "$GO" "$NGINX" "$TCPDUMP" "$MARIADBD" "$MARIADB_INSTALL_DB" "$REDIS_SERVER"; do
	[[ -x $bin ]] || { echo "accuracy.sh: $bin not found" >&2; exit 1; }
done
command -v ip >/dev/null || { echo "accuracy.sh: ip (iproute2) not found" >&2; exit 1; }

NET=10.231.32
CLIENT=$NET.1 GW=$NET.2 A=$NET.3 B=$NET.4 DB=$NET.5
NS_NET=wtacc-net
HOSTS=(client gw a b db)

pids=()
created_ns=()
tmp=""

# stop PID...: SIGTERM, then up to 5 s for each to exit, then SIGKILL.
stop() {
	local pid i
	for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "$@"; do
		for ((i = 0; i < 50; i++)); do
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
	for ns in "${created_ns[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	if [[ $rc -ne 0 && -n $tmp ]]; then
		echo "accuracy.sh: failed (exit $rc); logs:" >&2
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

tmp=$(mktemp -d /tmp/wtacc.XXXXXX)
chmod 755 "$tmp" # nginx workers run as nobody

echo "accuracy.sh: building the harness and wiretrace"
(cd "$repo/testdata/gen/accuracy" && CGO_ENABLED=0 "$GO" build -buildvcs=false -o "$tmp/accuracy" .)
if [[ $WIRETRACE == "$repo/bin/wiretrace" ]]; then
	(cd "$repo" && "$GO" build -buildvcs=false -trimpath -o bin/wiretrace ./cmd/wiretrace)
fi
[[ -x $WIRETRACE ]] || { echo "accuracy.sh: $WIRETRACE not found" >&2; exit 1; }

for ns in "$NS_NET" "${HOSTS[@]/#/wtacc-}"; do
	if ip netns list | grep -qw "^$ns"; then
		echo "accuracy.sh: namespace $ns already exists (left by a killed run?); remove it with: ip netns del $ns" >&2
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
		echo "accuracy.sh: warning: no python3; TCP checksums in the capture will be partial (offload)" >&2
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

mkns "$NS_NET"
nsx "$NS_NET" ip link add br0 type bridge stp_state 0 forward_delay 0
nsx "$NS_NET" ip link set br0 up
addr=1
for h in "${HOSTS[@]}"; do
	ns=wtacc-$h
	mkns "$ns"
	ip link add eth0 netns "$ns" type veth peer name "v-$h" netns "$NS_NET"
	nsx "$NS_NET" ip link set "v-$h" master br0 up
	nsx "$ns" ip addr add "$NET.$addr/24" dev eth0
	txcsum_off "$ns" eth0
	nsx "$ns" ip link set eth0 up
	addr=$((addr + 1))
done

start() { # start LOG NS CMD... : run CMD in NS in the background, remember its PID
	local log=$1 ns=$2
	shift 2
	ip netns exec "$ns" "$@" >"$tmp/$log" 2>&1 &
	pids+=($!)
}

# forget PID...: drop stopped PIDs from pids.
forget() {
	local live=() p
	for p in "${pids[@]}"; do
		[[ " $* " == *" $p "* ]] || live+=("$p")
	done
	pids=("${live[@]}")
}

wait_port() { # NS HOST PORT (only while no capture runs)
	local i
	for ((i = 0; i < 150; i++)); do
		ip netns exec "$1" timeout 1 bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "accuracy.sh: $2:$3 not ready after 15s" >&2
	return 1
}

wait_log() { # LOG PATTERN PID
	local i
	for ((i = 0; i < 150; i++)); do
		grep -q "$2" "$tmp/$1" 2>/dev/null && return 0
		kill -0 "$3" 2>/dev/null || break
		sleep 0.1
	done
	echo "accuracy.sh: no \"$2\" in $1" >&2
	return 1
}

# --- MariaDB and Redis -------------------------------------------------------
echo "accuracy.sh: starting MariaDB and Redis in wtacc-db"
mkdir "$tmp/mariadb" "$tmp/redis"
"$MARIADB_INSTALL_DB" --no-defaults --datadir="$tmp/mariadb" --user=root \
	--auth-root-authentication-method=normal --skip-test-db >"$tmp/mariadb-install.log" 2>&1
cat >"$tmp/mariadb-init.sql" <<SQL
CREATE DATABASE IF NOT EXISTS acc;
CREATE USER IF NOT EXISTS 'acc'@'%' IDENTIFIED BY 'acc';
GRANT ALL ON acc.* TO 'acc'@'%';
CREATE TABLE IF NOT EXISTS acc.items (id INT PRIMARY KEY, name VARCHAR(16) NOT NULL);
INSERT IGNORE INTO acc.items VALUES (1, 'widget'), (2, 'gadget');
SQL
start mariadb.log wtacc-db "$MARIADBD" --no-defaults --user=root --datadir="$tmp/mariadb" \
	--bind-address="$DB" --port=3306 --socket="$tmp/mariadb.sock" --pid-file="$tmp/mariadb.pid" \
	--init-file="$tmp/mariadb-init.sql" --skip-name-resolve --skip-log-bin \
	--innodb-buffer-pool-size=16M --performance-schema=OFF --max-connections=200
start redis.log wtacc-db "$REDIS_SERVER" --bind "$DB" --port 6379 --protected-mode no \
	--daemonize no --save "" --appendonly no --dir "$tmp/redis"
wait_port wtacc-a "$DB" 3306
wait_port wtacc-a "$DB" 6379

# --- gateway -------------------------------------------------------------------
mkdir -p "$tmp/nginx"
cat >"$tmp/nginx.conf" <<NGINX
# Generated by testdata/gen/accuracy.sh
daemon off;
master_process on;
worker_processes 1;
user nobody nogroup;
pid $tmp/nginx.pid;
error_log $tmp/nginx-error.log warn;
events { worker_connections 1024; }
http {
    log_format acc '\$request_id \$remote_addr:\$remote_port \$server_addr:\$server_port \$connection_requests \$status';
    access_log $tmp/nginx-access.log acc;
    client_body_temp_path $tmp/nginx/body;
    proxy_temp_path       $tmp/nginx/proxy;
    fastcgi_temp_path     $tmp/nginx/fastcgi;
    uwsgi_temp_path       $tmp/nginx/uwsgi;
    scgi_temp_path        $tmp/nginx/scgi;
    server_tokens off;
    upstream backend_a {
        server $A:8080;
        keepalive 64;
    }
    server {
        listen $GW:80;
        keepalive_requests 100000;
        location /api/ {
            proxy_pass http://backend_a;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Request-ID \$request_id;
            add_header X-Request-ID \$request_id always;
        }
    }
}
NGINX
start nginx.log wtacc-gw "$NGINX" -e "$tmp/nginx-error.log" -p "$tmp/nginx" -c "$tmp/nginx.conf"
wait_port wtacc-client "$GW" 80
nginx_master=${pids[-1]}

runs=()
for c in $concs; do
	run=$tmp/run-c$c
	mkdir "$run"
	echo "$c clients" >"$run/label"
	echo "accuracy.sh: run with $c clients, $requests requests"
	: >"$tmp/nginx-access.log"
	start "tcpdump-br0-c$c.log" "$NS_NET" "$TCPDUMP" -i br0 -B 32768 -s 0 -U --immediate-mode -n -w "$run/br0.pcap" tcp
	d1=${pids[-1]}
	start "tcpdump-a-c$c.log" wtacc-a "$TCPDUMP" -i eth0 -B 32768 -s 0 -U --immediate-mode -n -w "$run/a-eth0.pcap" tcp
	d2=${pids[-1]}
	for ((i = 0; i < 100; i++)); do
		grep -q "listening on" "$tmp/tcpdump-br0-c$c.log" && grep -q "listening on" "$tmp/tcpdump-a-c$c.log" && break
		sleep 0.1
	done
	sleep 0.5
	start "b-c$c.log" wtacc-b "$tmp/accuracy" serve -role b -listen "$B:8081" -mariadb "$DB:3306" \
		-redis "$DB:6379" -workers 4 -log "$run/b.log"
	sb=${pids[-1]}
	wait_log "b-c$c.log" ready "$sb"
	start "a-c$c.log" wtacc-a "$tmp/accuracy" serve -role a -listen "$A:8080" -peer "http://$B:8081" \
		-mariadb "$DB:3306" -redis "$DB:6379" -workers 4 -log "$run/a.log"
	sa=${pids[-1]}
	wait_log "a-c$c.log" ready "$sa"
	sleep 0.2
	ip netns exec wtacc-client "$tmp/accuracy" load -target "http://$GW" -c "$c" -n "$requests" -seed "$c"
	sleep 0.5
	stop "$sa"
	stop "$sb"
	sleep 0.3
	kill -INT "$d1" "$d2"
	wait "$d1" "$d2" || true
	forget "$sa" "$sb" "$d1" "$d2"
	sed -n 's/^/  tcpdump: /p' "$tmp/tcpdump-br0-c$c.log" "$tmp/tcpdump-a-c$c.log" | grep -E 'dropped by kernel' || true
	cp "$tmp/nginx-access.log" "$run/nginx.log"
	runs+=("$run")
done

echo "accuracy.sh: scoring ($WIRETRACE replay --format jsonl)"
"$tmp/accuracy" score -wiretrace "$WIRETRACE" "${verbose[@]}" "${runs[@]}"
if [[ -n ${ACC_OUT:-} ]]; then
	mkdir -p "$ACC_OUT"
	cp -r "${runs[@]}" "$ACC_OUT/"
	echo "accuracy.sh: runs kept in $ACC_OUT"
fi
