package role_test

import (
	"fmt"

	"github.com/mailverify/mailverify/role"
)

func ExampleIs() {
	for _, local := range []string{"postmaster", "No-Reply", "jane.doe"} {
		fmt.Println(local, role.Is(local))
	}
	// Output:
	// postmaster true
	// No-Reply true
	// jane.doe false
}
