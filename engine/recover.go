package engine

/*
#include <stdlib.h>
#include <rocksdb/c.h>

// spire_probe_write writes an empty batch: RocksDB answers it with its
// background error when it has stopped taking writes, and with OK
// otherwise, without touching the data.
// spire_reversed_range writes a delete_range whose end comes before its
// start, which RocksDB 7.8 takes into the WAL and then fails in the
// memtable insert: the background error state that a full disk or an I/O
// error also leads to. Only tests use it, to fault the engine on purpose.
static void spire_reversed_range(rocksdb_t* db, const rocksdb_writeoptions_t* wo,
                                 rocksdb_column_family_handle_t* cf, char** err) {
	rocksdb_writebatch_t* wb = rocksdb_writebatch_create();
	rocksdb_writebatch_delete_range_cf(wb, cf, "b", 1, "a", 1);
	rocksdb_write(db, wo, wb, err);
	rocksdb_writebatch_destroy(wb);
}

static void spire_probe_write(rocksdb_t* db, const rocksdb_writeoptions_t* wo, char** err) {
	rocksdb_writebatch_t* wb = rocksdb_writebatch_create();
	rocksdb_write(db, wo, wb, err);
	rocksdb_writebatch_destroy(wb);
}
*/
import "C"

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/linxGnu/grocksdb"
)

// health follows RocksDB's background error state. Some failed writes (an
// I/O error or a full disk in the WAL, a failed memtable insert) leave
// RocksDB refusing every later write with the same status until it is
// resumed. RocksDB 7.8's C API has no DB::Resume, so the engine reopens
// the database instead: the WAL replays every acknowledged write.
type health struct {
	stopped    atomic.Bool   // RocksDB refuses writes; a reopen is under way
	recovering atomic.Bool   // the reopen goroutine runs
	recoveries atomic.Uint64 // successful reopens
	lastErr    atomic.Pointer[string]
	// broken is set while the database is closed between a failed reopen
	// and the next attempt; every call fails with it. Guarded by Engine.mu.
	broken error
	logf   func(format string, args ...any)
	logMu  sync.Mutex
}

// Health describes RocksDB's background error state.
type Health struct {
	WritesStopped bool   // RocksDB refuses writes until the reopen succeeds
	Recoveries    uint64 // reopens that brought writes back
	LastError     string // the status that stopped writes last, "" if none
}

// Health reports whether RocksDB takes writes, and how often it had to be
// reopened to take them again.
func (e *Engine) Health() Health {
	h := Health{WritesStopped: e.health.stopped.Load(), Recoveries: e.health.recoveries.Load()}
	if p := e.health.lastErr.Load(); p != nil {
		h.LastError = *p
	}
	return h
}

// SetLogf sets where the engine reports what it does on its own (the
// reopen after a background error). The default discards it.
func (e *Engine) SetLogf(logf func(format string, args ...any)) {
	e.health.logMu.Lock()
	e.health.logf = logf
	e.health.logMu.Unlock()
}

func (e *Engine) logf(format string, args ...any) {
	e.health.logMu.Lock()
	f := e.health.logf
	e.health.logMu.Unlock()
	if f != nil {
		f(format, args...)
	}
}

// writeFailed classifies a failed write; e.mu is held for reading. When
// RocksDB has stopped taking writes, it starts the recovery and says so in
// the error, so the caller learns the state and not only the status.
func (e *Engine) writeFailed(op string, err error) error {
	if err == nil {
		return nil
	}
	cerr := classify(op, err)
	// A read-only database refuses every write, the probe's too: that is
	// not RocksDB stopping.
	if e.cfg.ReadOnly || !e.writesStopped() {
		return cerr
	}
	msg := cerr.(*RocksDBError).Msg
	e.health.lastErr.Store(&msg)
	if e.health.stopped.CompareAndSwap(false, true) {
		e.logf("RocksDB stopped taking writes after %s: %s; reopening the database", op, msg)
	}
	e.startRecovery()
	re := *cerr.(*RocksDBError)
	re.Msg = msg + " (RocksDB stopped taking writes; spire-port is reopening the database, writes resume when it is done)"
	return &re
}

// writesStopped probes RocksDB with an empty write; e.mu is held.
func (e *Engine) writesStopped() bool {
	var cerr *C.char
	C.spire_probe_write(nativeDB(e.db), nativeWriteOptions(e.writeOpts), &cerr)
	return cError(cerr) != nil
}

// faultWrites puts RocksDB in its background error state, bypassing the
// checks that keep callers from doing so; for tests of the recovery.
func (e *Engine) faultWrites() error {
	if err := e.begin(); err != nil {
		return err
	}
	defer e.mu.RUnlock()
	var cerr *C.char
	C.spire_reversed_range(nativeDB(e.db), nativeWriteOptions(e.writeOpts), nativeCF(e.defaultCF), &cerr)
	return cError(cerr)
}

