# Sourced by harness.sh: the SOCKS5 proxy of the egress pool test.

# dante: a SOCKS5 proxy (no authentication, loopback clients only) whose
# connections leave from 127.0.0.35, one egress of the pool test.
dante_conf() {
	cat >"$DIR/danted.conf" <<CONF
logoutput: $DIR/danted.log
internal: 127.0.0.34 port = 1080
external: 127.0.0.35
clientmethod: none
socksmethod: none
user.unprivileged: nobody
client pass {
	from: 127.0.0.0/8 to: 0.0.0.0/0
	log: error
}
socks pass {
	from: 127.0.0.0/8 to: 127.0.0.0/8
	command: connect
	log: error
}
CONF
}
