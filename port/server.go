package port

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
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
	IdleTimeout  time.Duration // 5 minutes before an unused cursor or snapshot is closed; negative: never
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
	if o.IdleTimeout == 0 {
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
	txns      *handles[*engine.Txn]

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
	tlog   *engine.UpdatesIterator
	packed bool
}

func (c *cursor) isScan() bool     { return c.sc != nil }
func (c *cursor) isIterator() bool { return c.it != nil }
func (c *cursor) isLog() bool      { return c.tlog != nil }

// closeCursor closes cursor cid when it is of the kind its op closes: the
// kinds share the table, not their close, so an id of another kind is
// unknown to it (reason unknown); one no longer in the table is closed.
func (s *Server) closeCursor(scratch []byte, id, cid uint64, ofKind func(*cursor) bool, unknown string) []byte {
	if cur, ok := s.cursors.get(cid); ok && !ofKind(cur) {
		return s.replyError(scratch, id, &unknownIDError{unknown, cid})
	}
	s.cursors.remove(cid)
	return s.replyOK(scratch, id)
}

// replyAdded puts v in table h and answers {ok, Id}; a full table closes v
// and answers full.
func replyAdded[T any](s *Server, scratch []byte, id uint64, h *handles[T], v T, full error) []byte {
	hid, err := h.add(v, full)
	if err != nil {
		return s.replyError(scratch, id, err)
	}
	return s.replyID(scratch, id, hid)
}

func (c *cursor) close() {
	if c.sc != nil {
		c.sc.Close()
	}
	if c.it != nil {
		c.it.Close()
	}
	if c.tlog != nil {
		c.tlog.Close()
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
	s.txns = newHandles(opt.MaxIterators, (*engine.Txn).Close)
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
		id, body, nb, err := wire.ReadRequestFrame(br, buf, s.opt.MaxFrame)
		buf = nb
		var big *wire.BatchTooLarge
		switch {
		case errors.As(err, &big):
			scratch, err = s.serveLargeBatch(scratch, br, big)
			switch {
			case err == nil:
				continue
			case errors.Is(err, ErrCloseRequested):
				return err
			case errors.Is(err, errServeStopped):
				return nil
			}
			return s.inputEnded(scratch, err)
		case errors.Is(err, wire.ErrFrameTooLarge):
			scratch = s.refuseTooLarge(scratch, "frame", id, err)
			continue
		case errors.Is(err, wire.ErrShortPacket):
			s.badFrames.Add(1)
			s.opt.Log.Printf("skipped a frame: %v", err)
			continue
		case err != nil:
			return s.inputEnded(scratch, err)
		}
		if id&wire.MoreFlag != 0 && id != wire.BatchID {
			scratch = s.refuseHighID(scratch, id, "")
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
			scratch = s.refuseHighID(scratch, id, " in a batch")
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

// inputEnded stops serving once the input is over (EOF, or a read error):
// the pending group runs, and its replies go out with the flush in Stop.
func (s *Server) inputEnded(scratch []byte, err error) error {
	s.serving.Lock()
	s.runGroup(scratch)
	s.serving.Unlock()
	if err == io.ErrUnexpectedEOF {
		s.opt.Log.Printf("input ended in the middle of a frame; shutting down")
	}
	s.Stop()
	return nil
}

// refuseTooLarge answers a frame or batch entry over --max-frame, whose
// bytes were skipped. An id with the top bit set names no request: it is
// logged, not answered.
func (s *Server) refuseTooLarge(scratch []byte, what string, id uint64, err error) []byte {
	s.badFrames.Add(1)
	s.opt.Log.Printf("%s %d: %v", what, id, err)
	if id&wire.MoreFlag != 0 {
		return scratch
	}
	return s.replyError(scratch, id, &wire.BadArg{Msg: err.Error()})
}

// refuseHighID answers a request whose id has the top bit set, which a
// reply uses as its "more" flag: ids must be below 2^63.
func (s *Server) refuseHighID(scratch []byte, id uint64, where string) []byte {
	s.badFrames.Add(1)
	return s.replyError(scratch, id&^wire.MoreFlag, wire.Badf("request id %d%s: ids must be below 2^63", id, where))
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
		s.cursors.closeAll() // iterators over a transaction go before it
		s.txns.closeAll()
		s.snapshots.closeAll()
		if err := s.eng.Close(); err != nil {
			s.opt.Log.Printf("closing the engine: %v", err)
		}
		s.out.flush()
		s.out.drain()
	})
}

// exec runs one request and queues its reply (or replies): it reads as a
// table of contents, one op family to a file. A panic is turned into an
// {error, {internal, ...}} reply: no request may kill the sidecar.
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
	switch r.Op {
	case wire.OpPing:
		return s.replyOK(scratch, id)
	case wire.OpGet, wire.OpMultiGet, wire.OpPut, wire.OpDelete, wire.OpDeleteRange, wire.OpMerge, wire.OpWriteBatch,
		wire.OpWriteBinary:
		return s.execPoint(scratch, id, r, ro) // ops_point.go
	case wire.OpTLogIterator, wire.OpTLogNext, wire.OpTLogClose:
		return s.execTLog(scratch, id, r) // ops_tlog.go
	case wire.OpTxnBegin, wire.OpTxnPut, wire.OpTxnDelete, wire.OpTxnGet, wire.OpTxnCommit, wire.OpTxnRollback,
		wire.OpTxnRelease:
		return s.execTxn(scratch, id, r) // ops_txn.go
	case wire.OpScan, wire.OpIterOpen, wire.OpIterNext, wire.OpIterClose:
		return s.execScan(scratch, id, r, ro) // ops_scan.go
	case wire.OpIterator, wire.OpIteratorMove, wire.OpIteratorRefresh, wire.OpIteratorClose:
		return s.execIterator(scratch, id, r, ro) // ops_iterator.go
	case wire.OpSnapshotOpen, wire.OpSnapshotClose, wire.OpSnapshotSequence, wire.OpSetBackgroundThreads, wire.OpStats, wire.OpCacheInfo, wire.OpProperty,
		wire.OpFlush, wire.OpSyncWAL, wire.OpLatestSequence, wire.OpCompactRange,
		wire.OpCFList, wire.OpCFCreate, wire.OpCFDrop, wire.OpApproximateSizes, wire.OpApproximateMemTableStats:
		return s.execAdmin(scratch, id, r) // ops_admin.go
	case wire.OpCheckpoint:
		return s.replyResult(scratch, id, s.checkpoint(r)) // backup.go
	case wire.OpBackup, wire.OpBackupList, wire.OpBackupVerify, wire.OpBackupDelete, wire.OpBackupPurge, wire.OpBackupRestore:
		return s.backup(scratch, id, r) // backup.go
	}
	return s.replyError(scratch, id, wire.Badf("op %s cannot be run here", r.Op.String()))
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
