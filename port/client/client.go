package client

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spiredb/spire-port/etf"
	"github.com/spiredb/spire-port/port/client/internal/bridge"
	"github.com/spiredb/spire-port/port/pipe"
	"github.com/spiredb/spire-port/port/wire"
)

// StartOptions say how to start a sidecar.
type StartOptions struct {
	Binary string   // path of spire-port
	Path   string   // --path
	Codec  string   // "etf" (default) or "msgpack"
	Args   []string // more flags
	Env    []string // added to the environment (SPIRE_ROCKSDB_*=...)
	Stderr io.Writer
	// ReadyTimeout bounds the wait for the ready frame (default 30 s).
	ReadyTimeout time.Duration
	// Spin is how long the reply reader polls the pipe before it parks
	// (default 50 µs; negative: never), as the sidecar does with --spin: a
	// reply that comes while it spins is not delayed by a thread wake-up.
	// A call that is the only request in flight polls for its reply as
	// long before it parks, for the same reason.
	Spin time.Duration
}

// Client talks to one sidecar. It is safe for concurrent use: requests
// from many goroutines are pipelined over the one pipe.
type Client struct {
	cmd    *exec.Cmd
	codec  wire.Codec
	stdin  io.WriteCloser
	wmu    sync.Mutex
	nextID atomic.Uint64

	// Requests from concurrent goroutines are combined: whoever finds no
	// write in progress writes everything queued, several requests as one
	// batch frame, so 16 goroutines cost one write, not 16.
	omu      sync.Mutex
	obuf     []byte // a 12-byte slot for a batch header, then queued frames
	spare    []byte
	queued   int
	flushing bool

	pmu        sync.Mutex
	pending    map[uint64]*waiter
	inflight   atomic.Int64  // len(pending), read without the lock
	spin       time.Duration // how long a lone Call polls for its reply
	polled     atomic.Uint64 // replies that a polling Call took
	readerGone bool          // set under pmu when the reader stops
	down       chan struct{} // closed when the reader stops
	waited     chan struct{} // closed when the process has been reaped
	exitErr    error

	// Ready is what the sidecar said when its database was open.
	Ready ReadyInfo
}

// waiter receives the replies of one request; gone is closed when the
// caller stops listening, so the reader never blocks on an abandoned call.
type waiter struct {
	ch   chan []byte
	gone chan struct{}
}

func (c *Client) register(id uint64) (*waiter, func()) {
	w := &waiter{ch: make(chan []byte, 64), gone: make(chan struct{})}
	c.pmu.Lock()
	if c.readerGone {
		close(w.ch) // the reader already left: Await sees ErrEngineDown
	} else {
		c.pending[id] = w
		c.inflight.Add(1)
	}
	c.pmu.Unlock()
	var once sync.Once
	return w, func() {
		once.Do(func() {
			c.pmu.Lock()
			if _, ok := c.pending[id]; ok {
				delete(c.pending, id)
				c.inflight.Add(-1)
			}
			c.pmu.Unlock()
			close(w.gone)
		})
	}
}

// Start launches the sidecar and waits for its ready frame. When the
// database cannot be opened the error carries the sidecar's own message.
func Start(opt StartOptions) (*Client, error) {
	codec, err := wire.CodecByName(opt.Codec)
	if err != nil {
		return nil, err
	}
	args := append([]string{"--path", opt.Path, "--codec", codec.Name()}, opt.Args...)
	cmd := exec.Command(opt.Binary, args...)
	cmd.Env = append(os.Environ(), opt.Env...)
	cmd.Stderr = opt.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("port: start %s: %w", opt.Binary, err)
	}
	c := &Client{cmd: cmd, codec: codec, stdin: stdin, pending: map[uint64]*waiter{},
		down: make(chan struct{}), waited: make(chan struct{})}
	spin := opt.Spin
	if spin == 0 {
		spin = pipe.DefaultSpin
	}
	c.spin = max(spin, 0)
	readyW, readyDone := c.register(0)
	defer readyDone()
	ready := readyW.ch
	replies, closeReplies, err := replyReader(stdout, spin)
	if err != nil {
		c.Kill()
		return nil, err
	}
	go func() {
		defer closeReplies()
		c.readLoop(bufio.NewReaderSize(replies, 64<<10))
	}()
	go func() { c.exitErr = cmd.Wait(); close(c.waited) }()

	timeout := opt.ReadyTimeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	deadline := time.After(timeout)
	for {
		select {
		case body, ok := <-ready:
			if !ok {
				<-c.waited
				return nil, fmt.Errorf("port: sidecar exited before it was ready: %v", c.exitErr)
			}
			term, err := codec.DecodeReply(body)
			if err != nil {
				c.Kill()
				return nil, err
			}
			t, _ := term.(etf.Tuple)
			switch {
			case len(t) == 2 && t[0] == etf.Atom("log"):
				continue // --log-frames: a log line before ready
			case len(t) == 2 && t[0] == etf.Atom("ready"):
				ready, _ := t[1].(etf.Map)
				c.Ready = ReadyInfo{Version: Text(field(ready, "version")), Path: Text(field(ready, "path"))}
				return c, nil
			case len(t) == 2 && t[0] == etf.Atom("error"):
				<-c.waited
				return nil, &ReplyError{Reason: t[1]}
			}
			c.Kill()
			return nil, fmt.Errorf("port: unexpected first frame %s", formatTerm(term))
		case <-deadline:
			c.Kill()
			return nil, fmt.Errorf("port: no ready frame within %v", timeout)
		}
	}
}

