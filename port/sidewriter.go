package port

import (
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// sideWriteTimeout bounds how long one batch may wait for the port's owner
// to make room in the reply socket. Past it the socket is given up for
// good: it is closed (the owner then reads it to its end and stops
// polling it) and this batch and every later reply go to stdout. The
// owner routes a reply by its id whichever way it came, so nothing is
// lost, and a batch cut short by the deadline is never whole on the
// socket, so nothing arrives twice.
const sideWriteTimeout = time.Second

// sideWriter writes batches to the reply socket in the order queued, on
// its own goroutine.
type sideWriter struct {
	w      io.Writer
	divert func(batch []byte)
	dead   atomic.Bool

	mu      sync.Mutex
	wake    *sync.Cond
	batches [][]byte
	busy    bool
}

func newSideWriter(w io.Writer, divert func([]byte)) *sideWriter {
	sw := &sideWriter{w: w, divert: divert}
	sw.wake = sync.NewCond(&sw.mu)
	go sw.run()
	return sw
}

// queue hands over one sealed batch (the writer owns it from here).
func (sw *sideWriter) queue(batch []byte) {
	sw.mu.Lock()
	sw.batches = append(sw.batches, batch)
	sw.mu.Unlock()
	sw.wake.Broadcast()
}

// drain waits until every queued batch is written or diverted.
func (sw *sideWriter) drain() {
	sw.mu.Lock()
	for len(sw.batches) > 0 || sw.busy {
		sw.wake.Wait()
	}
	sw.mu.Unlock()
}

func (sw *sideWriter) run() {
	type deadliner interface{ SetWriteDeadline(time.Time) error }
	d, _ := sw.w.(deadliner)
	for {
		sw.mu.Lock()
		for len(sw.batches) == 0 {
			sw.wake.Wait()
		}
		batches := sw.batches
		sw.batches, sw.busy = nil, true
		sw.mu.Unlock()

		for _, b := range batches {
			if sw.dead.Load() {
				sw.divert(b)
				continue
			}
			if d != nil {
				_ = d.SetWriteDeadline(time.Now().Add(sideWriteTimeout))
			}
			if _, err := sw.w.Write(b); err != nil {
				sw.dead.Store(true)
				if c, ok := sw.w.(io.Closer); ok {
					_ = c.Close()
				}
				sw.divert(b)
			}
		}

		sw.mu.Lock()
		sw.busy = false
		sw.mu.Unlock()
		sw.wake.Broadcast()
	}
}
