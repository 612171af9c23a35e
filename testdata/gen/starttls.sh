#!/usr/bin/env bash
# starttls.sh records the database STARTTLS captures of testdata/: the same
# queries over one MariaDB and one PostgreSQL connection, in plaintext and
# upgraded to TLS by the SSLRequest of each protocol, with the client's key
# log.
#
#   sudo testdata/gen/starttls.sh   -> testdata/starttls13.pcap/.keys,
#                                      testdata/starttls12.pcap/.keys,
#                                      testdata/starttls_plain.pcap
#
# Topology: one network namespace, wstls-gen, with its loopback only (no
# other interface, no route out). In it: mariadbd on 127.0.0.1:3306 and
# postgres on 127.0.0.1:5432, both with a self-signed certificate (EC
# P-256, CN and SAN db.test) made here for these captures only; the client
# (testdata/gen/starttls, go-sql-driver/mysql and lib/pq with a custom
# tls.Config whose KeyLogWriter writes the key log) and tcpdump on lo.
#
# Each capture holds one MariaDB connection (user shop, database shop;
# HandshakeResponse, then 4 COM_QUERY: a SELECT, an UPDATE with a
# sqlcommenter traceparent comment, a SELECT of 3 rows, a SELECT of a
# missing table: error 1146) and then one PostgreSQL connection (user
# shop, password auth in clear inside TLS; 4 simple queries of the same
# shapes, the last failing with 42P01). Cases:
#   starttls13    Go client MinVersion TLS 1.3 (TLS_AES_128_GCM_SHA256)
#   starttls12    Go client TLS 1.2 only (ECDHE-ECDSA-AES128-GCM-SHA256)
#   starttls_plain  no TLS (mysql: no SSL capability; pq: sslmode=disable)
#
# Needs root, iproute2, tcpdump, openssl, Go, setpriv (util-linux), and the
# Debian packages mariadb-server and postgresql. Env: GO, MARIADBD,
# MARIADB_INSTALL_DB, PG_BIN (directory with initdb, postgres, psql),
# WSTLS_OUT (write the files there instead of testdata/), WSTLS_WIRETRACE
# (also run "$WSTLS_WIRETRACE capture -i lo --format jsonl -q --tls-keylog
# KEYS tcp" next to tcpdump, KEYS being the key log the client is
# appending to, and write its output to $WSTLS_OUT/NAME.live.jsonl).
# Everything it starts is killed by PID, and its namespace and temp dir are
# removed, on any exit.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
	echo "starttls.sh: must run as root (network namespace, tcpdump)" >&2
	exit 1
fi
repo=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${WSTLS_OUT:-$repo/testdata}
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
TCPDUMP=${TCPDUMP:-$(command -v tcpdump || echo /usr/sbin/tcpdump)}
MARIADBD=${MARIADBD:-$(command -v mariadbd || echo /usr/sbin/mariadbd)}
MARIADB_INSTALL_DB=${MARIADB_INSTALL_DB:-$(command -v mariadb-install-db || echo /usr/bin/mariadb-install-db)}
SETPRIV=${SETPRIV:-$(command -v setpriv || echo /usr/bin/setpriv)}
if [[ -z ${PG_BIN:-} ]]; then
	PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
fi
for bin in "$GO" "$TCPDUMP" "$MARIADBD" "$MARIADB_INSTALL_DB" "$SETPRIV" "${PG_BIN:-/nonexistent}/postgres"; do
	[[ -x $bin ]] || { echo "starttls.sh: $bin not found" >&2; exit 1; }
done
command -v openssl >/dev/null || { echo "starttls.sh: openssl not found" >&2; exit 1; }
WIRETRACE=${WSTLS_WIRETRACE:-}
[[ -z $WIRETRACE || -x $WIRETRACE ]] || { echo "starttls.sh: $WIRETRACE not executable" >&2; exit 1; }
PG_USER=postgres
id -u "$PG_USER" >/dev/null 2>&1 || PG_USER=nobody
NS=wstls-gen
# Fake credentials made for these captures.
PASSWORD=starttls-Secret-4410

pids=()
tmp=""
made_ns=false