// replyReader reads the sidecar's stdout through a pipe.SpinReader on a
// duplicate of its descriptor: cmd.Wait closes the original, whose number
// could be reused while the reader still polls it. A spin <= 0 reads
// stdout as it is.
func replyReader(stdout io.ReadCloser, spin time.Duration) (io.Reader, func(), error) {
	f, ok := stdout.(*os.File)
	if spin <= 0 || !ok {
		return stdout, func() {}, nil
	}
	fd, err := syscall.Dup(int(f.Fd()))
	if err != nil {
		return nil, nil, fmt.Errorf("port: dup the reply pipe: %w", err)
	}
	dup := os.NewFile(uintptr(fd), "spire-port replies")
	r, err := pipe.NewSpinReader(dup, spin)
	if err != nil {
		dup.Close()
		return nil, nil, fmt.Errorf("port: the reply pipe: %w", err)
	}
	r.Gosched = true // the goroutines waiting for replies run on this P
	return r, func() { dup.Close() }, nil
}

// Pid is the sidecar's process id.
func (c *Client) Pid() int { return c.cmd.Process.Pid }

// maxReplyFrame bounds a reply frame the client reads: a scan batch of
// MaxBatchSize rows of the largest values the sidecar accepts stays under
// it, and a length past it means the stream is not spire-port's.
const maxReplyFrame = 1 << 30

func (c *Client) readLoop(r *bufio.Reader) {
	defer func() {
		c.pmu.Lock()
		c.readerGone = true
		for id, w := range c.pending {
			close(w.ch)
			delete(c.pending, id)
			c.inflight.Add(-1)
		}
		c.pmu.Unlock()
		close(c.down)
	}()
	for {
		// A fresh buffer per frame: replies are handed to their callers.
		id, body, _, err := wire.ReadFrame(r, nil, maxReplyFrame)
		if err != nil {
			return // EOF, or a frame past any reply's size: the stream cannot be trusted
		}
		if id != wire.BatchID {
			c.route(id, body)
			continue
		}
		malformed := false
		if wire.SplitBatch(body, func(entry []byte) bool {
			if len(entry) < wire.IDSize {
				malformed = true
				return false
			}
			c.route(binary.BigEndian.Uint64(entry), entry[wire.IDSize:])
			return true
		}) != nil || malformed {
			return // a malformed batch: the stream cannot be trusted
		}
	}
}

func (c *Client) route(id uint64, body []byte) {
	id &^= wire.MoreFlag
	c.pmu.Lock()
	w := c.pending[id]
	c.pmu.Unlock()
	if w != nil {
		select {
		case w.ch <- body:
		case <-w.gone:
		}
	}
}

// raw sends one request term (built by build) and returns a channel of the
// reply bodies; it is closed if the sidecar goes away. Call done when no
// more replies are wanted.
func (c *Client) raw(build func(c wire.Codec, b []byte) []byte) (replies <-chan []byte, done func(), err error) {
	id := c.nextID.Add(1)
	w, done := c.register(id)
	b, start := wire.BeginFrame(nil, id)
	b = build(c.codec, c.codec.Begin(b))
	if err := c.send(wire.EndFrame(b, start)); err != nil {
		done()
		return nil, nil, err
	}
	return w.ch, done, nil
}

// send queues a request frame and, unless another goroutine is writing
// (it will write this frame too), writes the queue until it is empty. A
// frame left to another writer whose write fails is answered by the
// reader's end: ErrEngineDown.
func (c *Client) send(frame []byte) error {
	c.omu.Lock()
	if len(c.obuf) == 0 {
		c.obuf = append(c.obuf, make([]byte, wire.BatchHeader)...)
	}
	c.obuf = append(c.obuf, frame...)
	c.queued++
	if c.flushing {
		c.omu.Unlock()
		return nil
	}
	c.flushing = true
	var err error
	for c.queued > 0 {
		buf, n := c.obuf, c.queued
		c.obuf, c.spare, c.queued = c.spare[:0], nil, 0
		c.omu.Unlock()
		if werr := c.writeFrame(wire.SealBatch(buf, n)); werr != nil && err == nil {
			err = werr
		}
		c.omu.Lock()
		if cap(buf) <= 4<<20 { // let a huge batch's buffer go
			c.spare = buf[:0]
		}
	}
	c.flushing = false
	c.omu.Unlock()
	return err
}

