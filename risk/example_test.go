package risk_test

import (
	"fmt"

	"github.com/mailverify/mailverify/risk"
)

// Local parts that reach abuse desks or look like traps are flagged with
// where the rule comes from.
func ExampleTrapLocalPart() {
	if ev := risk.TrapLocalPart("abuse"); ev != nil {
		fmt.Println(ev.Source)
	}
	fmt.Println(risk.TrapLocalPart("jane") == nil)
	// Output:
	// RFC 2142
	// true
}