stop() { # PID...: SIGTERM, up to 5 s, then SIGKILL
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
	((${#pids[@]})) && stop "${pids[@]}"
	$made_ns && ip netns del "$NS" 2>/dev/null
	if [[ $rc -ne 0 && -n $tmp ]]; then
		echo "starttls.sh: failed (exit $rc); logs:" >&2
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

tmp=$(mktemp -d /tmp/wstls.XXXXXX)
chmod 755 "$tmp"

echo "starttls.sh: building the client"
(cd "$repo/testdata/gen/starttls" && CGO_ENABLED=0 "$GO" build -buildvcs=false -o "$tmp/client" .)

if ip netns list | grep -qw "^$NS"; then
	echo "starttls.sh: namespace $NS already exists (left by a killed run?); remove it with: ip netns del $NS" >&2
	exit 1
fi
ip netns add "$NS"
made_ns=true
ip -n "$NS" link set lo up

start() { # LOG CMD...: run CMD in the namespace in the background
	local log=$1
	shift
	ip netns exec "$NS" "$@" >"$tmp/$log" 2>&1 &
	pids+=($!)
}

wait_port() { # PORT
	local i
	for ((i = 0; i < 150; i++)); do
		ip netns exec "$NS" timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "starttls.sh: port $1 not ready after 15s" >&2
	return 1
}

echo "starttls.sh: certificate"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
	-subj /CN=db.test -addext subjectAltName=DNS:db.test \
	-keyout "$tmp/db.key" -out "$tmp/db.crt" >"$tmp/openssl.log" 2>&1

echo "starttls.sh: starting MariaDB and PostgreSQL in $NS"
mkdir "$tmp/mariadb"
"$MARIADB_INSTALL_DB" --no-defaults --datadir="$tmp/mariadb" --user=root \
	--auth-root-authentication-method=normal --skip-test-db >"$tmp/mariadb-install.log" 2>&1
cat >"$tmp/mariadb-init.sql" <<SQL
CREATE DATABASE IF NOT EXISTS shop;
CREATE USER IF NOT EXISTS 'shop'@'%' IDENTIFIED BY '$PASSWORD';
GRANT ALL ON shop.* TO 'shop'@'%';
CREATE TABLE IF NOT EXISTS shop.orders (id INT PRIMARY KEY, status VARCHAR(16) NOT NULL, seen INT NOT NULL DEFAULT 0);
INSERT IGNORE INTO shop.orders (id, status) VALUES (1, 'shipped'), (42, 'shipped'), (43, 'pending');
SQL
start mariadb.log "$MARIADBD" --no-defaults --user=root --datadir="$tmp/mariadb" \
	--bind-address=127.0.0.1 --port=3306 --socket="$tmp/mariadb.sock" --pid-file="$tmp/mariadb.pid" \
	--init-file="$tmp/mariadb-init.sql" --skip-name-resolve --skip-log-bin \
	--innodb-buffer-pool-size=16M --performance-schema=OFF \
	--ssl-cert="$tmp/db.crt" --ssl-key="$tmp/db.key" --tls-version=TLSv1.2,TLSv1.3

mkdir "$tmp/pg" "$tmp/pgsock"
chown "$PG_USER" "$tmp/pg" "$tmp/pgsock"
as_pg() { "$SETPRIV" --reuid="$PG_USER" --regid="$(id -g "$PG_USER")" --clear-groups "$@"; }
as_pg "$PG_BIN/initdb" -D "$tmp/pg" -U postgres -A trust -E UTF8 --locale=C --no-sync >"$tmp/initdb.log" 2>&1
cp "$tmp/db.crt" "$tmp/db.key" "$tmp/pg/"
chown "$PG_USER" "$tmp/pg/db.crt" "$tmp/pg/db.key"
chmod 600 "$tmp/pg/db.key"
cat >"$tmp/pg/pg_hba.conf" <<HBA
# Generated by testdata/gen/starttls.sh.
local all all              trust
host  all all 127.0.0.1/32 password
HBA
start postgres.log "$SETPRIV" --reuid="$PG_USER" --regid="$(id -g "$PG_USER")" --clear-groups \
	"$PG_BIN/postgres" -D "$tmp/pg" -c listen_addresses=127.0.0.1 -c port=5432 \
	-c unix_socket_directories="$tmp/pgsock" -c fsync=off -c synchronous_commit=off \
	-c full_page_writes=off -c shared_buffers=16MB \
	-c ssl=on -c ssl_cert_file="$tmp/pg/db.crt" -c ssl_key_file="$tmp/pg/db.key"

wait_port 3306
for ((i = 0; i < 150; i++)); do
	as_pg "$PG_BIN/pg_isready" -q -h "$tmp/pgsock" -p 5432 && break
	sleep 0.1
done
as_pg "$PG_BIN/psql" -q -X -v ON_ERROR_STOP=1 -h "$tmp/pgsock" -p 5432 -U postgres -d postgres >"$tmp/psql.log" 2>&1 <<SQL
CREATE ROLE shop LOGIN PASSWORD '$PASSWORD';
CREATE DATABASE shop OWNER shop;
\connect shop
SET ROLE shop;
CREATE TABLE stock (item text PRIMARY KEY, qty int NOT NULL, warehouse text NOT NULL);
INSERT INTO stock VALUES ('widget-7', 17, 'ams-1'), ('gadget-3', 4, 'fra-2');
SQL
wait_port 5432

# record NAME TLS: one capture. tcpdump may lag on a busy machine, and what
# it has not read when stopped is lost ("received by filter" >
# "captured"): the case is then run again, up to three times.
record() {
	local attempt rc
	for attempt in 1 2 3; do
		rc=0
		record1 "$@" || rc=$?
		((rc == 3)) || return $rc
		echo "starttls.sh: $1: tcpdump lost packets, again" >&2
	done
	return 1
}

record1() {
	local name=$1 version=$2 i npacket=1 wpid=""
	: >"$tmp/$name.keys"
	start "tcpdump-$name.log" "$TCPDUMP" -i lo -s 0 -U --immediate-mode -n -w "$tmp/$name.pcap" tcp port 3306 or tcp port 5432
	local tpid=${pids[-1]}
	if [[ -n $WIRETRACE ]]; then
		# A bound on its own, in case this script is killed first.
		ip netns exec "$NS" "$WIRETRACE" capture -i lo --ebpf off --format jsonl -q --duration 60s \
			--tls-keylog "$tmp/$name.keys" tcp >"$tmp/$name.live.jsonl" 2>"$tmp/wiretrace-$name.log" &
		wpid=$!
		pids+=($wpid)
		npacket=2
	fi
	local n=0
	for ((i = 0; i < 100; i++)); do
		n=$(($(ip netns exec "$NS" cat /proc/net/packet | wc -l) - 1))
		grep -q "listening on" "$tmp/tcpdump-$name.log" 2>/dev/null && ((n >= npacket)) && break
		sleep 0.1
	done
	((n >= npacket)) || { echo "starttls.sh: $name: a capturer did not open its socket" >&2; return 1; }
	ip netns exec "$NS" timeout 60 "$tmp/client" -mysql 127.0.0.1:3306 -postgres 127.0.0.1:5432 \
		-tls "$version" -keylog "$tmp/$name.keys" -password "$PASSWORD" >"$tmp/client-$name.log" 2>&1
	# Wait until tcpdump's file stops growing (at most 10 s).
	local size=-1 now
	for ((i = 0; i < 20; i++)); do
		sleep 0.5
		now=$(stat -c %s "$tmp/$name.pcap")
		((now == size)) && break
		size=$now
	done
	stop "$tpid"
	local captured received
	captured=$(sed -n 's/^\([0-9]*\) packets\{0,1\} captured.*/\1/p' "$tmp/tcpdump-$name.log")
	received=$(sed -n 's/^\([0-9]*\) packets\{0,1\} received by filter.*/\1/p' "$tmp/tcpdump-$name.log")
	# On lo the kernel's filter sees each packet twice (outgoing, then
	# incoming); libpcap keeps one.
	if [[ -z $captured || $((2 * captured)) != "$received" ]]; then
		[[ -n $wpid ]] && stop "$wpid"
		return 3
	fi
	cp "$tmp/$name.pcap" "$OUT/$name.pcap"
	[[ $version == off ]] || cp "$tmp/$name.keys" "$OUT/$name.keys"
	if [[ -n $wpid ]]; then
		stop "$wpid"
		cp "$tmp/$name.live.jsonl" "$OUT/$name.live.jsonl"
	fi
	echo "starttls.sh: $OUT/$name.pcap ($(stat -c %s "$tmp/$name.pcap") bytes)"
}

record starttls13 1.3
record starttls12 1.2
record starttls_plain off
