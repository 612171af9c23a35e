#!/bin/sh
# Creates the unprivileged wiretrace user the service runs as and reloads
# systemd. Safe to run more than once.
set -e
if ! getent group wiretrace >/dev/null 2>&1; then
	groupadd --system wiretrace
fi
if ! getent passwd wiretrace >/dev/null 2>&1; then
	useradd --system --gid wiretrace --no-create-home \
		--home-dir /var/lib/wiretrace --shell /usr/sbin/nologin \
		--comment "wiretrace packet tracer" wiretrace
fi
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
	systemctl daemon-reload || true
fi
exit 0
