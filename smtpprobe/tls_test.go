package smtpprobe

import "crypto/tls"

// tlsConfigWithoutCertificate is a server configuration whose handshakes
// all fail.
func tlsConfigWithoutCertificate() tls.Config {
	return tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		return nil, errNoCert
	}}
}

var errNoCert = tlsErr("no certificate")

type tlsErr string

func (e tlsErr) Error() string { return string(e) }
