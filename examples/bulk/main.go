// Command bulk cleans a list: it verifies the addresses of a file (one per
// line) with VerifyAll, which shares DNS lookups per domain and SMTP
// sessions per mail server, writes the keepers (deliverable, plus risky if asked) to stdout
// and a count per status and reason to stderr.
//
//	go run ./examples/bulk -keep-risky list.txt > clean.txt
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"sort"
	"strings"

	"github.com/mailverify/mailverify/verify"
)

// clean verifies the addresses read from in and writes the ones to keep to
// out, in input order; it returns the counts per "status/reason".
func clean(ctx context.Context, v *verify.Verifier, in io.Reader, out io.Writer, keepRisky bool) (map[string]int, error) {
	var addrs []string
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		if a := strings.TrimSpace(sc.Text()); a != "" {
			addrs = append(addrs, a)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	keep := make([]bool, len(addrs))
	counts := map[string]int{}
	for i, r := range v.VerifyAll(ctx, addrs) {
		counts[r.Status.String()+"/"+string(r.Reason)]++
		keep[i] = r.Status == verify.Deliverable || keepRisky && r.Status == verify.Risky && r.Reason != verify.ReasonDisposable
	}
	for i, a := range addrs {
		if keep[i] {
			fmt.Fprintln(out, a)
		}
	}
	return counts, ctx.Err()
}

func main() {
	keepRisky := flag.Bool("keep-risky", false, "keep catch-all and other risky addresses too")
	helo := flag.String("helo", "", "HELO name whose PTR matches this machine's IP")
	flag.Parse()
	if flag.NArg() != 1 {
		log.Fatal("usage: bulk [-keep-risky] FILE")
	}
	f, err := os.Open(flag.Arg(0))
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	counts, err := clean(ctx, &verify.Verifier{HELO: *helo}, f, os.Stdout, *keepRisky)
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(os.Stderr, "%7d %s\n", counts[k], k)
	}
	if err != nil {
		log.Fatal(err)
	}
}
