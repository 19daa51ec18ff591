// Package kv holds the plain types the engine and its clients share: write
// batch entries, key/value pairs, iterator moves and the batch bounds. It
// has no cgo, so the wire protocol and the Go client can use them without
// linking RocksDB; package engine re-exports every name.
package kv

// DefaultBatchSize is the batch size of a scan when none is given.
const DefaultBatchSize = 1000

// MaxBatchSize bounds one batch so that a reply frame stays bounded.
const MaxBatchSize = 100_000

// OpKind is the kind of one write-batch entry.
type OpKind uint8

// The kinds of write-batch entry.
const (
	OpPut OpKind = iota + 1
	OpDelete
	// OpDeleteRange deletes [Key, Value).
	OpDeleteRange
	// OpMerge hands Value to the database's merge operator for Key.
	OpMerge
	// OpSingleDelete is RocksDB's SingleDelete: Key was put at most once
	// since it was last deleted (the caller's promise, as RocksDB's).
	OpSingleDelete
)

// KeyRange is [Start, Limit).
type KeyRange struct{ Start, Limit []byte }

// BatchOp is one entry of an atomic write batch.
type BatchOp struct {
	Kind  OpKind
	CF    string // "" means "default"
	Key   []byte
	Value []byte // the value of a put; the exclusive end of a delete range; a merge's operand
}

// KV is one key/value pair.
type KV struct {
	Key, Value []byte
}

// MoveKind is where an iterator move goes.
type MoveKind uint8

// The moves of an iterator, erlang-rocksdb's iterator_move actions.
const (
	MoveFirst MoveKind = iota + 1
	MoveLast
	// MoveNext and MovePrev step from the last row handed out, or, keyed,
	// from Move.Key: to the first row after it (before it), whether or not
	// the key itself exists.
	MoveNext
	MovePrev
	MoveSeek        // the first row at or after Key
	MoveSeekForPrev // the last row at or before Key
)

// Move is one iterator move.
type Move struct {
	Kind MoveKind
	Key  []byte
	// Keyed is set when Key anchors a MoveNext or MovePrev.
	Keyed bool
}

// Reverse reports whether the move walks towards smaller keys.
func (m Move) Reverse() bool {
	return m.Kind == MoveLast || m.Kind == MovePrev || m.Kind == MoveSeekForPrev
}
