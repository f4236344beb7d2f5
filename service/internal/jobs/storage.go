package jobs

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"syscall"
	"time"
)

// ErrStorageFull is a write refused because the store's disk is (nearly)
// full. Nothing of the request was kept; the service takes work again once
// there is room.
var ErrStorageFull = errors.New("service: storage full")

// A DiskGuard watches the free space under the embedded server's store
// and says when it falls under Reserve: uploads are then refused, workers
// and the scheduler pause, and /readyz says why, before the server's own
// writes fail (JetStream turns itself off on a failed write, and a disk
// grown later would not bring it back).
type DiskGuard struct {
	Dir string
	// Reserve is the free space kept; zero means 8 MiB or 5% of the
	// disk, whichever is more.
	Reserve uint64

	low  atomic.Bool
	free atomic.Uint64
}

// check reads the free space once.
func (g *DiskGuard) check() error {
	var st syscall.Statfs_t
	if err := syscall.Statfs(g.Dir, &st); err != nil {
		return err
	}
	free, total := st.Bavail*uint64(st.Bsize), st.Blocks*uint64(st.Bsize)
	reserve := g.Reserve
	if reserve == 0 {
		reserve = max(8<<20, total/20)
	}
	g.free.Store(free)
	g.low.Store(free < reserve)
	return nil
}

// Run watches until ctx ends, every interval (zero: a second).
func (g *DiskGuard) Run(ctx context.Context, every time.Duration) {
	repeat(ctx, orDefault(every, time.Second), func() { _ = g.check() })
}

// Full returns ErrStorageFull, with how much is free, while space is short.
func (g *DiskGuard) Full() error {
	if g == nil || !g.low.Load() {
		return nil
	}
	return fmt.Errorf("%w: %d KiB free under %s", ErrStorageFull, g.free.Load()>>10, g.Dir)
}

// watchDisk starts the guard of an embedded server's store, until Close.
func (b *Bus) watchDisk() {
	b.Disk = &DiskGuard{Dir: b.DataDir}
	if b.Disk.check() != nil {
		b.Disk = nil // a store whose disk cannot be read is not guarded
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.stopDisk = cancel
	go b.Disk.Run(ctx, time.Second)
}

// Ready returns why the bus cannot take work now, if it cannot: its disk
// is full, or it is not connected.
func (b *Bus) Ready() error {
	if err := b.Disk.Full(); err != nil {
		return err
	}
	if !b.NC.IsConnected() {
		return errors.New("not connected to the job store")
	}
	return nil
}
