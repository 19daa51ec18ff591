package engine

import (
	"errors"
	"fmt"

	"github.com/spiredb/spire-port/engine/kv"
)

// Sentinel errors. Each message carries the package prefix so that it reads
// well on its own at the far end of a pipe.
var (
	// ErrNotFound is returned by Get when the key does not exist.
	ErrNotFound = errors.New("engine: not found")
	// ErrClosed is returned by any call made after Close.
	ErrClosed = errors.New("engine: closed")
	// ErrUnknownColumnFamily is returned when an operation names a column
	// family the database does not have.
	ErrUnknownColumnFamily = errors.New("engine: unknown column family")
	// ErrColumnFamilyExists is returned by CreateColumnFamily for a name in use.
	ErrColumnFamilyExists = errors.New("engine: column family exists")
	// ErrInvalidArgument marks a caller mistake caught before RocksDB runs.
	ErrInvalidArgument = errors.New("engine: invalid argument")
)

// UnknownColumnFamilyError names the column family an operation asked for.
// errors.Is(err, ErrUnknownColumnFamily) holds for it.
type UnknownColumnFamilyError struct{ Name string }

func (e *UnknownColumnFamilyError) Error() string {
	return fmt.Sprintf("%v: %q", ErrUnknownColumnFamily, e.Name)
}

// Is makes errors.Is(err, ErrUnknownColumnFamily) true.
func (e *UnknownColumnFamilyError) Is(target error) bool { return target == ErrUnknownColumnFamily }

// Kind classifies a RocksDB status (see kv.Kind): callers branch on the
// class of failure instead of matching strings. The wire carries RocksDB's
// message as {rocksdb, Msg}; both clients derive the same kind from it
// (client.ReplyError.Class, Store.KV.Engine.Error.kind/1).
type Kind = kv.Kind

// The classes of RocksDB status.
const (
	KindIO              = kv.KindIO
	KindCorruption      = kv.KindCorruption
	KindInvalidArgument = kv.KindInvalidArgument
	KindNotSupported    = kv.KindNotSupported
	KindBusy            = kv.KindBusy
	KindTimedOut        = kv.KindTimedOut
	KindIncomplete      = kv.KindIncomplete
	KindAborted         = kv.KindAborted
	KindTryAgain        = kv.KindTryAgain
	KindNotFound        = kv.KindNotFound
	KindOther           = kv.KindOther
)

// RocksDBError is a failure reported by RocksDB itself, classified once here.
type RocksDBError struct {
	Op   string // what the engine was doing, e.g. "put" or "open /var/lib/x"
	Kind Kind
	Msg  string // RocksDB's own status text
}

func (e *RocksDBError) Error() string {
	return fmt.Sprintf("engine: %s: %s", e.Op, e.Msg)
}

// classify wraps a grocksdb error (which only carries the status text) into
// a *RocksDBError with its Kind.
func classify(op string, err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	return &RocksDBError{Op: op, Kind: kv.KindOfStatus(msg), Msg: msg}
}

// KindOf reports the Kind of a RocksDB failure, or "" when err is not one.
func KindOf(err error) Kind {
	var re *RocksDBError
	if errors.As(err, &re) {
		return re.Kind
	}
	return ""
}
