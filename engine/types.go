package engine

import "github.com/spiredb/spire-port/engine/kv"

// The plain types live in package kv (no cgo) so that the wire protocol
// and the Go client can use them without linking RocksDB.

// DefaultBatchSize is the batch size of a scan when none is given.
const DefaultBatchSize = kv.DefaultBatchSize

// MaxBatchSize bounds one batch so that a reply frame stays bounded.
const MaxBatchSize = kv.MaxBatchSize

type (
	// OpKind is the kind of one write-batch entry.
	OpKind = kv.OpKind
	// BatchOp is one entry of an atomic write batch.
	BatchOp = kv.BatchOp
	// KV is one key/value pair.
	KV = kv.KV
	// MoveKind is where an Iterator move goes.
	MoveKind = kv.MoveKind
	// Move is one Iterator move.
	Move = kv.Move
	// KeyRange is [Start, Limit).
	KeyRange = kv.KeyRange
)

// The kinds of write-batch entry and of iterator move.
const (
	OpPut           = kv.OpPut
	OpDelete        = kv.OpDelete
	OpDeleteRange   = kv.OpDeleteRange
	OpMerge         = kv.OpMerge
	OpSingleDelete  = kv.OpSingleDelete
	MoveFirst       = kv.MoveFirst
	MoveLast        = kv.MoveLast
	MoveNext        = kv.MoveNext
	MovePrev        = kv.MovePrev
	MoveSeek        = kv.MoveSeek
	MoveSeekForPrev = kv.MoveSeekForPrev
)
