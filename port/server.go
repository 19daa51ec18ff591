package port

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"os"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spiredb/spire-port/engine"
	"github.com/spiredb/spire-port/etf"
	"github.com/spiredb/spire-port/port/wire"
)

// Options configure a Server. Zero fields take the defaults noted.
type Options struct {
	Codec        wire.Codec    // wire.ETF
	MaxFrame     int           // wire.DefaultMaxFrame
	Workers      int           // 4: goroutines serving slow operations
	QueueDepth   int           // 64: slow requests waiting for a worker
	MaxIterators int           // 1024 open cursors
	MaxSnapshots int           // 1024 open snapshots
	IdleTimeout  time.Duration // 5 minutes before an unused cursor or snapshot is closed
	// CheckpointRoots are the directories checkpoints may be written
	// under; relative checkpoint paths resolve against the first. None
	// refuses every checkpoint.
	CheckpointRoots []string
	Log             *log.Logger // stderr
	// ReplySocket, when set, takes the replies to requests whose id has
	// wire.SideChannelBit (--reply-socket); the rest go to the server's
	// writer.
	ReplySocket io.Writer
}

func (o *Options) setDefaults() {
	if o.Codec == nil {
		o.Codec = wire.ETF
	}
	if o.MaxFrame <= 0 {
		o.MaxFrame = wire.DefaultMaxFrame
	}
	if o.Workers <= 0 {
		o.Workers = 4
	}
	if o.QueueDepth <= 0 {
		o.QueueDepth = 64
	}
	if o.MaxIterators <= 0 {
		o.MaxIterators = 1024
	}
	if o.MaxSnapshots <= 0 {
		o.MaxSnapshots = 1024
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 5 * time.Minute
	}
	if o.Log == nil {
		o.Log = log.New(os.Stderr, "spire-port: ", log.LstdFlags)
	}
}

// Server serves one engine over one byte stream. It owns the engine from
// Serve on and closes it when serving ends.
type Server struct {
	eng   *engine.Engine
	opt   Options
	codec wire.Codec
	out   *output

	jobs    chan job
	workers sync.WaitGroup
	syncer  *syncer

	cursors   *handles[*cursor]
	snapshots *handles[*engine.Snapshot]

	// serving is held while a frame is dispatched; stop takes it so that the
	// request in hand finishes and no new one starts.
	serving  sync.Mutex
	stopped  bool
	stopOnce sync.Once
	done     chan struct{}

	requests  atomic.Uint64
	badFrames atomic.Uint64

	// group is the reader's pending run of point requests (see group.go);
	// groups and grouped count the runs of two or more and their members.
	group   group
	groups  atomic.Uint64
	grouped atomic.Uint64
}

// cursor is an open iter_open scan and the form its batches take, or a
// positioned iterator (iterator op): the two share one table, one bound
// (--max-iterators) and one idle reaper.
type cursor struct {
	sc     *engine.Scanner
	it     *engine.Iterator
	packed bool
}

func (c *cursor) close() {
	if c.sc != nil {
		c.sc.Close()
	}
	if c.it != nil {
		c.it.Close()
	}
}

type job struct {
	id      uint64
	req     wire.Request
	scanner *engine.Scanner // a scan's, made on the reader
}

// NewServer prepares a server for eng writing replies to w.
func NewServer(eng *engine.Engine, w io.Writer, opt Options) *Server {
	opt.setDefaults()
	s := &Server{
		eng:   eng,
		opt:   opt,
		codec: opt.Codec,
		out:   newOutput(w, opt.ReplySocket),
		jobs:  make(chan job, opt.QueueDepth),
		done:  make(chan struct{}),
	}
	s.cursors = newHandles(opt.MaxIterators, (*cursor).close)
	eng.SetLogf(opt.Log.Printf)
	s.snapshots = newHandles(opt.MaxSnapshots, func(sn *engine.Snapshot) { sn.Close() })
	for i := 0; i < opt.Workers; i++ {
		s.workers.Add(1)
		go s.worker()
	}
	s.syncer = newSyncer()
	go s.runSyncer()
	go s.reaper()
	return s
}

// SendEvent writes an unsolicited frame (id 0), such as wire.ReadyEvent.
func (s *Server) SendEvent(build wire.EventBuilder) {
	b, start := wire.BeginFrame(nil, 0)
	b = build(s.codec, s.codec.Begin(b))
	s.out.send(wire.EndFrame(b, start))
	s.out.flush()
}

// A burstReader is told, each time Serve is about to wait for input, how
// many requests it served since it last waited (pipe.SpinReader spins less
// after a burst of several).
type burstReader interface{ Burst(requests int) }

// ErrCloseRequested is returned by Serve when a client sent {close}.
var ErrCloseRequested = errors.New("port: close requested")

