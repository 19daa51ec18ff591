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
//
// With a side channel (--reply-socket), the replies whose id carries
// wire.SideChannelBit go there instead, in frames of the same layout: the
// port's owner asks for it on requests it will poll for (see
// docs/protocol.md, "Reply socket").
type output struct {
	mu   sync.Mutex
	main sink
	side *sink
	// sideW writes the side channel's batches on a goroutine of its own,
	// so a port owner that stops reading the socket holds none of the
	// replies that belong on stdout.
	sideW *sideWriter

	readerIdle atomic.Bool
	frames     atomic.Uint64
}

// sink is one destination's queue of frames.
type sink struct {
	w io.Writer
	// buf holds a 12-byte slot for a batch header, then the queued frames:
	// one frame is written from buf[12:], several behind a batch header.
	buf     []byte
	pending int
	err     error // the first write error; later frames are dropped
}

func newSink(w io.Writer) sink { return sink{w: w, buf: newSinkBuf()} }

// newSinkBuf is an empty queue: the batch header's slot and room to grow.
func newSinkBuf() []byte { return make([]byte, wire.BatchHeader, 64<<10) }

func newOutput(w, side io.Writer) *output {
	o := &output{main: newSink(w)}
	if side != nil {
		s := newSink(side)
		o.side = &s
		o.sideW = newSideWriter(side, o.divert)
	}
	return o
}

// send queues one complete frame (the bytes are copied).
func (o *output) send(frame []byte) {
	o.mu.Lock()
	s := &o.main
	if o.side != nil && !o.sideW.dead.Load() && wire.OnSideChannel(frame) {
		s = o.side
	}
	s.buf = append(s.buf, frame...)
	s.pending++
	o.frames.Add(1)
	if len(s.buf) >= flushThreshold {
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
	o.main.flush()
	if o.side == nil || o.side.pending == 0 {
		return
	}
	out := wire.SealBatch(o.side.buf, o.side.pending)
	// Queued before the socket failed, or refused by it now.
	if o.sideW.dead.Load() || !o.sideW.queue(append([]byte(nil), out...)) {
		o.main.write(out)
	}
	o.side.reset()
}

// divert writes to stdout a batch the side channel failed to take.
func (o *output) divert(batch []byte) {
	o.mu.Lock()
	o.main.flush() // what is queued for stdout goes first, as it came first
	o.main.write(batch)
	o.mu.Unlock()
}

// drain waits until the side channel's writer has written, or diverted,
// every batch handed to it: at shutdown, before the process exits.
func (o *output) drain() {
	if o.sideW != nil {
		o.sideW.drain()
	}
}

// flush writes the queued frames; after a write error, later frames are
// dropped (stdout is gone: so is the port's owner).
func (s *sink) flush() {
	if s.pending == 0 {
		return
	}
	s.write(wire.SealBatch(s.buf, s.pending))
	s.reset()
}

func (s *sink) write(out []byte) {
	if s.err == nil {
		_, s.err = s.w.Write(out)
	}
}

func (s *sink) reset() {
	s.pending = 0
	if cap(s.buf) > 4<<20 {
		s.buf = newSinkBuf() // let a huge scan reply's buffer go
	} else {
		s.buf = s.buf[:wire.BatchHeader]
	}
}
