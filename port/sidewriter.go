package port

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"syscall"
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

// sideWriter writes batches to the reply socket in the order queued. A
// batch is written at once, by one non-blocking write, when the socket
// has room and nothing waits before it: the common case, with no hand-off.
// What does not fit waits for a goroutine of its own, so a full socket
// never holds the caller (the output, and with it stdout).
type sideWriter struct {
	w      io.Writer
	raw    syscall.RawConn // nil: every batch goes through the goroutine
	divert func(batch []byte)
	dead   atomic.Bool

	mu      sync.Mutex
	wake    *sync.Cond
	pending []sideBatch
	busy    bool
}

// sideBatch is a batch still to write: rest is what the socket has not
// taken yet, whole the batch to divert if it never does.
type sideBatch struct{ rest, whole []byte }

func newSideWriter(w io.Writer, divert func([]byte)) *sideWriter {
	sw := &sideWriter{w: w, divert: divert}
	if sc, ok := w.(syscall.Conn); ok {
		sw.raw, _ = sc.SyscallConn()
	}
	sw.wake = sync.NewCond(&sw.mu)
	go sw.run()
	return sw
}

// queue hands over one sealed batch (the writer owns it from here). It
// reports false when the socket refused it then and there: the caller,
// who may hold the output's lock and so must not wait for divert, sends
// the batch to stdout itself (nothing queued here came before it).
func (sw *sideWriter) queue(batch []byte) bool {
	sw.mu.Lock()
	if len(sw.pending) == 0 && !sw.busy && !sw.dead.Load() {
		n, err := sw.tryWrite(batch)
		if err == nil && n == len(batch) {
			sw.mu.Unlock()
			return true
		}
		if err != nil && !errors.Is(err, syscall.EAGAIN) {
			sw.mu.Unlock()
			sw.giveUp()
			return false
		}
		batch = batch[:len(batch):len(batch)]
		sw.pending = append(sw.pending, sideBatch{rest: batch[n:], whole: batch})
	} else {
		sw.pending = append(sw.pending, sideBatch{rest: batch, whole: batch})
	}
	sw.mu.Unlock()
	sw.wake.Broadcast()
	return true
}

// tryWrite makes one non-blocking write of b; sw.mu is held and the
// goroutine is idle, so nothing else writes to the socket.
func (sw *sideWriter) tryWrite(b []byte) (int, error) {
	if sw.raw == nil {
		return 0, syscall.EAGAIN
	}
	var n int
	var werr error
	err := sw.raw.Write(func(fd uintptr) bool {
		n, werr = syscall.Write(int(fd), b)
		return true // one attempt: never wait here
	})
	if n < 0 {
		n = 0
	}
	if err != nil {
		return n, err
	}
	return n, werr
}

// giveUp closes the socket for good: every later batch goes to stdout.
func (sw *sideWriter) giveUp() {
	sw.dead.Store(true)
	if c, ok := sw.w.(io.Closer); ok {
		_ = c.Close()
	}
}

// drain waits until every queued batch is written or diverted.
func (sw *sideWriter) drain() {
	sw.mu.Lock()
	for len(sw.pending) > 0 || sw.busy {
		sw.wake.Wait()
	}
	sw.mu.Unlock()
}

func (sw *sideWriter) run() {
	type deadliner interface{ SetWriteDeadline(time.Time) error }
	d, _ := sw.w.(deadliner)
	for {
		sw.mu.Lock()
		for len(sw.pending) == 0 {
			sw.wake.Wait()
		}
		batches := sw.pending
		sw.pending, sw.busy = nil, true
		sw.mu.Unlock()

		for _, b := range batches {
			if sw.dead.Load() {
				sw.divert(b.whole)
				continue
			}
			if d != nil {
				_ = d.SetWriteDeadline(time.Now().Add(sideWriteTimeout))
			}
			if _, err := sw.w.Write(b.rest); err != nil {
				sw.giveUp()
				sw.divert(b.whole)
			}
		}

		sw.mu.Lock()
		sw.busy = false
		sw.mu.Unlock()
		sw.wake.Broadcast()
	}
}
