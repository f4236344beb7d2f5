#!/bin/sh
# The service's dedicated system user; kept on removal, as its files may be.
set -e
if ! getent group mailverify >/dev/null; then
	groupadd --system mailverify
fi
if ! getent passwd mailverify >/dev/null; then
	useradd --system --gid mailverify --home-dir /var/lib/mailverify --no-create-home \
		--shell /usr/sbin/nologin --comment "mailverify service" mailverify
fi