// writeFrame writes raw bytes to the sidecar's stdin.
func (c *Client) writeFrame(frame []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if _, err := c.stdin.Write(frame); err != nil {
		return fmt.Errorf("%w: %v", ErrEngineDown, err)
	}
	return nil
}

// await returns the next reply for a request sent with raw or writeFrame.
func (c *Client) await(ctx context.Context, replies <-chan []byte) (any, error) {
	select {
	case body, ok := <-replies:
		if !ok {
			return nil, ErrEngineDown
		}
		return c.codec.DecodeReply(body)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// registerRaw reserves id for replies to frames written with writeFrame.
func (c *Client) registerRaw(id uint64) (<-chan []byte, func()) {
	w, done := c.register(id)
	return w.ch, done
}

// The raw-frame hooks, for package clienttest only.
func init() {
	bridge.Register = func(c any, id uint64) (<-chan []byte, func()) { return c.(*Client).registerRaw(id) }
	bridge.WriteFrame = func(c any, frame []byte) error { return c.(*Client).writeFrame(frame) }
	bridge.Await = func(c any, ctx context.Context, replies <-chan []byte) (any, error) {
		return c.(*Client).await(ctx, replies)
	}
}

// Call sends one request and returns the value of its single reply (ctx
// bounds the wait: when it has ended already nothing is sent, and when it
// ends first Call returns its error and the late reply is dropped):
// nil for ok, V for {ok, V}; {error, not_found} is ErrNotFound and any
// other {error, R} a *ReplyError.
func (c *Client) Call(ctx context.Context, build func(c wire.Codec, b []byte) []byte) (any, error) {
	// A caller that has already gone sends nothing: work nobody waits for
	// would only delay the requests behind it.
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	replies, done, err := c.raw(build)
	if err != nil {
		return nil, err
	}
	defer done() // a reply that comes after ctx ended is dropped
	body, ok, got := c.poll(replies)
	if !got {
		select {
		case body, ok = <-replies:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if !ok {
		return nil, ErrEngineDown
	}
	term, err := c.codec.DecodeReply(body)
	if err != nil {
		return nil, err
	}
	return unwrap(term)
}

// poll waits for the reply of a request in flight alone by polling its
// channel, yielding between polls, for up to the client's spin. Parked on
// the channel instead, the goroutine would be woken by the reader through
// another thread's futex: a cross-CPU wake-up that costs more on a virtual
// machine than the round trip itself. With other requests in flight the
// reader is busy anyway and polling would only take their turns.
func (c *Client) poll(replies <-chan []byte) (body []byte, ok, got bool) {
	if c.spin <= 0 || c.inflight.Load() != 1 {
		return nil, false, false
	}
	var began time.Time
	for {
		select {
		case body, ok := <-replies:
			c.polled.Add(1)
			return body, ok, true
		default:
		}
		if began.IsZero() {
			began = time.Now()
		} else if time.Since(began) > c.spin || c.inflight.Load() != 1 {
			return nil, false, false
		}
		runtime.Gosched()
	}
}

func unwrap(term any) (any, error) {
	switch t := term.(type) {
	case etf.Atom:
		if t == "ok" {
			return nil, nil
		}
	case etf.Tuple:
		if len(t) == 2 && t[0] == etf.Atom("ok") {
			return t[1], nil
		}
		if len(t) == 2 && t[0] == etf.Atom("error") {
			if t[1] == etf.Atom("not_found") {
				return nil, ErrNotFound
			}
			return nil, &ReplyError{Reason: t[1]}
		}
	}
	return term, nil
}

// Close asks the sidecar to close the database and exit, and waits for it.
func (c *Client) Close() error {
	_, err := c.simple(context.Background(), "close")
	c.stdin.Close()
	select {
	case <-c.waited:
	case <-time.After(30 * time.Second):
		c.Kill()
		return errors.New("port: sidecar did not exit within 30s of close")
	}
	if err != nil && !errors.Is(err, ErrEngineDown) {
		return err
	}
	return c.exitErr
}

// CloseStdin closes the sidecar's stdin (EOF) and waits for it to exit.
func (c *Client) CloseStdin() error {
	c.stdin.Close()
	<-c.waited
	return c.exitErr
}

// Kill sends SIGKILL and waits for the process to be reaped.
func (c *Client) Kill() {
	_ = c.cmd.Process.Kill()
	<-c.waited
}

// Down is closed once the sidecar's stdout has closed.
func (c *Client) Down() <-chan struct{} { return c.down }
