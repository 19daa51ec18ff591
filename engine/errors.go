package engine

import (
	"errors"
	"fmt"
	"strings"
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

// Kind classifies a RocksDB status so that callers (and the wire protocol)
// can branch on the class of failure instead of matching strings.
type Kind string

// The classes of RocksDB status this package distinguishes. The names are
// the atoms the sidecar sends: {:error, {:rocksdb, kind, message}}.
const (
	KindIO              Kind = "io_error"
	KindCorruption      Kind = "corruption"
	KindInvalidArgument Kind = "invalid_argument"
	KindNotSupported    Kind = "not_supported"
	KindBusy            Kind = "busy"
	KindTimedOut        Kind = "timed_out"
	KindIncomplete      Kind = "incomplete"
	KindAborted         Kind = "aborted"
	KindTryAgain        Kind = "try_again"
	KindOther           Kind = "other"
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

// statusPrefixes maps RocksDB's Status::ToString prefixes to a Kind.
var statusPrefixes = []struct {
	prefix string
	kind   Kind
}{
	{"IO error", KindIO},
	{"Corruption", KindCorruption},
	{"Invalid argument", KindInvalidArgument},
	{"Not implemented", KindNotSupported},
	{"Operation not supported", KindNotSupported},
	{"Resource busy", KindBusy},
	{"Operation timed out", KindTimedOut},
	{"Result incomplete", KindIncomplete},
	{"Operation aborted", KindAborted},
	{"Operation failed. Try again.", KindTryAgain},
}

// classify wraps a grocksdb error (which only carries the status text) into
// a *RocksDBError with its Kind.
func classify(op string, err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	kind := KindOther
	for _, p := range statusPrefixes {
		if strings.HasPrefix(msg, p.prefix) {
			kind = p.kind
			break
		}
	}
	return &RocksDBError{Op: op, Kind: kind, Msg: msg}
}

// KindOf reports the Kind of a RocksDB failure, or "" when err is not one.
func KindOf(err error) Kind {
	var re *RocksDBError
	if errors.As(err, &re) {
		return re.Kind
	}
	return ""
}