// Serve reads requests from r until EOF, a {close} request or Stop, then
// finishes the requests in flight, closes the engine and returns. It
// returns nil at EOF and ErrCloseRequested after {close}.
func (s *Server) Serve(r io.Reader) error {
	br := bufio.NewReaderSize(r, 64<<10)
	burst, _ := r.(burstReader)
	var sinceWait uint64
	var buf []byte
	scratch := make([]byte, 0, 4096)
	for {
		if br.Buffered() == 0 {
			// About to block: the pending group runs and whatever is queued
			// goes out now.
			if len(s.group.ids) > 0 {
				s.serving.Lock()
				scratch = s.runGroup(scratch)
				s.serving.Unlock()
			}
			if burst != nil {
				n := s.requests.Load()
				burst.Burst(int(n - sinceWait))
				sinceWait = n
			}
			s.out.readerIdle.Store(true)
			s.out.flush()
			_, err := br.Peek(1)
			s.out.readerIdle.Store(false)
			if err != nil {
				s.Stop()
				return nil
			}
		}
		id, body, nb, err := wire.ReadFrame(br, buf, s.opt.MaxFrame)
		buf = nb
		switch {
		case errors.Is(err, wire.ErrFrameTooLarge):
			s.badFrames.Add(1)
			s.opt.Log.Printf("frame %d: %v", id, err)
			scratch = s.replyError(scratch, id, &wire.BadArg{Msg: err.Error()})
			continue
		case errors.Is(err, wire.ErrShortPacket):
			s.badFrames.Add(1)
			s.opt.Log.Printf("skipped a frame: %v", err)
			continue
		case err != nil:
			s.serving.Lock()
			s.runGroup(scratch) // its replies go out with the flush in Stop
			s.serving.Unlock()
			if err == io.ErrUnexpectedEOF {
				s.opt.Log.Printf("input ended in the middle of a frame; shutting down")
			}
			s.Stop()
			return nil
		}
		if id&wire.MoreFlag != 0 && id != wire.BatchID {
			s.badFrames.Add(1)
			scratch = s.replyError(scratch, id&^wire.MoreFlag, wire.Badf("request id %d: ids must be below 2^63", id))
			continue
		}
		s.serving.Lock()
		if s.stopped {
			s.serving.Unlock()
			return nil
		}
		closing := false
		if id == wire.BatchID {
			scratch, closing = s.dispatchBatch(scratch, body)
		} else {
			scratch, closing = s.dispatch(scratch, id, body)
		}
		s.serving.Unlock()
		if closing {
			return ErrCloseRequested
		}
	}
}

// dispatchBatch serves a batch frame: several requests that the port's
// owner had waiting at once, sent in one write as a run of
// <<length:32, id:64, term>> entries behind the id 2^64-1 (the mirror of
// the batch reply frame). A malformed entry ends the batch: what follows it
// cannot be found.
func (s *Server) dispatchBatch(scratch []byte, body []byte) ([]byte, bool) {
	closing := false
	err := wire.SplitBatch(body, func(entry []byte) bool {
		if len(entry) < wire.IDSize {
			s.badFrames.Add(1)
			s.opt.Log.Printf("batch frame: skipped an entry of %d bytes, shorter than its id", len(entry))
			return true
		}
		id := binary.BigEndian.Uint64(entry)
		if id&wire.MoreFlag != 0 {
			s.badFrames.Add(1)
			scratch = s.replyError(scratch, id&^wire.MoreFlag, wire.Badf("request id %d in a batch: ids must be below 2^63", id))
			return true
		}
		scratch, closing = s.dispatch(scratch, id, entry[wire.IDSize:])
		return !closing
	})
	if err != nil {
		s.badFrames.Add(1)
		s.opt.Log.Printf("%v; the rest of the batch dropped", err)
	}
	return scratch, closing
}

// dispatch decodes one request and runs it here or hands it to a worker.
func (s *Server) dispatch(scratch []byte, id uint64, body []byte) ([]byte, bool) {
	s.requests.Add(1)
	term, err := s.codec.RequestTerm(body)
	var req wire.Request
	if err == nil {
		req, err = wire.Parse(term)
	}
	if err != nil {
		if errors.Is(err, etf.ErrMalformed) {
			s.badFrames.Add(1)
		}
		return s.replyError(scratch, id, err), false
	}
	if kind := groupable(&req); kind != 0 {
		if s.group.kind != kind {
			scratch = s.runGroup(scratch)
		}
		s.group.add(kind, id, &req)
		if s.group.full() {
			// Let the replies of a full group go while the next one is read,
			// so the port's owner and the sidecar work at the same time.
			scratch = s.runGroup(scratch)
			s.out.flush()
		}
		return scratch, false
	}
	scratch = s.runGroup(scratch)
	if req.Op == wire.OpClose {
		s.stopLocked()
		scratch = s.replyOK(scratch, id)
		s.out.flush()
		return scratch, true
	}
	if !s.offReader(&req) {
		return s.exec(scratch, id, &req), false
	}
	// The request's slices alias the reader's buffer, which the next frame
	// overwrites: a worker gets its own copy.
	req, _ = wire.Parse(append([]byte(nil), term...))
	j := job{id: id, req: req}
	if req.Op == wire.OpScan {
		// The scan's iterator is made here, in arrival order, so it sees
		// every write that came before it and none that came after.
		ro, err := s.readOptions(&req)
		if err == nil && req.Packed && s.codec != wire.ETF {
			err = wire.Badf("scan: packed rows are for the etf codec")
		}
		if err == nil {
			j.scanner, err = s.eng.NewScanner(req.Key, req.End, s.scanOptions(&req, ro))
		}
		if err != nil {
			return s.replyError(scratch, id, err), false
		}
	}
	s.jobs <- j // blocks when full: backpressure
	return scratch, false
}

