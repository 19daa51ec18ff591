package client

import (
	"bufio"
	"bytes"
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

	"github.com/spiredb/spire-port/engine/kv"
	"github.com/spiredb/spire-port/etf"
	"github.com/spiredb/spire-port/port/pipe"
	"github.com/spiredb/spire-port/port/wire"
)

// Client errors.
var (
	// ErrEngineDown means the sidecar exited or its pipes closed.
	ErrEngineDown = errors.New("port: engine down")
	// ErrNotFound is the not_found reply.
	ErrNotFound = errors.New("port: not found")
)

// ReplyError is an {error, Reason} reply other than not_found.
type ReplyError struct {
	Reason any // e.g. etf.Tuple{etf.Atom("badarg"), []byte("...")}
}

func (e *ReplyError) Error() string {
	return fmt.Sprintf("port: error reply: %s", formatTerm(e.Reason))
}

// Kind is the reason's tag: "badarg", "rocksdb", "closed", ...
func (e *ReplyError) Kind() string {
	switch r := e.Reason.(type) {
	case etf.Atom:
		return string(r)
	case etf.Tuple:
		if a, ok := r[0].(etf.Atom); ok {
			return string(a)
		}
	}
	return ""
}

// Class is the class of a RocksDB failure ({rocksdb, Msg}, classified by
// Msg's status prefix: kv.KindCorruption, kv.KindIO, ...), or "" for any
// other reason.
func (e *ReplyError) Class() kv.Kind {
	if t, ok := e.Reason.(etf.Tuple); ok && len(t) == 2 && t[0] == etf.Atom("rocksdb") {
		return kv.KindOfStatus(Text(t[1]))
	}
	return ""
}

func formatTerm(t any) string {
	switch v := t.(type) {
	case []byte:
		return fmt.Sprintf("%q", v)
	case etf.Tuple:
		var b bytes.Buffer
		b.WriteByte('{')
		for i, e := range v {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(formatTerm(e))
		}
		b.WriteByte('}')
		return b.String()
	}
	return fmt.Sprint(t)
}

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

