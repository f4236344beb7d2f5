package main

import (
	"strings"
	"testing"

	"github.com/mailverify/mailverify/syntax"
)

func TestRunReadsLinesWhenNoArgs(t *testing.T) {
	var got []result
	err := run(nil, strings.NewReader("Jane@BÜCHER.de\nbad@@example.com\n"), func(s string) error {
		got = append(got, judge(syntax.Default, s))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d results, want 2", len(got))
	}
	if !got[0].Valid || got[0].Address != "Jane@bücher.de" || got[0].ASCII != "Jane@xn--bcher-kva.de" {
		t.Errorf("first result = %+v", got[0])
	}
	if got[1].Valid || got[1].Offset != 4 || !strings.Contains(got[1].Error, "more than one @") {
		t.Errorf("second result = %+v", got[1])
	}
}