// offReader says whether a request goes to a worker. Only reads that take
// their view of the data here (a scan's iterator is made before the
// hand-off, a cursor has its own) and operations that change no data go:
// every write runs on the reader, so the requests of one stream take
// effect in the order they arrived (docs/protocol.md, "Order").
func (s *Server) offReader(r *wire.Request) bool {
	switch r.Op {
	case wire.OpScan:
		// A short scan costs less than waking a worker (tens of µs on a VM).
		return r.Limit == 0 || r.Limit > inlineRows
	case wire.OpIterNext:
		if cur, ok := s.cursors.get(r.ID); ok && cur.sc != nil {
			return cur.sc.BatchSize() > inlineRows
		}
		return false // unknown cursor: the error is cheap
	case wire.OpFlush, wire.OpCompactRange, wire.OpCheckpoint, wire.OpStats, wire.OpBackup, wire.OpBackupList, wire.OpBackupVerify,
		wire.OpBackupDelete, wire.OpBackupPurge, wire.OpBackupRestore, wire.OpSyncWAL:
		return true
	}
	return false
}

// inlineRows bounds the rows a scan or cursor batch may read on the reader.
const inlineRows = 1000

// restCheck is how often the reaper looks for a quiet spell in which to
// return freed native memory to the OS (see restTrimmer).
const restCheck = time.Second

// restTrimmer decides when to trim: at each of the first restTrimEvery
// checks of a quiet spell (flushes and compactions still free memory in
// the seconds after the last request), then every restTrimEvery checks
// while it lasts, and never while requests flow. A busy sidecar reuses
// what RocksDB frees (the next memtable fills the pages of the last; see
// engine.KeepFreedMemory), and a trim under load would only make it fault
// them in again.
type restTrimmer struct {
	seen  uint64 // requests counted at the last check
	quiet int    // checks in a row without a request
}

// restTrimEvery is both how many quiet checks in a row trim and how many
// apart the trims are after them.
const restTrimEvery = 5

// check reports whether to trim now, given the request count.
func (t *restTrimmer) check(requests uint64) bool {
	if requests != t.seen {
		t.seen, t.quiet = requests, 0
		return false
	}
	t.quiet++
	return t.quiet <= restTrimEvery || t.quiet%restTrimEvery == 0
}

func (s *Server) worker() {
	defer s.workers.Done()
	scratch := make([]byte, 0, 64<<10)
	for j := range s.jobs {
		if j.scanner != nil {
			scratch = s.runScan(scratch, j.id, &j.req, j.scanner)
			continue
		}
		scratch = s.exec(scratch, j.id, &j.req)
	}
}

func (s *Server) reaper() {
	tick := time.NewTicker(max(s.opt.IdleTimeout/4, 50*time.Millisecond))
	defer tick.Stop()
	// Memory freed by RocksDB goes back to the OS when the sidecar is at
	// rest, so its RSS then follows what is in use, not the high-water mark.
	trim := time.NewTicker(restCheck)
	defer trim.Stop()
	var rest restTrimmer
	for {
		select {
		case <-s.done:
			return
		case <-trim.C:
			if rest.check(s.requests.Load()) {
				engine.TrimMemory()
			}
		case now := <-tick.C:
			cutoff := now.Add(-s.opt.IdleTimeout)
			if n := s.cursors.reap(cutoff) + s.snapshots.reap(cutoff); n > 0 {
				s.opt.Log.Printf("closed %d idle cursors and snapshots", n)
			}
		}
	}
}

// Stop stops serving: the request in hand finishes, queued slow requests
// finish, cursors and snapshots are released, replies are flushed and the
// engine is closed (releasing RocksDB's LOCK). It is safe to call from a
// signal handler's goroutine and more than once.
func (s *Server) Stop() {
	s.serving.Lock()
	s.stopLocked()
	s.serving.Unlock()
}

