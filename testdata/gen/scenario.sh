#!/usr/bin/env bash
# scenario.sh records testdata/scenario.pcap: HTTP through nginx to a Go
# service that queries MariaDB, PostgreSQL and Redis, all real servers.
#
#   sudo testdata/gen/scenario.sh        -> testdata/scenario.pcap
#
# Topology: five network namespaces on one private /24 with no default route
# and IPv6 off. wtscen-net holds bridge br0; each host namespace has an eth0
# veth whose peer is a port of br0.
#
#   wtscen-client   10.231.23.1  curl, one new connection per request
#   wtscen-gateway  10.231.23.2  nginx :80, adds and echoes X-Request-ID
#   wtscen-app      10.231.23.3  testdata/gen/shop :8080
#   wtscen-db       10.231.23.4  mariadbd :3306, postgres :5432, redis-server :6379
#
# The three database servers are started by this script as plain processes
# in wtscen-db with their own data directories, sockets and config in a temp
# dir (never the system's; whether Debian's own services run or not does not
# matter), bound to 10.231.23.4 only. tcpdump on br0 (snaplen 0, filter
# "tcp") sees every hop once; it starts before the shop service, so the
# database handshakes are in the capture.
#
# Needs root, iproute2, nginx, tcpdump, curl, setpriv (util-linux), Go (builds
# testdata/gen/shop, its own module, whose dependencies come from the Go
# module proxy or the module cache), python3 (valid TCP checksums; optional),
# and the Debian packages mariadb-server, postgresql and redis-server.
# Env overrides: GO, NGINX, TCPDUMP, CURL, MARIADBD, MARIADB_INSTALL_DB,
# PG_BIN (directory with initdb and postgres), REDIS_SERVER.
#   WTSCEN_OUT        write the capture to this directory instead of testdata/
#   WTSCEN_WIRETRACE  also run "$WTSCEN_WIRETRACE capture -i br0 --format
#                     jsonl -q tcp" next to tcpdump and write its output to
#                     $WTSCEN_OUT/scenario.live.jsonl (the live test)
# Everything it starts is killed by PID, and its namespaces and temp dir are
# removed, on any exit.
set -euo pipefail

