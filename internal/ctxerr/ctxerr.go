// Package ctxerr reports why a context is done, including a deadline that
// has passed before the context's own timer fired.
package ctxerr

import (
	"context"
	"time"
)

// Of is ctx.Err(), also reporting context.DeadlineExceeded once ctx's
// deadline has passed: an I/O deadline set from the context expires at the
// same instant, and the read that failed then failed because of the
// context, not because of the peer.
func Of(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
		return context.DeadlineExceeded
	}
	return nil
}
