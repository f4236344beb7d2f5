#!/bin/sh
# Stop the services when the package goes away (not on an upgrade:
# deb's "upgrade", rpm's count 1).
set -e
case "$1" in
remove | purge | 0)
	if [ -d /run/systemd/system ]; then
		systemctl disable --now mailverify-serve.service 'mailverify-worker@*.service' >/dev/null 2>&1 || true
	fi
	;;
esac
