#!/bin/sh
# Stops the service before its files go (removal, not upgrade).
set -e
case "$1" in
remove|purge|0)
	if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
		systemctl stop wiretrace.service >/dev/null 2>&1 || true
		systemctl disable wiretrace.service >/dev/null 2>&1 || true
	fi
	;;
esac
exit 0
