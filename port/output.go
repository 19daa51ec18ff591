package port

import (
	"io"
	"sync"
	"sync/atomic"

	"github.com/spiredb/spire-port/port/wire"
)

// flushThreshold makes a long run of pipelined replies go out in pieces
// rather than wait for the reader to run dry.
const flushThreshold = 256 << 10

// output collects reply frames and writes them. The reader flushes before it
// blocks for input; a worker flushes itself when the reader is idle, so a
// reply never waits for a request that is not coming.
type output struct {
	mu sync.Mutex
	w  io.Writer
	// buf holds a 12-byte slot for a batch header, then the queued frames:
	// one frame is written from buf[12:], several behind a batch header.
	buf     []byte
	pending int
	err     error // the first write error; later frames are dropped

	readerIdle atomic.Bool
	frames     atomic.Uint64
}

func newOutput(w io.Writer) *output {
	return &output{w: w, buf: make([]byte, wire.BatchHeader, 64<<10)}
}

// send queues one complete frame (the bytes are copied).
func (o *output) send(frame []byte) {
	o.mu.Lock()
	o.buf = append(o.buf, frame...)
	o.pending++
	o.frames.Add(1)
	if len(o.buf) >= flushThreshold {
		o.flushLocked()
	}
	o.mu.Unlock()
	// Read after the append: if the reader went idle before this point, its
	// own flush may have missed the frame, so write it here.
	if o.readerIdle.Load() {
		o.flush()
	}
}

func (o *output) flush() {
	o.mu.Lock()
	o.flushLocked()
	o.mu.Unlock()
}

func (o *output) flushLocked() {
	if o.pending == 0 {
		return
	}
	out := wire.SealBatch(o.buf, o.pending)
	if o.err == nil {
		_, o.err = o.w.Write(out)
	}
	o.pending = 0
	if cap(o.buf) > 4<<20 {
		o.buf = make([]byte, wire.BatchHeader, 64<<10) // let a huge scan reply's buffer go
	} else {
		o.buf = o.buf[:wire.BatchHeader]
	}
}
