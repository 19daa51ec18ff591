package engine

/*
#cgo CXXFLAGS: -std=c++17 -O2
#cgo LDFLAGS: -lrocksdb -lstdc++
#include "snapshot_shim.h"
*/
import "C"

import (
	"fmt"
	"sync"
	"unsafe"

	"github.com/linxGnu/grocksdb"
)

// Snapshot is a consistent, read-only view of the database at one moment.
// Pass it in ReadOptions or ScanOptions; Close it when done.
type Snapshot struct {
	e      *Engine
	mu     sync.Mutex
	snap   *grocksdb.Snapshot
	ro     *grocksdb.ReadOptions
	closed bool
}

// NewSnapshot captures the current state of every column family.
func (e *Engine) NewSnapshot() (*Snapshot, error) {
	if err := e.begin(); err != nil {
		return nil, err
	}
	defer e.mu.RUnlock()
	s := &Snapshot{e: e, snap: e.db.NewSnapshot(), ro: grocksdb.NewDefaultReadOptions()}
	s.ro.SetSnapshot(s.snap)
	e.track(s)
	return s, nil
}

func (s *Snapshot) handle(e *Engine) (*grocksdb.Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.e != e {
		return nil, fmt.Errorf("%w: snapshot is closed or belongs to another engine", ErrInvalidArgument)
	}
	return s.snap, nil
}

func (s *Snapshot) readOptions(e *Engine) (*grocksdb.ReadOptions, error) {
	if _, err := s.handle(e); err != nil {
		return nil, err
	}
	return s.ro, nil
}

// Close releases the snapshot. It is idempotent. It takes the engine's
// write lock so that no read in flight still uses the snapshot's options.
func (s *Snapshot) Close() {
	s.e.untrack(s)
	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	s.release()
}

func (s *Snapshot) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	s.ro.Destroy()
	if s.e.db != nil {
		s.e.db.ReleaseSnapshot(s.snap)
	}
}

// Sequence is the sequence number the snapshot sees: every write at or
// below it, none after.
func (s *Snapshot) Sequence() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, fmt.Errorf("%w: snapshot is closed", ErrInvalidArgument)
	}
	return uint64(C.spire_snapshot_sequence(nativeSnapshot(s.snap))), nil
}

// nativeSnapshot reads grocksdb's C handle, its Snapshot's one field (see
// nativeDB).
func nativeSnapshot(s *grocksdb.Snapshot) *C.rocksdb_snapshot_t {
	return *(**C.rocksdb_snapshot_t)(unsafe.Pointer(s))
}
