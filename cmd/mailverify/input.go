package main

import (
	"flag"
	"regexp"
)

// parseInterleaved parses flags anywhere among the arguments, as people
// type them ("mailverify jane@example.com --offline"); "--" ends the flags,
// and the rest are arguments even if they start with "-".
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// commandLike matches an argument that is a word, not an address: a
// misspelt or future subcommand ("serve", "bulk") is a usage error, never
// an address to verify.
var commandLike = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