[[ $# -eq 0 ]] || { echo "usage: $0" >&2; exit 2; }
if [[ $(id -u) -ne 0 ]]; then
	echo "scenario.sh: must run as root (network namespaces, tcpdump)" >&2
	exit 1
fi

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out="${WTSCEN_OUT:-$repo/testdata}"
WIRETRACE=${WTSCEN_WIRETRACE:-}

GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
TCPDUMP=${TCPDUMP:-$(command -v tcpdump || echo /usr/sbin/tcpdump)}
CURL=${CURL:-$(command -v curl || echo /usr/bin/curl)}
MARIADBD=${MARIADBD:-$(command -v mariadbd || echo /usr/sbin/mariadbd)}
MARIADB_INSTALL_DB=${MARIADB_INSTALL_DB:-$(command -v mariadb-install-db || echo /usr/bin/mariadb-install-db)}
REDIS_SERVER=${REDIS_SERVER:-$(command -v redis-server || echo /usr/bin/redis-server)}
if [[ -z ${PG_BIN:-} ]]; then
	PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
fi
SETPRIV=$(command -v setpriv || echo /usr/bin/setpriv)
for bin in "$GO" "$NGINX" "$TCPDUMP" "$CURL" "$MARIADBD" "$MARIADB_INSTALL_DB" "$REDIS_SERVER" \
	"$SETPRIV" "${PG_BIN:-/nonexistent}/initdb" "${PG_BIN:-/nonexistent}/postgres"; do
	[[ -x $bin ]] || { echo "scenario.sh: $bin not found" >&2; exit 1; }
done
command -v ip >/dev/null || { echo "scenario.sh: ip (iproute2) not found" >&2; exit 1; }
[[ -z $WIRETRACE || -x $WIRETRACE ]] || { echo "scenario.sh: $WIRETRACE not executable" >&2; exit 1; }
# PostgreSQL refuses to run as root: its files and process belong to this user.
PG_USER=postgres
id -u "$PG_USER" >/dev/null 2>&1 || PG_USER=nobody

NET=10.231.23
CLIENT=$NET.1 GATEWAY=$NET.2 APP=$NET.3 DB=$NET.4
NS_NET=wtscen-net
HOSTS=(client gateway app db)

# Fake credentials made for this capture; tests check none reaches output.
MARIADB_PASSWORD=maria-Secret-7781
PG_PASSWORD=pg-Secret-5520
REDIS_PASSWORD=redis-Secret-3391

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
	# Reverse start order: capturers, shop, nginx, then the databases.
	((${#rev[@]})) && stop "${rev[@]}"
	for ns in "${created_ns[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	if [[ $rc -ne 0 && -n $tmp ]]; then
		echo "scenario.sh: failed (exit $rc); logs:" >&2
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

tmp=$(mktemp -d /tmp/wtscen.XXXXXX)
chmod 755 "$tmp" # nginx workers run as nobody, postgres as $PG_USER

echo "scenario.sh: building shop"
(cd "$repo/testdata/gen/shop" && CGO_ENABLED=0 "$GO" build -buildvcs=false -o "$tmp/shop" .)

# --- namespaces and bridge -------------------------------------------------
for ns in "$NS_NET" "${HOSTS[@]/#/wtscen-}"; do
	if ip netns list | grep -qw "^$ns"; then
		echo "scenario.sh: namespace $ns already exists (left by a killed run?); remove it with: ip netns del $ns" >&2
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
		echo "scenario.sh: warning: no python3; TCP checksums in the capture will be partial (offload)" >&2
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
	ns=wtscen-$h
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

# Wait for a listener with a bounded number of TCP connects (only before
# tcpdump starts, so the probes are not in the capture).
wait_port() { # NS HOST PORT
	local i
	for ((i = 0; i < 150; i++)); do
		if ip netns exec "$1" timeout 1 bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	echo "scenario.sh: $2:$3 not ready after 15s" >&2
	return 1
}

# --- databases ---------------------------------------------------------------
echo "scenario.sh: starting MariaDB, PostgreSQL and Redis in wtscen-db"
mkdir "$tmp/mariadb"
"$MARIADB_INSTALL_DB" --no-defaults --datadir="$tmp/mariadb" --user=root \
	--auth-root-authentication-method=normal --skip-test-db >"$tmp/mariadb-install.log" 2>&1
cat >"$tmp/mariadb-init.sql" <<SQL
CREATE DATABASE IF NOT EXISTS shop;
CREATE USER IF NOT EXISTS 'shop'@'%' IDENTIFIED BY '$MARIADB_PASSWORD';
GRANT ALL ON shop.* TO 'shop'@'%';
CREATE TABLE IF NOT EXISTS shop.orders (id INT PRIMARY KEY, status VARCHAR(16) NOT NULL, seen INT NOT NULL DEFAULT 0);
INSERT IGNORE INTO shop.orders (id, status) VALUES (1, 'shipped'), (42, 'shipped'), (43, 'pending');
CREATE TABLE IF NOT EXISTS shop.order_lines (id INT AUTO_INCREMENT PRIMARY KEY, order_id INT NOT NULL, item VARCHAR(32) NOT NULL, qty INT NOT NULL);
SQL
start mariadb.log wtscen-db "$MARIADBD" --no-defaults --user=root --datadir="$tmp/mariadb" \
	--bind-address="$DB" --port=3306 --socket="$tmp/mariadb.sock" --pid-file="$tmp/mariadb.pid" \
	--init-file="$tmp/mariadb-init.sql" --skip-name-resolve --skip-log-bin \
	--innodb-buffer-pool-size=16M --performance-schema=OFF

mkdir "$tmp/pg" "$tmp/pgsock"
chown "$PG_USER" "$tmp/pg" "$tmp/pgsock"
as_pg() { "$SETPRIV" --reuid="$PG_USER" --regid="$(id -g "$PG_USER")" --clear-groups "$@"; }
as_pg "$PG_BIN/initdb" -D "$tmp/pg" -U postgres -A trust -E UTF8 --locale=C --no-sync >"$tmp/initdb.log" 2>&1
cat >"$tmp/pg/pg_hba.conf" <<HBA
# Generated by testdata/gen/scenario.sh: clients on the network send the
# password in clear ("password"), so the capture holds it for redaction tests.
local all all           trust
host  all all $NET.0/24 password
HBA
start postgres.log wtscen-db "$SETPRIV" --reuid="$PG_USER" --regid="$(id -g "$PG_USER")" --clear-groups \
	"$PG_BIN/postgres" -D "$tmp/pg" -c listen_addresses="$DB" -c port=5432 \
	-c unix_socket_directories="$tmp/pgsock" -c fsync=off -c synchronous_commit=off \
	-c full_page_writes=off -c shared_buffers=16MB -c password_encryption=scram-sha-256

mkdir "$tmp/redis"
cat >"$tmp/redis.conf" <<REDIS
bind $DB
port 6379
protected-mode no
daemonize no
save ""
appendonly no
dir $tmp/redis
requirepass $REDIS_PASSWORD
REDIS
start redis.log wtscen-db "$REDIS_SERVER" "$tmp/redis.conf"

wait_port wtscen-app "$DB" 3306
wait_port wtscen-app "$DB" 6379
for ((i = 0; i < 150; i++)); do
	as_pg "$PG_BIN/pg_isready" -q -h "$tmp/pgsock" -p 5432 && break
	sleep 0.1
done
as_pg "$PG_BIN/psql" -q -X -v ON_ERROR_STOP=1 -h "$tmp/pgsock" -p 5432 -U postgres -d postgres >"$tmp/psql.log" 2>&1 <<SQL
CREATE ROLE shop LOGIN PASSWORD '$PG_PASSWORD';
CREATE DATABASE shop OWNER shop;
\connect shop
SET ROLE shop;
CREATE TABLE stock (item text PRIMARY KEY, qty int NOT NULL, warehouse text NOT NULL);
INSERT INTO stock VALUES ('widget-7', 17, 'ams-1'), ('gadget-3', 4, 'fra-2');
SQL
wait_port wtscen-app "$DB" 5432

# --- gateway -------------------------------------------------------------------
mkdir -p "$tmp/nginx"
cat >"$tmp/nginx.conf" <<NGINX
# Generated by testdata/gen/scenario.sh
daemon off;
master_process on;
worker_processes 1;
user nobody nogroup;
pid $tmp/nginx.pid;
error_log $tmp/nginx-error.log info;

events { worker_connections 64; }

http {
    access_log $tmp/nginx-access.log;
    client_body_temp_path $tmp/nginx/body;
    proxy_temp_path       $tmp/nginx/proxy;
    fastcgi_temp_path     $tmp/nginx/fastcgi;
    uwsgi_temp_path       $tmp/nginx/uwsgi;
    scgi_temp_path        $tmp/nginx/scgi;
    server_tokens off;

    upstream shop {
        server $APP:8080;
        keepalive 4;
    }

    server {
        listen $GATEWAY:80;
        server_name gateway;

        location /api/ {
            proxy_pass http://shop;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$host;
            proxy_set_header X-Request-ID \$request_id;
            add_header X-Request-ID \$request_id always;
        }
    }
}
NGINX
start nginx.log wtscen-gateway "$NGINX" -e "$tmp/nginx-error.log" -p "$tmp/nginx" -c "$tmp/nginx.conf"
wait_port wtscen-client "$GATEWAY" 80

# --- capture -------------------------------------------------------------------
dump_pids=()
# -U: write each packet as it arrives; --immediate-mode: hand each packet
# over at once (with TPACKET_V3 libpcap otherwise holds packets in a ring
# block for up to 1 s, and those in the current block are lost at SIGINT);
# snaplen 0 = whole frames.
start tcpdump.log "$NS_NET" "$TCPDUMP" -i br0 -s 0 -U --immediate-mode -n -w "$tmp/scenario.pcap" tcp
dump_pids+=("${pids[-1]}")
npacket=1
if [[ -n $WIRETRACE ]]; then
	# A bound on its own, in case this script is killed before it stops it.
	ip netns exec "$NS_NET" "$WIRETRACE" capture -i br0 --format jsonl -q --duration 90s tcp \
		>"$tmp/scenario.live.jsonl" 2>"$tmp/wiretrace.log" &
	pids+=($!)
	dump_pids+=($!)
	npacket=2
fi
for ((i = 0; i < 100; i++)); do
	# Each capturer holds one packet socket in wtscen-net.
	n=$(($(ip netns exec "$NS_NET" cat /proc/net/packet | wc -l) - 1))
	grep -q "listening on" "$tmp/tcpdump.log" 2>/dev/null && ((n >= npacket)) && break
	sleep 0.1
done
grep -q "listening on" "$tmp/tcpdump.log" || { echo "scenario.sh: tcpdump did not start" >&2; exit 1; }
((n >= npacket)) || { echo "scenario.sh: wiretrace capture did not open its socket" >&2; exit 1; }
sleep 0.5

# --- shop ------------------------------------------------------------------------
start shop.log wtscen-app "$tmp/shop" -listen "$APP:8080" \
	-mariadb "shop:$MARIADB_PASSWORD@tcp($DB:3306)/shop?tls=false&timeout=5s" \
	-postgres "host=$DB port=5432 user=shop password=$PG_PASSWORD dbname=shop sslmode=disable connect_timeout=5" \
	-redis "$DB:6379" -redis-password "$REDIS_PASSWORD"
for ((i = 0; i < 100; i++)); do
	grep -q "ready" "$tmp/shop.log" && break
	kill -0 "${pids[-1]}" 2>/dev/null || break
	sleep 0.1
done
grep -q "ready" "$tmp/shop.log" || { echo "scenario.sh: shop did not start" >&2; exit 1; }
sleep 0.2

# --- requests ----------------------------------------------------------------------
request() { # METHOD PATH [DATA]
	local method=$1 path=$2 data=${3:-}
	local args=(-sS --max-time 5 -o "$tmp/body" -w '%{http_code}' -X "$method" -A wtscen-client/1)
	[[ -n $data ]] && args+=(-H 'Content-Type: application/json' --data-binary "$data")
	local code
	code=$(ip netns exec wtscen-client "$CURL" "${args[@]}" "http://$GATEWAY$path")
	echo "  $method $path -> $code $(tr -d '\n' <"$tmp/body")"
}

echo "scenario.sh: sending requests from $CLIENT to gateway $GATEWAY"
request GET /api/orders/42
sleep 0.2
request POST /api/checkout '{"order_id":42,"item":"widget-7","qty":2}'
sleep 0.2
request GET /api/slow
sleep 0.2
request GET /api/fail
# Let the capturers read the last packets off their sockets before they
# are stopped (a loaded machine schedules them late).
sleep 1.5

# --- stop the capturers, keep the files ----------------------------------------------
for pid in "${dump_pids[@]}"; do
	kill -INT "$pid"
done
for pid in "${dump_pids[@]}"; do
	wait "$pid" || { echo "scenario.sh: a capturer failed; see its log" >&2; exit 1; }
done
live=()
for pid in "${pids[@]}"; do
	[[ " ${dump_pids[*]} " == *" $pid "* ]] || live+=("$pid")
done
pids=("${live[@]}")
sed -n 's/^/  tcpdump: /p' "$tmp/tcpdump.log" | grep -E 'captured|dropped' || true
install -m 0644 "$tmp/scenario.pcap" "$out/scenario.pcap"
echo "scenario.sh: wrote $out/scenario.pcap ($(stat -c %s "$out/scenario.pcap") bytes)"
if [[ -n $WIRETRACE ]]; then
	install -m 0644 "$tmp/scenario.live.jsonl" "$out/scenario.live.jsonl"
	echo "scenario.sh: wrote $out/scenario.live.jsonl ($(wc -l <"$out/scenario.live.jsonl") spans)"
fi