// Raw sends one request term (built by build) and returns a channel of the
// reply bodies; it is closed if the sidecar goes away. Call done when no
// more replies are wanted.
func (c *Client) Raw(build func(c wire.Codec, b []byte) []byte) (replies <-chan []byte, done func(), err error) {
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
		if werr := c.WriteFrame(wire.SealBatch(buf, n)); werr != nil && err == nil {
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

// WriteFrame writes raw bytes to the sidecar's stdin (tests use it to send
// malformed frames).
func (c *Client) WriteFrame(frame []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if _, err := c.stdin.Write(frame); err != nil {
		return fmt.Errorf("%w: %v", ErrEngineDown, err)
	}
	return nil
}

// Await returns the next reply for a request sent with Raw or WriteFrame.
func (c *Client) Await(ctx context.Context, replies <-chan []byte) (any, error) {
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

// Register reserves id for replies to frames written with WriteFrame.
func (c *Client) Register(id uint64) (<-chan []byte, func()) {
	w, done := c.register(id)
	return w.ch, done
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
	replies, done, err := c.Raw(build)
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

// Opts are per-call options; zero fields are left out of the request.
type Opts struct {
	CF        string
	Sync      bool
	Snapshot  uint64
	BatchSize int
	Limit     int
}

func appendOpts(c wire.Codec, b []byte, o Opts) []byte {
	n := 0
	for _, set := range []bool{o.CF != "", o.Sync, o.Snapshot != 0, o.BatchSize != 0, o.Limit != 0} {
		if set {
			n++
		}
	}
	b = c.List(b, n)
	if o.CF != "" {
		b = c.Str(c.Atom(c.Tuple(b, 2), "cf"), o.CF)
	}
	if o.Sync {
		b = c.Atom(c.Atom(c.Tuple(b, 2), "sync"), "true")
	}
	if o.Snapshot != 0 {
		b = c.Uint(c.Atom(c.Tuple(b, 2), "snapshot"), o.Snapshot)
	}
	if o.BatchSize != 0 {
		b = c.Int(c.Atom(c.Tuple(b, 2), "batch_size"), int64(o.BatchSize))
	}
	if o.Limit != 0 {
		b = c.Int(c.Atom(c.Tuple(b, 2), "limit"), int64(o.Limit))
	}
	return c.ListEnd(b, n)
}

func first(opts []Opts) Opts {
	if len(opts) > 0 {
		return opts[0]
	}
	return Opts{}
}

// Ping crosses the whole path but RocksDB.
func (c *Client) Ping(ctx context.Context) error {
	_, err := c.Call(ctx, func(c wire.Codec, b []byte) []byte { return c.Atom(c.Tuple(b, 1), "ping") })
	return err
}

// Get returns the value under key or ErrNotFound.
func (c *Client) Get(ctx context.Context, key []byte, opts ...Opts) ([]byte, error) {
	v, err := c.Call(ctx, func(c wire.Codec, b []byte) []byte {
		return appendOpts(c, c.Binary(c.Atom(c.Tuple(b, 3), "get"), key), first(opts))
	})
	if err != nil {
		return nil, err
	}
	return v.([]byte), nil
}

// MultiGet returns one entry per key; a missing key gives nil.
func (c *Client) MultiGet(ctx context.Context, keys [][]byte, opts ...Opts) ([][]byte, error) {
	v, err := c.Call(ctx, func(c wire.Codec, b []byte) []byte {
		b = c.List(c.Atom(c.Tuple(b, 3), "multi_get"), len(keys))
		for _, k := range keys {
			b = c.Binary(b, k)
		}
		return appendOpts(c, c.ListEnd(b, len(keys)), first(opts))
	})
	if err != nil {
		return nil, err
	}
	elems := asSeq(v)
	out := make([][]byte, len(elems))
	for i, e := range elems {
		out[i], _ = e.([]byte)
	}
	return out, nil
}

func asSeq(v any) []any {
	switch s := v.(type) {
	case []any:
		return s
	case etf.Tuple:
		return s
	}
	return nil
}

// Put stores value under key.
func (c *Client) Put(ctx context.Context, key, value []byte, opts ...Opts) error {
	_, err := c.Call(ctx, func(c wire.Codec, b []byte) []byte {
		return appendOpts(c, c.Binary(c.Binary(c.Atom(c.Tuple(b, 4), "put"), key), value), first(opts))
	})
	return err
}

// Delete removes key.
func (c *Client) Delete(ctx context.Context, key []byte, opts ...Opts) error {
	_, err := c.Call(ctx, func(c wire.Codec, b []byte) []byte {
		return appendOpts(c, c.Binary(c.Atom(c.Tuple(b, 3), "delete"), key), first(opts))
	})
	return err
}

// DeleteRange removes [start, end).
func (c *Client) DeleteRange(ctx context.Context, start, end []byte, opts ...Opts) error {
	_, err := c.Call(ctx, func(c wire.Codec, b []byte) []byte {
		return appendOpts(c, c.Binary(c.Binary(c.Atom(c.Tuple(b, 4), "delete_range"), start), end), first(opts))
	})
	return err
}

// WriteBatch applies ops atomically.
func (c *Client) WriteBatch(ctx context.Context, ops []BatchOp, opts ...Opts) error {
	_, err := c.Call(ctx, func(c wire.Codec, b []byte) []byte {
		b = c.List(c.Atom(c.Tuple(b, 3), "write_batch"), len(ops))
		for _, op := range ops {
			n, name := 3, "put"
			switch op.Kind {
			case OpDelete:
				n, name = 2, "delete"
			case OpDeleteRange:
				name = "delete_range"
			}
			if op.CF != "" {
				n++
			}
			b = c.Atom(c.Tuple(b, n), name)
			if op.CF != "" {
				b = c.Str(b, op.CF)
			}
			b = c.Binary(b, op.Key)
			if op.Kind != OpDelete {
				b = c.Binary(b, op.Value)
			}
		}
		return appendOpts(c, c.ListEnd(b, len(ops)), first(opts))
	})
	return err
}

// Batch is one batch of a scan.
type Batch struct {
	Rows  []KV
	Stats ScanStats
	Done  bool
}

// Scan reads [start, end] (end inclusive, empty = to the end) in batches.
func (c *Client) Scan(ctx context.Context, start, end []byte, opts ...Opts) ([]Batch, error) {
	replies, done, err := c.Raw(func(c wire.Codec, b []byte) []byte {
		return appendOpts(c, c.Binary(c.Binary(c.Atom(c.Tuple(b, 4), "scan"), start), end), first(opts))
	})
	if err != nil {
		return nil, err
	}
	defer done()
	var out []Batch
	for {
		term, err := c.Await(ctx, replies)
		if err != nil {
			return out, err
		}
		batch, err := toBatch(term)
		if err != nil {
			return out, err
		}
		if len(batch.Rows) > 0 {
			out = append(out, batch)
		}
		if batch.Done {
			return out, nil
		}
	}
}

func toBatch(term any) (Batch, error) {
	t, ok := term.(etf.Tuple)
	if ok && len(t) == 3 && (t[0] == etf.Atom("rows") || t[0] == etf.Atom("done")) {
		b := Batch{Done: t[0] == etf.Atom("done")}
		b.Stats = toScanStats(t[2])
		for _, r := range asSeq(t[1]) {
			row := asSeq(r)
			k, _ := row[0].([]byte)
			v, _ := row[1].([]byte)
			b.Rows = append(b.Rows, KV{Key: k, Value: v})
		}
		return b, nil
	}
	if _, err := unwrap(term); err != nil {
		return Batch{}, err
	}
	return Batch{}, fmt.Errorf("port: unexpected scan reply %s", formatTerm(term))
}

// IterOpen opens a cursor over [start, end].
func (c *Client) IterOpen(ctx context.Context, start, end []byte, opts ...Opts) (uint64, error) {
	v, err := c.Call(ctx, func(c wire.Codec, b []byte) []byte {
		return appendOpts(c, c.Binary(c.Binary(c.Atom(c.Tuple(b, 4), "iter_open"), start), end), first(opts))
	})
	if err != nil {
		return 0, err
	}
	return toUint(v), nil
}

// IterNext returns the cursor's next batch; Done marks the last one, after
// which the cursor is closed.
func (c *Client) IterNext(ctx context.Context, cursor uint64) (Batch, error) {
	replies, done, err := c.Raw(func(c wire.Codec, b []byte) []byte {
		return c.Uint(c.Atom(c.Tuple(b, 2), "iter_next"), cursor)
	})
	if err != nil {
		return Batch{}, err
	}
	defer done()
	term, err := c.Await(context.Background(), replies)
	if err != nil {
		return Batch{}, err
	}
	return toBatch(term)
}

// IterClose closes a cursor.
func (c *Client) IterClose(ctx context.Context, cursor uint64) error {
	_, err := c.Call(ctx, func(c wire.Codec, b []byte) []byte { return c.Uint(c.Atom(c.Tuple(b, 2), "iter_close"), cursor) })
	return err
}

// SnapshotOpen opens a snapshot and returns its id for Opts.Snapshot.
func (c *Client) SnapshotOpen(ctx context.Context) (uint64, error) {
	v, err := c.Call(ctx, func(c wire.Codec, b []byte) []byte { return c.Atom(c.Tuple(b, 1), "snapshot_open") })
	return toUint(v), err
}

// SnapshotClose releases a snapshot.
func (c *Client) SnapshotClose(ctx context.Context, id uint64) error {
	_, err := c.Call(ctx, func(c wire.Codec, b []byte) []byte { return c.Uint(c.Atom(c.Tuple(b, 2), "snapshot_close"), id) })
	return err
}

// Text reads a text field of a reply: a binary in wire.ETF, a string (decoded
// as an Atom) in msgpack.
func Text(v any) string {
	switch t := v.(type) {
	case []byte:
		return string(t)
	case etf.Atom:
		return string(t)
	}
	return ""
}

func toUint(v any) uint64 {
	switch n := v.(type) {
	case int64:
		return uint64(n)
	case uint64:
		return n
	}
	return 0
}

// simple sends {Op} or {Op, Arg} and returns the reply value.
func (c *Client) simple(ctx context.Context, op string, arg ...string) (any, error) {
	return c.Call(ctx, func(c wire.Codec, b []byte) []byte {
		b = c.Atom(c.Tuple(b, 1+len(arg)), op)
		for _, a := range arg {
			b = c.Str(b, a)
		}
		return b
	})
}

// Stats returns the stats map: tickers, histograms, properties,
// column_families and sidecar.
func (c *Client) Stats(ctx context.Context) (Stats, error) {
	v, err := c.simple(ctx, "stats")
	return toStats(v), err
}

// CacheInfo returns capacity, usage, pinned_usage and strict_capacity.
func (c *Client) CacheInfo(ctx context.Context) (CacheInfo, error) {
	v, err := c.simple(ctx, "cache_info")
	return toCacheInfo(v), err
}

// Property returns a RocksDB property of the default column family.
func (c *Client) Property(ctx context.Context, name string) (string, error) {
	v, err := c.simple(ctx, "property", name)
	return Text(v), err
}

// Flush flushes the default column family's memtables.
func (c *Client) Flush(ctx context.Context) error { _, err := c.simple(ctx, "flush"); return err }

// SyncWAL makes every write acknowledged before it durable (an fsync of
// the WAL).
func (c *Client) SyncWAL(ctx context.Context) error { _, err := c.simple(ctx, "sync_wal"); return err }

// LatestSequenceNumber is RocksDB's sequence number of the last write: one
// per put or delete, one per operation of a batch.
func (c *Client) LatestSequenceNumber(ctx context.Context) (uint64, error) {
	v, err := c.simple(ctx, "latest_sequence_number")
	return toUint(v), err
}

// CompactRange compacts the whole default column family.
func (c *Client) CompactRange(ctx context.Context) error {
	_, err := c.Call(ctx, func(c wire.Codec, b []byte) []byte {
		return c.Atom(c.Atom(c.Atom(c.Tuple(b, 3), "compact_range"), "nil"), "nil")
	})
	return err
}

// Checkpoint writes a checkpoint under the sidecar's checkpoint root.
func (c *Client) Checkpoint(ctx context.Context, dir string) error {
	_, err := c.simple(ctx, "checkpoint", dir)
	return err
}

// CreateColumnFamily creates a column family.
func (c *Client) CreateColumnFamily(ctx context.Context, name string) error {
	_, err := c.simple(ctx, "cf_create", name)
	return err
}

// DropColumnFamily drops a column family.
func (c *Client) DropColumnFamily(ctx context.Context, name string) error {
	_, err := c.simple(ctx, "cf_drop", name)
	return err
}

// ColumnFamilies lists the column families.
func (c *Client) ColumnFamilies(ctx context.Context) ([]string, error) {
	v, err := c.simple(ctx, "cf_list")
	var names []string
	for _, n := range asSeq(v) {
		names = append(names, Text(n))
	}
	return names, err
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
