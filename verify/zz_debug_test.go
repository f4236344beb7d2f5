package verify

import (
	"fmt"
	"testing"
	"testing/synctest"
)

func TestZZDebugSpare(t *testing.T) {
	for i := 0; i < 40; i++ {
		failed := false
		var tr []string
		t.Run("x", func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var ss *sharedServer
				twoDomainCase(t, spareAccepted(2), func(s *sharedServer, _ *Verifier) {
					s.srv.Extensions = []string{"8BITMIME", "SIZE 10240000"}
					ss = s
				})
				failed = t.Failed()
				tr = ss.srv.Transcript()
			})
		})
		if failed {
			for _, l := range tr {
				fmt.Println(l)
			}
			return
		}
	}
}