func (s *Server) stopLocked() {
	s.stopOnce.Do(func() {
		s.stopped = true
		close(s.jobs)
		s.workers.Wait()
		s.stopSyncer()
		close(s.done)
		s.cursors.closeAll()
		s.snapshots.closeAll()
		if err := s.eng.Close(); err != nil {
			s.opt.Log.Printf("closing the engine: %v", err)
		}
		s.out.flush()
		s.out.drain()
	})
}

// reply builds one frame with build and queues it.
func (s *Server) reply(scratch []byte, id uint64, build func(c wire.Codec, b []byte) []byte) []byte {
	b, start := wire.BeginFrame(scratch[:0], id)
	b = build(s.codec, s.codec.Begin(b))
	s.out.send(wire.EndFrame(b, start))
	return b
}

func (s *Server) replyOK(scratch []byte, id uint64) []byte {
	return s.reply(scratch, id, func(c wire.Codec, b []byte) []byte { return c.Atom(b, "ok") })
}

// replyError encodes err as {error, Reason}.
func (s *Server) replyError(scratch []byte, id uint64, err error) []byte {
	return s.reply(scratch, id, func(c wire.Codec, b []byte) []byte {
		return AppendErrorTerm(c, b, err)
	})
}

// AppendErrorTerm appends err as {error, Reason}, Reason being its wire
// reason (the one-shot backup commands print the same):
//
//	not_found | closed | too_many_iterators | too_many_snapshots
//	{badarg, Msg} | {unknown_column_family, Name} | {unknown_cursor, Id}
//	{unknown_snapshot, Id} | {unknown_iterator, Id} | {no_backups, Msg}
//	{rocksdb, Msg} | {io_error, Msg} | {internal, Msg}
func AppendErrorTerm(c wire.Codec, b []byte, err error) []byte {
	b = c.Atom(c.Tuple(b, 2), "error")
	var cfErr *engine.UnknownColumnFamilyError
	var rdb *engine.RocksDBError
	var idErr *unknownIDError
	switch {
	case errors.Is(err, engine.ErrNotFound):
		return c.Atom(b, "not_found")
	case errors.Is(err, engine.ErrClosed):
		return c.Atom(b, "closed")
	case errors.Is(err, errTooManyIterators):
		return c.Atom(b, "too_many_iterators")
	case errors.Is(err, errTooManySnapshots):
		return c.Atom(b, "too_many_snapshots")
	case errors.As(err, &cfErr):
		return c.Str(c.Atom(c.Tuple(b, 2), "unknown_column_family"), cfErr.Name)
	case errors.As(err, &idErr):
		return c.Uint(c.Atom(c.Tuple(b, 2), idErr.kind), idErr.id)
	case errors.Is(err, engine.ErrNoBackups):
		return c.Str(c.Atom(c.Tuple(b, 2), "no_backups"), err.Error())
	case errors.Is(err, engine.ErrDatabaseInUse):
		return c.Str(c.Atom(c.Tuple(b, 2), "io_error"), err.Error())
	case errors.As(err, &rdb):
		return c.Str(c.Atom(c.Tuple(b, 2), "rocksdb"), rdb.Msg)
	case isBadArg(err):
		return c.Str(c.Atom(c.Tuple(b, 2), "badarg"), err.Error())
	case isIOError(err):
		return c.Str(c.Atom(c.Tuple(b, 2), "io_error"), err.Error())
	}
	return c.Str(c.Atom(c.Tuple(b, 2), "internal"), err.Error())
}

// isBadArg reports whether err is a caller mistake rather than a failure.
func isBadArg(err error) bool {
	var b *wire.BadArg
	return errors.As(err, &b) || errors.Is(err, etf.ErrMalformed) || errors.Is(err, engine.ErrInvalidArgument)
}

// isIOError reports whether err is the file system's refusal (a path that
// is a file, no permission, no space) or a database another opener holds:
// the caller's environment, not a bug.
func isIOError(err error) bool {
	var pathErr *fs.PathError
	var linkErr *os.LinkError
	var sysErr *os.SyscallError
	var errno syscall.Errno
	return errors.Is(err, engine.ErrDatabaseInUse) || errors.As(err, &pathErr) || errors.As(err, &linkErr) ||
		errors.As(err, &sysErr) || errors.As(err, &errno)
}

var (
	errTooManyIterators = errors.New("port: too many open iterators")
	errTooManySnapshots = errors.New("port: too many open snapshots")
)

type unknownIDError struct {
	kind string // unknown_cursor | unknown_snapshot
	id   uint64
}

func (e *unknownIDError) Error() string { return fmt.Sprintf("port: %s %d", e.kind, e.id) }

