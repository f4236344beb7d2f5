#!/usr/bin/env bash
# Integration harness: real DNS (NSD), Postfix and postgrey in a Linux
# network namespace, on loopback addresses only. Needs root and Debian's
# postfix, postgrey, nsd, openssl, iproute2, unbound, ldnsutils and
# dante-server (a SOCKS5 proxy, one egress of the pool test).
#
#   integration/harness.sh install   # apt-get the packages
#   integration/harness.sh up        # start everything (idempotent)
#   integration/harness.sh test      # go test -tags integration inside the namespace
#   integration/harness.sh down      # stop everything, delete the namespace (idempotent)
#   integration/harness.sh check-clean  # fail if any process or the namespace is left
set -euo pipefail

NS=${MAILVERIFY_IT_NS:-mailverify-it}
DIR=${MAILVERIFY_IT_DIR:-/tmp/mailverify-it}
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=integration/dante.sh
. "$HERE/dante.sh"
in_ns() { ip netns exec "$NS" "$@"; }

install() {
	export DEBIAN_FRONTEND=noninteractive
	if ! command -v postfix >/dev/null || ! command -v nsd >/dev/null || ! command -v postgrey >/dev/null || ! command -v openssl >/dev/null ||
		! command -v unbound >/dev/null || ! command -v ldns-signzone >/dev/null || ! command -v danted >/dev/null; then
		apt-get update -qq
		# Debian's postinst scripts would start the daemons on the host; forbid it.
		local own_policy=0
		if [ ! -e /usr/sbin/policy-rc.d ]; then
			printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
			own_policy=1
		fi
		apt-get install -y -qq postfix postgrey nsd openssl iproute2 unbound ldnsutils dante-server >/dev/null
		if [ $own_policy = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
	fi
}

zone() {
	cat <<'ZONE'
$ORIGIN it.test.
$TTL 60
@            IN SOA ns.it.test. hostmaster.it.test. 1 3600 600 86400 30
@            IN NS  ns.it.test.
ns           IN A   127.0.0.53
mailbox      IN MX 10 mx-mailbox.it.test.
mx-mailbox   IN A   127.0.0.10
catchall     IN MX 10 mx-open.it.test.
mx-open      IN A   127.0.0.11
implicit     IN A   127.0.0.11
access       IN MX 10 mx-access.it.test.
mx-access    IN A   127.0.0.12
grey         IN MX 10 mx-grey.it.test.
mx-grey      IN A   127.0.0.13
tls          IN MX 10 mx-tls.it.test.
mx-tls       IN A   127.0.0.14
slow         IN MX 10 mx-slow.it.test.
mx-slow      IN A   127.0.0.15
limit        IN MX 10 mx-limit.it.test.
mx-limit     IN A   127.0.0.16
nullmx       IN MX 0 .
closed       IN MX 10 mx-closed.it.test.
mx-closed    IN A   127.0.0.20
deadhost     IN MX 10 nohost.it.test.
ipv6         IN MX 10 mx6.it.test.
mx6          IN AAAA ::1
backup       IN MX 10 mx-closed.it.test.
backup       IN MX 20 mx-mailbox.it.test.
ratelimited  IN MX 10 mx-rate.it.test.
ratelimited  IN MX 20 mx-open.it.test.
mx-rate      IN A   127.0.0.17
hardlimit    IN MX 10 mx-hardlimit.it.test.
mx-hardlimit IN A   127.0.0.18
grey2        IN MX 10 mx-grey2.it.test.
shared       IN MX 10 mx-mailbox.it.test.
mx-grey2     IN A   127.0.0.19
; diagnose: diag is set up right, diagbad wrong.
diag            IN MX 10 mx-tls.it.test.
diag            IN TXT "v=spf1 mx -all"
_dmarc.diag     IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc@diag.it.test"
_mta-sts.diag   IN TXT "v=STSv1; id=20261201"
mta-sts.diag    IN A   127.0.0.54
_smtp._tls.diag IN TXT "v=TLSRPTv1; rua=mailto:tlsrpt@diag.it.test"
diagold         IN MX 10 mx-mailbox.it.test.
diagcert        IN MX 10 mx-badcert.it.test.
mx-badcert      IN A   127.0.0.22
diagbad         IN MX 10 mx-relay.it.test.
mx-relay        IN A   127.0.0.21
_dmarc.diagbad  IN TXT "v=DMARC1; p=none"
diagbad         IN TXT "v=spf1 include:i1.it.test include:i2.it.test include:i3.it.test include:i4.it.test include:i5.it.test include:i6.it.test include:i7.it.test include:i8.it.test include:i9.it.test include:i10.it.test include:i11.it.test -all"
i1           IN TXT "v=spf1 -all"
i2           IN TXT "v=spf1 -all"
i3           IN TXT "v=spf1 -all"
i4           IN TXT "v=spf1 -all"
i5           IN TXT "v=spf1 -all"
i6           IN TXT "v=spf1 -all"
i7           IN TXT "v=spf1 -all"
i8           IN TXT "v=spf1 -all"
i9           IN TXT "v=spf1 -all"
i10           IN TXT "v=spf1 -all"
i11           IN TXT "v=spf1 -all"
; a DNS blocklist listing the open relay, and its test entry (RFC 5782)
21.0.0.127.bl   IN A   127.0.0.2
2.0.0.127.bl    IN A   127.0.0.2
; doctor: egresses 127.0.0.30 (PTR out.it.test) and 127.0.0.31 (no PTR, listed),
; a server that greets with 554 (the test serves it), one behind a dropping route
out          IN A   127.0.0.30
egress       IN MX 10 mx-mailbox.it.test.
egress       IN TXT "v=spf1 ip4:127.0.0.30 -all"
31.0.0.127.bl IN A  127.0.0.2
refuser      IN MX 10 mx-refuse.it.test.
mx-refuse    IN A   127.0.0.41
dropped      IN MX 10 mx-dropped.it.test.
mx-dropped   IN A   192.0.2.25
; egress pool: the listener refuses source 127.0.0.33 (a policy block);
; dante at 127.0.0.34:1080 goes out from 127.0.0.35
pool         IN MX 10 mx-pool.it.test.
mx-pool      IN A   127.0.0.23
; its anvil rate limit throttles a client after 4 recipients a minute
; (dante's 127.0.0.35 is exempt)
throttle     IN MX 10 mx-throttle.it.test.
mx-throttle  IN A   127.0.0.24
ZONE
}

# sec.test is signed (ldns-signzone) and validated by unbound at
# 127.0.0.55, for diagnose's DNSSEC and DANE checks: its MX hosts are the
# mx-tls Postfix, with a TLSA record of that server's key (mx.sec.test)
# and one of another key (mx2.sec.test, under bad.sec.test).
signed_zone() {
	local spki
	spki=$(openssl x509 -in "$DIR/tls.crt" -noout -pubkey | openssl pkey -pubin -outform DER 2>/dev/null | sha256sum | cut -d' ' -f1)
	cat >"$DIR/sec.test.zone" <<ZONE
\$ORIGIN sec.test.
\$TTL 60
@                IN SOA ns.it.test. hostmaster.it.test. 1 3600 600 86400 30
@                IN NS  ns.it.test.
@                IN MX  10 mx.sec.test.
mx               IN A   127.0.0.14
_25._tcp.mx      IN TLSA 3 1 1 $spki
bad              IN MX  10 mx2.sec.test.
mx2              IN A   127.0.0.14
_25._tcp.mx2     IN TLSA 3 1 1 $(printf 'ab%.0s' $(seq 1 32))
ZONE
	(cd "$DIR" && ldns-keygen -a ECDSAP256SHA256 sec.test >zsk.name && ldns-keygen -a ECDSAP256SHA256 -k sec.test >ksk.name &&
		ldns-signzone -o sec.test sec.test.zone "$(cat zsk.name)" "$(cat ksk.name)" >/dev/null &&
		cp "$(cat ksk.name).key" trust-anchor.key)
	cat >"$DIR/unbound.conf" <<CONF
server:
  interface: 127.0.0.55
  port: 53
  do-ip6: no
  access-control: 127.0.0.0/8 allow
  do-not-query-localhost: no
  username: ""
  chroot: ""
  directory: "$DIR"
  pidfile: "$DIR/unbound.pid"
  use-syslog: no
  logfile: "$DIR/unbound.log"
  module-config: "validator iterator"
  local-zone: "test." nodefault
  trust-anchor-file: "$DIR/trust-anchor.key"
  domain-insecure: "it.test"
  domain-insecure: "0.0.127.in-addr.arpa"
remote-control:
  control-enable: no
stub-zone:
  name: "sec.test"
  stub-addr: 127.0.0.53
stub-zone:
  name: "it.test"
  stub-addr: 127.0.0.53
stub-zone:
  name: "0.0.127.in-addr.arpa"
  stub-addr: 127.0.0.53
CONF
}

reverse_zone() {
	cat <<'ZONE'
$ORIGIN 0.0.127.in-addr.arpa.
$TTL 60
@   IN SOA ns.it.test. hostmaster.it.test. 1 3600 600 86400 30
@   IN NS  ns.it.test.
14  IN PTR mx-tls.it.test.
30  IN PTR out.it.test.
ZONE
}

postfix_conf() {
	mkdir -p "$DIR/postfix" "$DIR/spool" "$DIR/data"
	chown postfix:postfix "$DIR/data"
	openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=mx-tls.it.test -days 90 \
		-addext "subjectAltName=DNS:mx-tls.it.test" -keyout "$DIR/tls.key" -out "$DIR/tls.crt" 2>/dev/null
	# A broken TLS setup for diagnose: a certificate for another name.
	openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=wrong.example -days 90 \
		-addext "subjectAltName=DNS:wrong.example" -keyout "$DIR/bad.key" -out "$DIR/bad.crt" 2>/dev/null
	cat >"$DIR/postfix/main.cf" <<CONF
compatibility_level = 3.6
myhostname = mx.it.test
mydomain = it.test
mydestination =
# Nothing is trusted: the verifier connects from 127.0.0.1 and must meet the restrictions.
mynetworks = 192.0.2.1/32
inet_interfaces = all
inet_protocols = all
queue_directory = $DIR/spool
data_directory = $DIR/data
maillog_file = $DIR/maillog
maillog_file_prefixes = $DIR
alias_maps =
alias_database =
smtpd_banner = \$myhostname ESMTP
smtpd_tls_cert_file = $DIR/tls.crt
smtpd_tls_key_file = $DIR/tls.key
smtpd_tls_security_level = may
# relay_domains is read by trivial-rewrite, so it lists every test domain
# here; the listeners differ in their recipient maps and restrictions.
relay_domains = mailbox.it.test, backup.it.test, catchall.it.test, implicit.it.test, ipv6.it.test,
  access.it.test, grey.it.test, tls.it.test, slow.it.test, limit.it.test, ratelimited.it.test,
  hardlimit.it.test, grey2.it.test, shared.it.test, diagbad.it.test, pool.it.test, throttle.it.test
# Every domain accepts postmaster@ (RFC 5321 4.5.1): it is the control
# that makes a specific refusal count (verify/harvest.go).
relay_recipient_maps = inline:{ jane@mailbox.it.test=ok, info@mailbox.it.test=ok, postmaster@mailbox.it.test=ok, jane@backup.it.test=ok, postmaster@backup.it.test=ok, jane@shared.it.test=ok, postmaster@shared.it.test=ok, jane@pool.it.test=ok, postmaster@pool.it.test=ok, jane@throttle.it.test=ok, postmaster@throttle.it.test=ok }
relay_transport = discard
smtpd_soft_error_limit = 10
smtpd_hard_error_limit = 20
# Per-listener settings, used by master.cf (whose -o values cannot hold spaces).
bad_cert_file = $DIR/bad.crt
bad_key_file = $DIR/bad.key
known_rcpts = inline:{ jane@access.it.test=ok, postmaster@access.it.test=ok, full@access.it.test=ok, disabled@access.it.test=ok, jane@grey.it.test=ok, postmaster@grey.it.test=ok, jane@tls.it.test=ok, postmaster@tls.it.test=ok, jane@slow.it.test=ok, postmaster@slow.it.test=ok, jane@ratelimited.it.test=ok, postmaster@ratelimited.it.test=ok, jane@grey2.it.test=ok, postmaster@grey2.it.test=ok }
access_restrictions = check_recipient_access inline:{ { full@access.it.test = 552 5.2.2 Mailbox full }, { disabled@access.it.test = 550 5.2.1 Mailbox disabled } }, reject_unauth_destination
grey_restrictions = reject_unauth_destination, check_policy_service inet:127.0.0.1:10023
slow_restrictions = sleep 2, reject_unauth_destination
# A hard recipient limit answered with 5xx (Postfix's own limit says 452):
# a policy service that refuses the fourth recipient of a transaction.
hardlimit_restrictions = reject_unauth_destination, check_policy_service unix:private/policy-limit
# Greylisting in the style of postgrey's default 300 s, shortened to 12 s;
# the reply states no delay.
grey2_restrictions = reject_unauth_destination, check_policy_service inet:127.0.0.1:10024
# The egress pool's server: it bans one source address with Microsoft's
# words (a reply about the egress, never the mailbox).
pool_restrictions = check_client_access inline:{ { 127.0.0.33 = 550 5.7.606 Access denied, banned sending IP [127.0.0.33] } }, reject_unauth_destination
CONF
	cat >"$DIR/limit-policy.sh" <<'POLICY'
# Postfix policy service (spawned): 550 5.5.3 for the 4th RCPT of a transaction.
declare -A seen
inst=
while IFS= read -r line; do
	line=${line%$'\r'}
	if [ -n "$line" ]; then
		case $line in instance=*) inst=${line#instance=} ;; esac
		continue
	fi
	seen[x$inst]=$((${seen[x$inst]:-0} + 1))
	if [ "${seen[x$inst]}" -gt 3 ]; then
		printf 'action=550 5.5.3 Too many recipients\n\n'
	else
		printf 'action=dunno\n\n'
	fi
done
POLICY
	chmod 755 "$DIR/limit-policy.sh"
	cat >"$DIR/postfix/master.cf" <<'CONF'
127.0.0.10:smtp inet n - n - - smtpd -o syslog_name=postfix/mailbox
127.0.0.11:smtp inet n - n - - smtpd -o syslog_name=postfix/open -o relay_recipient_maps=
[::1]:smtp      inet n - n - - smtpd -o syslog_name=postfix/ipv6 -o relay_recipient_maps=
127.0.0.12:smtp inet n - n - - smtpd -o syslog_name=postfix/access -o relay_recipient_maps=$known_rcpts -o smtpd_recipient_restrictions=$access_restrictions
127.0.0.13:smtp inet n - n - - smtpd -o syslog_name=postfix/grey -o relay_recipient_maps=$known_rcpts -o smtpd_recipient_restrictions=$grey_restrictions
127.0.0.14:smtp inet n - n - - smtpd -o syslog_name=postfix/tls -o relay_recipient_maps=$known_rcpts -o smtpd_tls_security_level=encrypt -o smtpd_tls_protocols=>=TLSv1.2 -o smtpd_tls_mandatory_protocols=>=TLSv1.2
127.0.0.15:smtp inet n - n - - smtpd -o syslog_name=postfix/slow -o relay_recipient_maps=$known_rcpts -o smtpd_recipient_restrictions=$slow_restrictions
127.0.0.16:smtp inet n - n - - smtpd -o syslog_name=postfix/limit -o relay_recipient_maps= -o smtpd_recipient_limit=3
127.0.0.17:smtp inet n - n - - smtpd -o syslog_name=postfix/rate -o relay_recipient_maps=$known_rcpts -o smtpd_client_recipient_rate_limit=3
127.0.0.18:smtp inet n - n - - smtpd -o syslog_name=postfix/hardlimit -o relay_recipient_maps= -o smtpd_recipient_restrictions=$hardlimit_restrictions
127.0.0.19:smtp inet n - n - - smtpd -o syslog_name=postfix/grey2 -o relay_recipient_maps=$known_rcpts -o smtpd_recipient_restrictions=$grey2_restrictions
127.0.0.23:smtp inet n - n - - smtpd -o syslog_name=postfix/pool -o smtpd_recipient_restrictions=$pool_restrictions
127.0.0.24:smtp inet n - n - - smtpd -o syslog_name=postfix/throttle -o smtpd_client_recipient_rate_limit=4 -o smtpd_client_event_limit_exceptions=127.0.0.35
127.0.0.22:smtp inet n - n - - smtpd -o syslog_name=postfix/badcert -o relay_recipient_maps= -o smtpd_tls_cert_file=$bad_cert_file -o smtpd_tls_key_file=$bad_key_file
127.0.0.21:smtp inet n - n - - smtpd -o syslog_name=postfix/relay -o relay_recipient_maps= -o mynetworks=127.0.0.0/8 -o smtpd_relay_restrictions=permit_mynetworks,reject_unauth_destination -o smtpd_recipient_restrictions=permit_mynetworks,reject_unauth_destination -o smtpd_tls_security_level=none
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
CONF
	echo "policy-limit unix - n n - 0 spawn user=nobody argv=/bin/bash $DIR/limit-policy.sh" >>"$DIR/postfix/master.cf"
}

# drop_route sends 192.0.2.0/24 (doctor's "dropped port") into a veth
# whose neighbour never answers: packets vanish, connections time out.
drop_route() {
	if in_ns ip link add mvdrop0 type veth peer name mvdrop1 2>/dev/null; then
		in_ns ip link set mvdrop0 up && in_ns ip link set mvdrop1 up &&
			in_ns ip addr add 198.18.0.1/24 dev mvdrop0 &&
			in_ns ip neigh add 198.18.0.2 lladdr 02:00:00:00:00:01 dev mvdrop0 nud permanent &&
			in_ns ip route add 192.0.2.0/24 via 198.18.0.2 dev mvdrop0 && touch "$DIR/dropped-route"
	else
		echo "harness: no veth links here; doctor's dropped-port test will be skipped" >&2
	fi
}

wait_port() { # ip port
	for _ in $(seq 1 100); do
		if in_ns bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	echo "harness: nothing listens on $1:$2" >&2
	return 1
}

up() {
	down >/dev/null 2>&1 || true
	mkdir -p "$DIR"
	ip netns add "$NS"
	in_ns ip link set lo up
	drop_route

	postfix_conf # writes the certificates the signed zone's TLSA records hash
	zone >"$DIR/it.test.zone"
	reverse_zone >"$DIR/reverse.zone"
	signed_zone
	cat >"$DIR/nsd.conf" <<CONF
server:
  ip-address: 127.0.0.53
  port: 53
  username: ""
  chroot: ""
  zonesdir: "$DIR"
  pidfile: "$DIR/nsd.pid"
  database: ""
  xfrdfile: "$DIR/xfrd.state"
  zonelistfile: "$DIR/zone.list"
  logfile: "$DIR/nsd.log"
  verbosity: 1
remote-control:
  control-enable: no
zone:
  name: it.test
  zonefile: it.test.zone
zone:
  name: 0.0.127.in-addr.arpa
  zonefile: reverse.zone
zone:
  name: sec.test
  zonefile: sec.test.zone.signed
CONF
	in_ns nsd -c "$DIR/nsd.conf"

	mkdir -p "$DIR/postgrey"
	chown postgrey "$DIR/postgrey" 2>/dev/null || true
	in_ns postgrey --inet=127.0.0.1:10023 --delay=3 --dbdir="$DIR/postgrey" --pidfile="$DIR/postgrey.pid" --daemonize
	mkdir -p "$DIR/postgrey2"
	chown postgrey "$DIR/postgrey2" 2>/dev/null || true
	in_ns postgrey --inet=127.0.0.1:10024 --delay=12 --dbdir="$DIR/postgrey2" --pidfile="$DIR/postgrey2.pid" --daemonize

	in_ns unbound -c "$DIR/unbound.conf"
	in_ns postfix -c "$DIR/postfix" start
	dante_conf
	in_ns ip addr add 127.0.0.34/32 dev lo && in_ns ip addr add 127.0.0.35/32 dev lo
	in_ns danted -D -f "$DIR/danted.conf" -p "$DIR/danted.pid"
	for ip in 127.0.0.10 127.0.0.11 127.0.0.12 127.0.0.13 127.0.0.14 127.0.0.15 127.0.0.16 127.0.0.17 127.0.0.18 127.0.0.19 127.0.0.21 127.0.0.22 127.0.0.23 127.0.0.24 ::1; do
		wait_port "$ip" 25
	done
	wait_port 127.0.0.34 1080
	wait_port 127.0.0.1 10023
	wait_port 127.0.0.1 10024
	wait_port 127.0.0.55 53
	echo "harness: up in namespace $NS, state in $DIR"
}

down() {
	if ip netns list | grep -qw "$NS"; then
		in_ns postfix -c "$DIR/postfix" stop 2>/dev/null || true
	fi
	for pid in "$DIR/nsd.pid" "$DIR/postgrey.pid" "$DIR/postgrey2.pid" "$DIR/unbound.pid" "$DIR/danted.pid"; do
		[ -f "$pid" ] && kill "$(cat "$pid")" 2>/dev/null || true
	done
	# Anything still running in the namespace goes too.
	if ip netns list | grep -qw "$NS"; then
		for pid in $(ip netns pids "$NS"); do kill "$pid" 2>/dev/null || true; done
		sleep 0.5
		for pid in $(ip netns pids "$NS"); do kill -9 "$pid" 2>/dev/null || true; done
		ip netns del "$NS"
	fi
	rm -rf "$DIR"
}

check_clean() {
	local bad=0
	if ip netns list | grep -qw "$NS"; then echo "harness: namespace $NS left behind" >&2; bad=1; fi
	if pgrep -f "$DIR" >/dev/null; then echo "harness: processes left behind:" >&2; pgrep -af "$DIR" >&2; bad=1; fi
	return $bad
}

run_tests() {
	cd "$HERE/.."
	in_ns env MAILVERIFY_IT_DIR="$DIR" MAILVERIFY_IT_DNS=127.0.0.53:53 MAILVERIFY_IT_VALIDATING_DNS=127.0.0.55:53 go test -tags integration -count=1 -v ./integration ./diagnose
}

case "${1:-}" in
install) install ;;
up) up ;;
down) down ;;
test) run_tests ;;
check-clean) check_clean ;;
*) echo "usage: $0 install|up|test|down|check-clean" >&2; exit 2 ;;
esac