// startRecovery reopens the database in the background, once at a time,
// retrying with a growing pause until it works or the engine is closed.
func (e *Engine) startRecovery() {
	if !e.health.recovering.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer e.health.recovering.Store(false)
		pause := 50 * time.Millisecond
		for {
			done, err := e.reopen()
			if done {
				return
			}
			e.logf("reopening the database failed: %v; trying again in %v", err, pause)
			time.Sleep(pause)
			pause = min(2*pause, 5*time.Second)
		}
	}()
}

// reopen closes and opens RocksDB under the write lock, so no call is in
// flight. Scanners, iterators and snapshots of the old instance are
// released: using them afterwards is an error. done is true when there is
// nothing more to do (reopened, or the engine was closed meanwhile).
func (e *Engine) reopen() (done bool, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return true, nil
	}
	if e.db != nil && e.health.broken == nil && !e.writesStopped() {
		e.health.stopped.Store(false)
		return true, nil // it came back by itself
	}
	e.closeDB()
	if err := e.openDB(); err != nil {
		e.health.broken = fmt.Errorf("engine: the database is closed while it is reopened after a write failure: %w", err)
		return false, err
	}
	e.health.broken = nil
	e.health.stopped.Store(false)
	e.health.recoveries.Add(1)
	e.logf("database reopened; writes work again")
	return true, nil
}

// ListColumnFamilies lists the column families of the database in dir
// without opening it.
func ListColumnFamilies(dir string) ([]string, error) {
	opts := grocksdb.NewDefaultOptions()
	defer opts.Destroy()
	names, err := grocksdb.ListColumnFamilies(opts, dir)
	return names, classify("list column families of "+dir, err)
}

// Destroy deletes the database in dir, which no process may hold open:
// RocksDB's DestroyDB removes its files, and dir too once nothing else is
// in it. A dir that holds no database is left as it is.
func Destroy(dir string) error {
	return offline("destroy", dir, func(opts *grocksdb.Options) error { return grocksdb.DestroyDb(dir, opts) })
}

// Repair salvages what it can of a damaged database in dir, which no
// process may hold open (RocksDB's RepairDB: data may be lost).
func Repair(dir string) error {
	return offline("repair", dir, func(opts *grocksdb.Options) error { return grocksdb.RepairDb(dir, opts) })
}

// offline runs DestroyDB or RepairDB on dir. A directory that holds no
// database is left alone (both would delete or rewrite files they take
// for its own), and one that any process holds open is refused, read-only
// openers included, with ErrDatabaseInUse.
func offline(op, dir string, run func(*grocksdb.Options) error) error {
	ok, err := holdsDatabase(dir, op == "repair")
	if err != nil {
		return err
	}
	if !ok && op == "repair" {
		return fmt.Errorf("%w: repair: %s holds no database", ErrInvalidArgument, dir)
	}
	if !ok {
		return nil
	}
	release, err := holdExclusive(op, dir)
	if err != nil {
		return err
	}
	defer release()
	opts := grocksdb.NewDefaultOptions()
	defer opts.Destroy()
	err = classify(op+" "+dir, run(opts))
	if isLockHeld(err) {
		return fmt.Errorf("%w: %v", ErrDatabaseInUse, err)
	}
	return err
}

// openDB opens RocksDB in e.path with e.opts and every column family it
// has (plus those the config names); e.mu is held or the engine is new.
func (e *Engine) openDB() error {
	names := []string{DefaultColumnFamily}
	if existing, err := grocksdb.ListColumnFamilies(e.opts, e.path); err == nil {
		names = append(names, existing...)
	}
	names = append(names, e.cfg.ColumnFamilies...)
	names = dedupe(names)
	cfOpts := make([]*grocksdb.Options, len(names))
	for i := range cfOpts {
		cfOpts[i] = e.opts
	}
	var db *grocksdb.DB
	var handles []*grocksdb.ColumnFamilyHandle
	var err error
	switch {
	case e.cfg.ValueTTL > 0 && e.cfg.ReadOnly:
		return fmt.Errorf("%w: a TTL database cannot be opened read-only here", ErrInvalidArgument)
	case e.cfg.ValueTTL > 0:
		db, handles, err = openWithTTL(e.opts, e.path, names, cfOpts, e.cfg.ValueTTL)
	case e.cfg.OptimisticTransactions && !e.cfg.ReadOnly:
		var otdb *grocksdb.OptimisticTransactionDB
		otdb, handles, err = grocksdb.OpenOptimisticTransactionDbColumnFamilies(e.opts, e.path, names, cfOpts)
		if err == nil {
			e.otdb, db = otdb, otdb.GetBaseDB()
		}
	case e.cfg.ReadOnly:
		db, handles, err = grocksdb.OpenDbForReadOnlyColumnFamilies(e.opts, e.path, names, cfOpts, false)
	default:
		db, handles, err = grocksdb.OpenDbColumnFamilies(e.opts, e.path, names, cfOpts)
	}
	if err != nil {
		return classify("open "+e.path, err)
	}
	e.db = db
	e.cfs = make(map[string]*grocksdb.ColumnFamilyHandle, len(names))
	for i, name := range names {
		e.cfs[name] = handles[i]
	}
	e.defaultCF = e.cfs[DefaultColumnFamily]
	return nil
}