// exec runs one request and queues its reply (or replies). A panic is
// turned into an {error, {internal, ...}} reply: no request may kill the
// sidecar.
func (s *Server) exec(scratch []byte, id uint64, r *wire.Request) (out []byte) {
	defer func() {
		if p := recover(); p != nil {
			s.opt.Log.Printf("request %d (%s) panicked: %v\n%s", id, r.Op.String(), p, debug.Stack())
			out = s.replyError(scratch, id, fmt.Errorf("panic: %v", p))
		}
	}()
	ro, err := s.readOptions(r)
	if err != nil {
		return s.replyError(scratch, id, err)
	}
	// A sync write is applied here without a sync and acknowledged by the
	// syncer once an fsync of the WAL covers it (syncer.go).
	wo := engine.WriteOptions{CF: r.CF}
	switch r.Op {
	case wire.OpPing:
		return s.replyOK(scratch, id)
	case wire.OpGet:
		b, start := wire.BeginFrame(scratch[:0], id)
		b = s.codec.Begin(b)
		err := s.eng.GetFunc(r.Key, ro, func(v []byte) {
			b = s.codec.Binary(s.codec.Atom(s.codec.Tuple(b, 2), "ok"), v)
		})
		if err != nil {
			return s.replyError(b, id, err)
		}
		s.out.send(wire.EndFrame(b, start))
		return b
	case wire.OpMultiGet:
		vals, err := s.eng.MultiGet(r.Keys, ro)
		if err != nil {
			return s.replyError(scratch, id, err)
		}
		return s.reply(scratch, id, func(c wire.Codec, b []byte) []byte {
			b = c.List(c.Atom(c.Tuple(b, 2), "ok"), len(vals))
			for _, v := range vals {
				if v == nil {
					b = c.Atom(b, "not_found")
				} else {
					b = c.Binary(b, v)
				}
			}
			return c.ListEnd(b, len(vals))
		})
	case wire.OpPut:
		return s.replyWrite(scratch, id, r.Sync, s.eng.Put(r.Key, r.Value, wo))
	case wire.OpDelete:
		return s.replyWrite(scratch, id, r.Sync, s.eng.Delete(r.Key, wo))
	case wire.OpDeleteRange:
		if len(r.End) == 0 {
			return s.replyError(scratch, id, wire.Badf("delete_range: the end key must not be empty"))
		}
		return s.replyWrite(scratch, id, r.Sync, s.eng.DeleteRange(r.Key, r.End, wo))
	case wire.OpMerge:
		return s.replyWrite(scratch, id, r.Sync, s.eng.Merge(r.Key, r.Value, wo))
	case wire.OpWriteBatch:
		return s.replyWrite(scratch, id, r.Sync, s.eng.Write(r.Batch, false))
	case wire.OpScan:
		return s.scan(scratch, id, r, ro)
	case wire.OpIterOpen:
		if r.Packed && s.codec != wire.ETF {
			return s.replyError(scratch, id, wire.Badf("iter_open: packed rows are for the etf codec"))
		}
		sc, err := s.eng.NewScanner(r.Key, r.End, s.scanOptions(r, ro))
		if err != nil {
			return s.replyError(scratch, id, err)
		}
		cid, err := s.cursors.add(&cursor{sc: sc, packed: r.Packed}, errTooManyIterators)
		if err != nil {
			return s.replyError(scratch, id, err)
		}
		return s.replyID(scratch, id, cid)
	case wire.OpIterNext:
		cur, ok := s.cursors.get(r.ID)
		if !ok || cur.sc == nil {
			return s.replyError(scratch, id, &unknownIDError{"unknown_cursor", r.ID})
		}
		// A finished cursor leaves the table before its last frame is sent,
		// so whoever reads that frame never sees the cursor still open.
		b, _, _ := s.batch(scratch, id, cur.sc, false, cur.packed, func() { s.cursors.remove(r.ID) })
		return b
	case wire.OpIterClose, wire.OpIteratorClose:
		// A scan cursor and a positioned iterator share the table, not
		// their close: each closes only its own kind.
		if cur, ok := s.cursors.get(r.ID); ok && (cur.sc != nil) != (r.Op == wire.OpIterClose) {
			kind := "unknown_iterator"
			if r.Op == wire.OpIterClose {
				kind = "unknown_cursor"
			}
			return s.replyError(scratch, id, &unknownIDError{kind, r.ID})
		}
		s.cursors.remove(r.ID)
		return s.replyOK(scratch, id)
	case wire.OpIterator:
		it, err := s.eng.NewIterator(engine.IteratorOptions{CF: ro.CF, Snapshot: ro.Snapshot,
			LowerBound: r.Lower, UpperBound: r.Upper, NoFillCache: r.NoFillCache,
			TotalOrderSeek: r.TotalOrderSeek, PrefixSameAsStart: r.PrefixSameAsStart, ReadaheadSize: r.Readahead})
		if err != nil {
			return s.replyError(scratch, id, err)
		}
		iid, err := s.cursors.add(&cursor{it: it}, errTooManyIterators)
		if err != nil {
			return s.replyError(scratch, id, err)
		}
		return s.replyID(scratch, id, iid)
	case wire.OpIteratorMove, wire.OpIteratorRefresh:
		cur, ok := s.cursors.get(r.ID)
		if !ok || cur.it == nil {
			return s.replyError(scratch, id, &unknownIDError{"unknown_iterator", r.ID})
		}
		if r.Op == wire.OpIteratorRefresh {
			return s.replyResult(scratch, id, cur.it.Refresh())
		}
		return s.iteratorMove(scratch, id, r, cur.it)
	case wire.OpSnapshotOpen:
		sn, err := s.eng.NewSnapshot()
		if err != nil {
			return s.replyError(scratch, id, err)
		}
		sid, err := s.snapshots.add(sn, errTooManySnapshots)
		if err != nil {
			return s.replyError(scratch, id, err)
		}
		return s.replyID(scratch, id, sid)
	case wire.OpSnapshotClose:
		s.snapshots.remove(r.ID)
		return s.replyOK(scratch, id)
	case wire.OpStats:
		return s.stats(scratch, id)
	case wire.OpCacheInfo:
		info, err := s.eng.CacheInfo()
		if err != nil {
			return s.replyError(scratch, id, err)
		}
		return s.reply(scratch, id, func(c wire.Codec, b []byte) []byte {
			b = c.MapHeader(c.Atom(c.Tuple(b, 2), "ok"), 4)
			b = c.Uint(c.Atom(b, "capacity"), info.Capacity)
			b = c.Uint(c.Atom(b, "usage"), info.Usage)
			b = c.Uint(c.Atom(b, "pinned_usage"), info.PinnedUsage)
			return c.Atom(c.Atom(b, "strict_capacity"), strconv.FormatBool(info.StrictCapacity))
		})
	case wire.OpProperty:
		v, ok, err := s.eng.Property(r.Name, r.CF)
		if err == nil && !ok {
			err = engine.ErrNotFound
		}
		if err != nil {
			return s.replyError(scratch, id, err)
		}
		return s.reply(scratch, id, func(c wire.Codec, b []byte) []byte {
			return c.Str(c.Atom(c.Tuple(b, 2), "ok"), v)
		})
	case wire.OpFlush:
		return s.replyResult(scratch, id, s.eng.Flush(r.CF))
	case wire.OpSyncWAL:
		// On a worker: every write that arrived before it is already applied.
		return s.replyResult(scratch, id, s.eng.SyncWAL())
	case wire.OpLatestSequence:
		seq, err := s.eng.LatestSequenceNumber()
		if err != nil {
			return s.replyError(scratch, id, err)
		}
		return s.reply(scratch, id, func(c wire.Codec, b []byte) []byte {
			return c.Uint(c.Atom(c.Tuple(b, 2), "ok"), seq)
		})
	case wire.OpCompactRange:
		var start, end []byte
		if r.HasStart {
			start = r.Key
		}
		if r.HasEnd {
			end = r.End
		}
		return s.replyResult(scratch, id, s.eng.CompactRange(r.CF, start, end))
	case wire.OpCheckpoint:
		return s.replyResult(scratch, id, s.checkpoint(r))
	case wire.OpBackup, wire.OpBackupList, wire.OpBackupVerify, wire.OpBackupDelete, wire.OpBackupPurge, wire.OpBackupRestore:
		return s.backup(scratch, id, r)
	case wire.OpCFList:
		names, err := s.eng.ColumnFamilies()
		if err != nil {
			return s.replyError(scratch, id, err)
		}
		return s.reply(scratch, id, func(c wire.Codec, b []byte) []byte {
			b = c.List(c.Atom(c.Tuple(b, 2), "ok"), len(names))
			for _, n := range names {
				b = c.Str(b, n)
			}
			return c.ListEnd(b, len(names))
		})
	case wire.OpCFCreate:
		return s.replyResult(scratch, id, s.eng.CreateColumnFamily(r.Name))
	case wire.OpCFDrop:
		return s.replyResult(scratch, id, s.eng.DropColumnFamily(r.Name))
	}
	return s.replyError(scratch, id, wire.Badf("op %s cannot be run here", r.Op.String()))
}

