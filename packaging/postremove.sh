#!/bin/sh
# Reloads systemd after the unit file is gone; the wiretrace user and
# /var/lib/wiretrace stay (as Debian's policy keeps system users).
set -e
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
	systemctl daemon-reload || true
fi
exit 0
