package engine

import (
	"fmt"
	"sync"

	"github.com/linxGnu/grocksdb"
)

// Optimistic transactions (RocksDB's OptimisticTransactionDB; erlang-rocksdb's
// open_optimistic_transaction_db): an engine opened with
// Config.OptimisticTransactions serves its plain operations through the
// base database and Txn's through the transaction database. A transaction
// buffers its writes, reads them back before the database's, and checks
// at Commit that no key it wrote was written by anyone else since it
// began: a conflict is RocksDB's Busy.

// Txn is one transaction; it must be closed.
type Txn struct {
	e      *Engine
	mu     sync.Mutex
	t      *grocksdb.Transaction
	closed bool
	// iters are the iterators over this transaction: they read its write
	// buffer, so they are released before it.
	iters []*Iterator
}

// BeginTxn starts a transaction; o.Sync makes its commit fsync the WAL.
func (e *Engine) BeginTxn(o WriteOptions) (*Txn, error) {
	if err := e.begin(); err != nil {
		return nil, err
	}
	defer e.mu.RUnlock()
	if e.otdb == nil {
		return nil, fmt.Errorf("%w: transactions need a database opened for them (optimistic_transactions)", ErrInvalidArgument)
	}
	wo, err := e.writeOptionsOf(WriteOptions{Sync: o.Sync, DisableWAL: o.DisableWAL})
	if err != nil {
		return nil, err
	}
	topts := grocksdb.NewDefaultOptimisticTransactionOptions()
	defer topts.Destroy()
	t := &Txn{e: e, t: e.otdb.TransactionBegin(wo, topts, nil)}
	e.track(t)
	return t, nil
}

// use runs f with the transaction and the handle of column family cf.
func (t *Txn) use(cf string, f func(h *grocksdb.ColumnFamilyHandle) error) error {
	if err := t.e.begin(); err != nil {
		return err
	}
	defer t.e.mu.RUnlock()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return fmt.Errorf("%w: the transaction is closed", ErrInvalidArgument)
	}
	h, err := t.e.cf(cf)
	if err != nil {
		return err
	}
	return f(h)
}

// Put writes key in the transaction.
func (t *Txn) Put(cf string, key, value []byte) error {
	return t.use(cf, func(h *grocksdb.ColumnFamilyHandle) error {
		return classify("transaction put", t.t.PutCF(h, key, value))
	})
}

// Delete deletes key in the transaction.
func (t *Txn) Delete(cf string, key []byte) error {
	return t.use(cf, func(h *grocksdb.ColumnFamilyHandle) error {
		return classify("transaction delete", t.t.DeleteCF(h, key))
	})
}

// Get reads key as the transaction sees it: its own writes first.
func (t *Txn) Get(cf string, key []byte) (value []byte, err error) {
	err = t.use(cf, func(h *grocksdb.ColumnFamilyHandle) error {
		s, err := t.t.GetWithCF(t.e.readOpts, h, key)
		if err != nil {
			return classify("transaction get", err)
		}
		defer s.Free()
		if !s.Exists() {
			return ErrNotFound
		}
		value = append([]byte(nil), s.Data()...)
		return nil
	})
	return value, err
}

// Commit applies the transaction's writes at once, or fails with
// RocksDB's Busy when another write touched one of its keys since it began.
func (t *Txn) Commit() error {
	return t.use("", func(*grocksdb.ColumnFamilyHandle) error {
		return t.e.writeFailed("transaction commit", t.t.Commit())
	})
}

// Rollback drops the transaction's writes.
func (t *Txn) Rollback() error {
	return t.use("", func(*grocksdb.ColumnFamilyHandle) error {
		return classify("transaction rollback", t.t.Rollback())
	})
}

// newIterator makes a RocksDB iterator over the transaction's view of cf:
// the database merged with the transaction's own writes.
func (t *Txn) newIterator(it *Iterator, ro *grocksdb.ReadOptions, h *grocksdb.ColumnFamilyHandle) (*grocksdb.Iterator, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, fmt.Errorf("%w: the transaction is closed", ErrInvalidArgument)
	}
	t.iters = append(t.iters, it)
	return t.t.NewIteratorCF(ro, h), nil
}

// Close frees the transaction (rolled back if it was not committed).
func (t *Txn) Close() {
	t.e.untrack(t)
	t.release()
}

func (t *Txn) release() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.closed {
		t.closed = true
		for _, it := range t.iters {
			it.release()
		}
		t.t.Destroy()
	}
}

var optimisticSetting = boolSetting("SPIRE_ROCKSDB_OPTIMISTIC_TRANSACTIONS", "false",
	"open as an optimistic transaction database (erlang-rocksdb's open_optimistic_transaction_db)",
	func(c *Config, b bool) { c.OptimisticTransactions = b })

func init() { Settings = append(Settings, optimisticSetting) }