// replyWrite answers a write: at once when it failed or needs no sync,
// else once the syncer's fsync of the WAL covers it.
func (s *Server) replyWrite(scratch []byte, id uint64, sync bool, err error) []byte {
	if err != nil || !sync {
		return s.replyResult(scratch, id, err)
	}
	s.syncer.await(id)
	return scratch
}

func (s *Server) replyResult(scratch []byte, id uint64, err error) []byte {
	if err != nil {
		return s.replyError(scratch, id, err)
	}
	return s.replyOK(scratch, id)
}

func (s *Server) replyID(scratch []byte, id, v uint64) []byte {
	return s.reply(scratch, id, func(c wire.Codec, b []byte) []byte {
		return c.Uint(c.Atom(c.Tuple(b, 2), "ok"), v)
	})
}

func (s *Server) readOptions(r *wire.Request) (engine.ReadOptions, error) {
	ro := engine.ReadOptions{CF: r.CF}
	if r.Snapshot != 0 {
		sn, ok := s.snapshots.get(r.Snapshot)
		if !ok {
			return ro, &unknownIDError{"unknown_snapshot", r.Snapshot}
		}
		ro.Snapshot = sn
	}
	return ro, nil
}

func (s *Server) scanOptions(r *wire.Request, ro engine.ReadOptions) engine.ScanOptions {
	return engine.ScanOptions{CF: ro.CF, Snapshot: ro.Snapshot, BatchSize: r.BatchSize, Limit: r.Limit}
}

