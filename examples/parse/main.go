// Command parse checks the syntax of email addresses with package syntax
// and prints one JSON object per address: the normalized forms, or the
// reason the address was rejected. It needs no network.
//
//	go run ./examples/parse 'Jane.Doe@BÜCHER.de' 'bad@@example.com'
//	printf 'a@example.com\nb@example.test\n' | go run ./examples/parse -strict
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/mailverify/mailverify/syntax"
)

type result struct {
	Input    string `json:"input"`
	Valid    bool   `json:"valid"`
	Address  string `json:"address,omitempty"`
	ASCII    string `json:"ascii,omitempty"`
	SMTPUTF8 bool   `json:"smtputf8,omitempty"`
	Error    string `json:"error,omitempty"`
	Offset   int    `json:"offset,omitempty"`
}

func main() {
	strict := flag.Bool("strict", false, "judge by the RFC 5321/6531 grammar (syntax.Strict) instead of the sign-up policy")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: parse [-strict] [address ...]  (reads stdin, one address per line, when no address is given)")
		flag.PrintDefaults()
	}
	flag.Parse()
	policy := syntax.Default
	if *strict {
		policy = syntax.Strict
	}
	out := json.NewEncoder(os.Stdout)
	out.SetEscapeHTML(false)
	check := func(s string) error { return out.Encode(judge(policy, s)) }
	if err := run(flag.Args(), os.Stdin, check); err != nil {
		fmt.Fprintln(os.Stderr, "parse:", err)
		os.Exit(1)
	}
}

// run feeds check the arguments or, when there are none, the lines of in.
func run(args []string, in io.Reader, check func(string) error) error {
	if len(args) > 0 {
		for _, a := range args {
			if err := check(a); err != nil {
				return err
			}
		}
		return nil
	}
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		if err := check(sc.Text()); err != nil {
			return err
		}
	}
	return sc.Err()
}

func judge(p syntax.Policy, s string) result {
	a, err := p.Parse(s)
	if err != nil {
		r := result{Input: s, Error: err.Error()}
		var se *syntax.Error
		if errors.As(err, &se) {
			r.Offset = se.Pos
		}
		return r
	}
	return result{Input: s, Valid: true, Address: a.String(), ASCII: a.ASCII(), SMTPUTF8: a.SMTPUTF8()}
}
