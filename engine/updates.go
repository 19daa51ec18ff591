package engine

import (
	"fmt"
	"sync"

	"github.com/linxGnu/grocksdb"
)

// UpdatesIterator walks the write batches in the WAL from a sequence
// number on (RocksDB's GetUpdatesSince; erlang-rocksdb's tlog_iterator):
// each batch as RocksDB serialized it, which WriteBinary applies to
// another database. WAL files RocksDB has deleted are beyond its reach.
type UpdatesIterator struct {
	e       *Engine
	mu      sync.Mutex
	it      *grocksdb.WalIterator
	started bool
	closed  bool
}

// UpdatesSince positions an iterator on the batch holding seq, or the
// first one after it.
func (e *Engine) UpdatesSince(seq uint64) (*UpdatesIterator, error) {
	if err := e.begin(); err != nil {
		return nil, err
	}
	defer e.mu.RUnlock()
	it, err := e.db.GetUpdatesSince(seq)
	if err != nil {
		return nil, classify("updates since", err)
	}
	u := &UpdatesIterator{e: e, it: it}
	e.track(u)
	return u, nil
}

// Next returns the next batch: its first sequence number and its bytes;
// ok is false at the end of the WAL.
func (u *UpdatesIterator) Next() (seq uint64, data []byte, ok bool, err error) {
	if err := u.e.begin(); err != nil {
		return 0, nil, false, err
	}
	defer u.e.mu.RUnlock()
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		return 0, nil, false, fmt.Errorf("%w: the updates iterator is closed", ErrInvalidArgument)
	}
	if u.started {
		u.it.Next()
	}
	u.started = true
	if !u.it.Valid() {
		if err := u.it.Err(); err != nil && !isEndOfLog(err) {
			return 0, nil, false, classify("updates next", err)
		}
		return 0, nil, false, nil
	}
	wb, seq := u.it.GetBatch()
	defer wb.Destroy()
	return seq, append([]byte(nil), wb.Data()...), true, nil
}

// isEndOfLog: RocksDB reports the end of the WAL as a NotFound status.
func isEndOfLog(err error) bool {
	return KindOf(classify("", err)) == KindNotFound
}

// Close frees the iterator; closing twice is fine.
func (u *UpdatesIterator) Close() {
	u.e.untrack(u)
	u.release()
}

func (u *UpdatesIterator) release() {
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.closed {
		u.closed = true
		u.it.Destroy()
	}
}

// WriteBinary applies a write batch as RocksDB serialized it (an
// UpdatesIterator's, or another database's), atomically.
func (e *Engine) WriteBinary(data []byte, o WriteOptions) error {
	if len(data) < 12 {
		return fmt.Errorf("%w: a write batch is at least 12 bytes, got %d", ErrInvalidArgument, len(data))
	}
	wo, err := e.writeOptionsOf(o)
	if err != nil {
		return err
	}
	if _, err := e.beginWrite("", len(data)); err != nil {
		return err
	}
	defer e.mu.RUnlock()
	if err := e.checkBatch(data); err != nil {
		return err
	}
	wb := grocksdb.WriteBatchFrom(data)
	defer wb.Destroy()
	return e.writeFailed("write_binary", e.db.Write(wo, wb))
}