// scan answers one request with {rows, Rows, Stats} frames and a last
// {done, Rows, Stats} frame.
func (s *Server) scan(scratch []byte, id uint64, r *wire.Request, ro engine.ReadOptions) []byte {
	if r.Packed && s.codec != wire.ETF {
		return s.replyError(scratch, id, wire.Badf("scan: packed rows are for the etf codec"))
	}
	sc, err := s.eng.NewScanner(r.Key, r.End, s.scanOptions(r, ro))
	if err != nil {
		return s.replyError(scratch, id, err)
	}
	return s.runScan(scratch, id, r, sc)
}

// runScan sends every batch of sc and closes it. A panic is answered as
// exec answers one.
func (s *Server) runScan(scratch []byte, id uint64, r *wire.Request, sc *engine.Scanner) (out []byte) {
	defer sc.Close()
	defer func() {
		if p := recover(); p != nil {
			s.opt.Log.Printf("scan %d panicked: %v\n%s", id, p, debug.Stack())
			out = s.replyError(scratch, id, fmt.Errorf("panic: %v", p))
		}
	}()
	for {
		var more bool
		var err error
		scratch, more, err = s.batch(scratch, id, sc, true, r.Packed, nil)
		if err != nil || !more {
			return scratch
		}
	}
}

// batch encodes one batch of sc as {rows | done, [{K, V}], Stats} straight
// from RocksDB's memory into the frame. last, when set, runs before the
// final frame (or an error) is sent.
//
// A scan answers with many frames: multiFrame marks all but the last with
// wire.MoreFlag. A cursor's iter_next is one request, one frame: never flagged.
//
// packed (wire.ETF only) encodes {rows | done, Count, Rows, Stats} instead, Rows
// one binary of <<KeyLen:32, Key, ValueLen:32, Value>> runs: the BEAM
// splits it into sub-binaries of the one frame, where binary_to_term would
// allocate an off-heap binary for every value over 64 bytes.
func (s *Server) batch(scratch []byte, id uint64, sc *engine.Scanner, multiFrame, packed bool, last func()) ([]byte, bool, error) {
	c := s.codec
	b, start := wire.BeginFrame(scratch[:0], id)
	var tagEnd, mark, countAt, rowsAt int
	var st engine.ScanStats
	var more bool
	var err error
	if packed {
		b = append(b, 131, 104, 4, 119, 4, 'r', 'o', 'w', 's')
		tagEnd = len(b)
		countAt = len(b) + 1
		b = append(b, 98, 0, 0, 0, 0, 109, 0, 0, 0, 0) // INTEGER_EXT count, BINARY_EXT length
		rowsAt = len(b)
		st, more, err = sc.NextFunc(func(k, v []byte) { b = wire.AppendPackedRow(b, k, v) })
	} else {
		b = c.Tuple(c.Begin(b), 3)
		b = c.Atom(b, "rows")
		tagEnd = len(b) // "rows" and "done" are both 4 bytes: patched below
		b, mark = c.BeginList(b)
		st, more, err = sc.NextFunc(func(k, v []byte) {
			b = c.Binary(c.Binary(c.Tuple(b, 2), k), v)
		})
	}
	if err != nil || !more {
		if last != nil {
			last()
		}
	}
	if err != nil {
		return s.replyError(b, id, err), false, err
	}
	if more && multiFrame {
		b[start+wire.HeaderSize] |= 0x80 // wire.MoreFlag: more frames follow under this id
	}
	if !more {
		copy(b[tagEnd-4:tagEnd], "done")
	}
	if packed {
		binary.BigEndian.PutUint32(b[countAt:], uint32(st.Rows))
		binary.BigEndian.PutUint32(b[countAt+5:], uint32(len(b)-rowsAt))
	} else {
		b = c.EndList(b, mark, st.Rows)
	}
	b = c.MapHeader(b, 3)
	b = c.Int(c.Atom(b, "rows_returned"), int64(st.Rows))
	b = c.Int(c.Atom(b, "bytes_read"), int64(st.Bytes))
	b = c.Float(c.Atom(b, "scan_time_ms"), float64(st.Elapsed.Nanoseconds())/1e6)
	s.out.send(wire.EndFrame(b, start))
	return b, more, nil
}

