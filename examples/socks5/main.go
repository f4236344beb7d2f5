// Command socks5 verifies an address through a SOCKS5 proxy: the Dialer
// hook takes x/net/proxy's dialer unchanged, so probes leave from the
// proxy's address (useful where port 25 is blocked, or to use an IP with a
// proper PTR record).
//
//	go run ./examples/socks5 -proxy 127.0.0.1:1080 -helo mx.example.net jane@example.com
package main

import (
	"context"
	"encoding/json"
	"flag"
	"log"
	"os"
	"time"

	"github.com/mailverify/mailverify/verify"
	"golang.org/x/net/proxy"
)

func main() {
	proxyAddr := flag.String("proxy", "127.0.0.1:1080", "SOCKS5 proxy host:port")
	helo := flag.String("helo", "", "HELO name whose PTR matches the proxy's public IP")
	flag.Parse()
	if flag.NArg() != 1 {
		log.Fatal("usage: socks5 [-proxy host:port] [-helo name] ADDRESS")
	}
	d, err := proxy.SOCKS5("tcp", *proxyAddr, nil, proxy.Direct)
	if err != nil {
		log.Fatal(err)
	}
	cd, ok := d.(proxy.ContextDialer)
	if !ok {
		log.Fatal("the SOCKS5 dialer does not take a context")
	}
	v := &verify.Verifier{Dialer: cd, HELO: *helo}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := v.Verify(ctx, flag.Arg(0))
	if err != nil {
		log.Fatal(err)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	enc.Encode(r)
}
