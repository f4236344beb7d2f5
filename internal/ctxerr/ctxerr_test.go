package ctxerr

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

func TestOf(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		if Of(t.Context()) != nil {
			t.Error("live context reported done")
		}
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if !errors.Is(Of(ctx), context.Canceled) {
			t.Error("cancelled context not reported")
		}
		ctx, cancel = context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		time.Sleep(time.Second) // at the deadline, before the timer's goroutine runs
		if !errors.Is(Of(ctx), context.DeadlineExceeded) {
			t.Error("passed deadline not reported")
		}
	})
}