// maxAheadBytes bounds the key and value bytes one iterator move reads
// ahead, so a walk over big values does not buffer megabytes it may never
// use.
const maxAheadBytes = 256 << 10

// iteratorMove answers {ok, Rows, More}: the row the move landed on and
// the rows read ahead, in the direction of the move ([] when it landed on
// no row), and whether a row follows the last one. Rows is a list of
// {Key, Value}, or with {packed, true} (wire.ETF only) one binary of
// <<KeyLen:32, Key, ValueLen:32, Value>> runs, as scans send them.
func (s *Server) iteratorMove(scratch []byte, id uint64, r *wire.Request, it *engine.Iterator) []byte {
	if r.Packed && s.codec != wire.ETF {
		return s.replyError(scratch, id, wire.Badf("iterator_move: packed rows are for the etf codec"))
	}
	c := s.codec
	b, start := wire.BeginFrame(scratch[:0], id)
	b = c.Atom(c.Tuple(c.Begin(b), 3), "ok")
	var mark, lenAt int
	if r.Packed {
		lenAt = len(b) + 1
		b = append(b, 109, 0, 0, 0, 0)
	} else {
		b, mark = c.BeginList(b)
	}
	rows, more, err := it.Move(r.Move, r.Ahead, maxAheadBytes, func(k, v []byte) {
		if r.Packed {
			b = wire.AppendPackedRow(b, k, v)
			return
		}
		b = c.Binary(c.Binary(c.Tuple(b, 2), k), v)
	})
	if err != nil {
		return s.replyError(b, id, err)
	}
	if r.Packed {
		binary.BigEndian.PutUint32(b[lenAt:], uint32(len(b)-lenAt-4))
	} else {
		b = c.EndList(b, mark, rows)
	}
	b = c.Atom(b, strconv.FormatBool(more))
	s.out.send(wire.EndFrame(b, start))
	return b
}

func (s *Server) stats(scratch []byte, id uint64) []byte {
	st, err := s.eng.Stats()
	if err != nil {
		return s.replyError(scratch, id, err)
	}
	return s.reply(scratch, id, func(c wire.Codec, b []byte) []byte {
		b = c.MapHeader(c.Atom(c.Tuple(b, 2), "ok"), 5)
		b = c.MapHeader(c.Atom(b, "tickers"), len(st.Tickers))
		for name, n := range st.Tickers {
			b = c.Uint(c.Str(b, name), n)
		}
		b = c.MapHeader(c.Atom(b, "histograms"), len(st.Histograms))
		for name, h := range st.Histograms {
			b = c.MapHeader(c.Str(b, name), 6)
			b = c.Float(c.Atom(b, "p50"), h.P50)
			b = c.Float(c.Atom(b, "p95"), h.P95)
			b = c.Float(c.Atom(b, "p99"), h.P99)
			b = c.Float(c.Atom(b, "max"), h.Max)
			b = c.Uint(c.Atom(b, "count"), h.Count)
			b = c.Uint(c.Atom(b, "sum"), h.Sum)
		}
		b = appendPropertyMap(c, c.Atom(b, "properties"), st.Properties)
		b = c.MapHeader(c.Atom(b, "column_families"), len(st.ColumnFamilies))
		for name, props := range st.ColumnFamilies {
			b = appendPropertyMap(c, c.Str(b, name), props)
		}
		health := s.eng.Health()
		b = c.MapHeader(c.Atom(b, "sidecar"), 10)
		b = c.Atom(c.Atom(b, "writes_stopped"), strconv.FormatBool(health.WritesStopped))
		b = c.Uint(c.Atom(b, "recoveries"), health.Recoveries)
		b = c.Str(c.Atom(b, "last_write_error"), health.LastError)
		b = c.Int(c.Atom(b, "open_iterators"), int64(s.cursors.len()))
		b = c.Int(c.Atom(b, "open_snapshots"), int64(s.snapshots.len()))
		b = c.Uint(c.Atom(b, "requests"), s.requests.Load())
		b = c.Uint(c.Atom(b, "bad_frames"), s.badFrames.Load())
		b = c.Uint(c.Atom(b, "groups"), s.groups.Load())
		b = c.Uint(c.Atom(b, "grouped"), s.grouped.Load())
		return c.Uint(c.Atom(b, "replies"), s.out.frames.Load())
	})
}

func appendPropertyMap(c wire.Codec, b []byte, props map[string]uint64) []byte {
	b = c.MapHeader(b, len(props))
	for name, v := range props {
		b = c.Uint(c.Str(b, name), v)
	}
	return b
}
