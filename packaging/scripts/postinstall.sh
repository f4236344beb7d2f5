#!/bin/sh
# A first install gets a random API token, readable by root only (systemd
# hands it to the service as a credential). Nothing is started: set
# /etc/mailverify/mailverify.env first.
set -e
umask 077
if [ ! -e /etc/mailverify/tokens ]; then
	mkdir -p /etc/mailverify
	od -An -N32 -tx1 /dev/urandom | tr -d ' \n' > /etc/mailverify/tokens
	echo >> /etc/mailverify/tokens
	chmod 0600 /etc/mailverify/tokens
fi
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload || true
	# An upgrade restarts what was running.
	systemctl try-restart mailverify-serve.service 'mailverify-worker@*.service' || true
fi
echo "mailverify: set /etc/mailverify/mailverify.env, then: systemctl enable --now mailverify-serve (docs: /usr/share/doc/mailverify/runbook.md)"
