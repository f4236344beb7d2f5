package disposable_test

import (
	"fmt"

	"github.com/mailverify/mailverify/disposable"
)

func ExampleDefault() {
	list := disposable.Default()
	for _, domain := range []string{"mailinator.com", "x.mailinator.com", "gmail.com"} {
		fmt.Println(domain, list.Contains(domain))
	}
	// Output:
	// mailinator.com true
	// x.mailinator.com true
	// gmail.com false
}

func ExampleNew() {
	list := disposable.New("ours", "throwaway.example")
	fmt.Println(list.Contains("a.throwaway.example"), list.Contains("example"))
	// Output: true false
}
