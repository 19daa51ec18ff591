package port

import (
	"errors"
	"fmt"

	"github.com/spiredb/spire-port/engine"
	"github.com/spiredb/spire-port/etf"
)

// op is a request's operation.
type op uint8

// The operations, in the order docs/protocol.md lists them.
const (
	opPing op = iota + 1
	opGet
	opMultiGet
	opPut
	opDelete
	opDeleteRange
	opWriteBatch
	opScan
	opIterOpen
	opIterNext
	opIterClose
	opSnapshotOpen
	opSnapshotClose
	opStats
	opCacheInfo
	opProperty
	opFlush
	opCompactRange
	opCheckpoint
	opCFList
	opCFCreate
	opCFDrop
	opClose
	opIterator
	opIteratorMove
	opIteratorRefresh
	opIteratorClose
	opBackup
	opBackupList
	opBackupVerify
	opBackupDelete
	opBackupPurge
	opBackupRestore
)

// Option bits: which options an op accepts.
const (
	optCF = 1 << iota
	optSync
	optBatchSize
	optLimit
	optSnapshot
	optPacked
	optLowerBound
	optUpperBound
	optFillCache
	optTotalOrder
	optPrefixSame
	optReadahead
	optAhead
	optFlush
	optRateLimit
	optProgressEvery
	optFlat
)

// iteratorReadOpts are the read options an iterator takes.
const iteratorReadOpts = optCF | optSnapshot | optLowerBound | optUpperBound | optFillCache | optTotalOrder |
	optPrefixSame | optReadahead

// opSpec describes one op: its name, its positional arguments and the
// options it takes.
type opSpec struct {
	name string
	args []argKind
	opts int
}

type argKind uint8

const (
	argKey argKind = iota + 1
	argValue
	argEnd      // a range end: binary; "" means the end of the keyspace
	argBound    // a compaction bound: binary, nil or undefined
	argKeys     // a list of binaries
	argBatch    // a list of batch entries
	argID       // a cursor or snapshot id
	argName     // a binary name (property, column family, checkpoint dir)
	argMove     // an iterator move: first | last | next | prev | {seek | seek_for_prev | next | prev, Key}
	argBackupID // a backup id, or latest (0)
	argTarget   // a second path (restore target), kept in request.target
)

var specs = map[op]opSpec{
	opPing:          {"ping", nil, 0},
	opGet:           {"get", []argKind{argKey}, optCF | optSnapshot},
	opMultiGet:      {"multi_get", []argKind{argKeys}, optCF | optSnapshot},
	opPut:           {"put", []argKind{argKey, argValue}, optCF | optSync},
	opDelete:        {"delete", []argKind{argKey}, optCF | optSync},
	opDeleteRange:   {"delete_range", []argKind{argKey, argEnd}, optCF | optSync},
	opWriteBatch:    {"write_batch", []argKind{argBatch}, optSync},
	opScan:          {"scan", []argKind{argKey, argEnd}, optCF | optSnapshot | optBatchSize | optLimit | optPacked},
	opIterOpen:      {"iter_open", []argKind{argKey, argEnd}, optCF | optSnapshot | optBatchSize | optLimit | optPacked},
	opIterNext:      {"iter_next", []argKind{argID}, 0},
	opIterClose:     {"iter_close", []argKind{argID}, 0},
	opSnapshotOpen:  {"snapshot_open", nil, 0},
	opSnapshotClose: {"snapshot_close", []argKind{argID}, 0},
	opStats:         {"stats", nil, 0},
	opCacheInfo:     {"cache_info", nil, 0},
	opProperty:      {"property", []argKind{argName}, optCF},
	opFlush:         {"flush", nil, optCF},
	opCompactRange:  {"compact_range", []argKind{argBound, argBound}, optCF},
	opCheckpoint:    {"checkpoint", []argKind{argName}, optFlat},
	opCFList:        {"cf_list", nil, 0},
	opCFCreate:      {"cf_create", []argKind{argName}, 0},
	opCFDrop:        {"cf_drop", []argKind{argName}, 0},
	opClose:         {"close", nil, 0},

	opIterator:        {"iterator", nil, iteratorReadOpts},
	opIteratorMove:    {"iterator_move", []argKind{argID, argMove}, optAhead | optPacked},
	opIteratorRefresh: {"iterator_refresh", []argKind{argID}, 0},
	opIteratorClose:   {"iterator_close", []argKind{argID}, 0},

	opBackup:        {"backup", []argKind{argName}, optFlush | optRateLimit | optProgressEvery},
	opBackupList:    {"backup_list", []argKind{argName}, 0},
	opBackupVerify:  {"backup_verify", []argKind{argName, argID}, 0},
	opBackupDelete:  {"backup_delete", []argKind{argName, argID}, 0},
	opBackupPurge:   {"backup_purge", []argKind{argName, argID}, 0},
	opBackupRestore: {"backup_restore", []argKind{argName, argBackupID, argTarget}, optFlat | optRateLimit},
}

var opsByName = func() map[string]op {
	m := make(map[string]op, len(specs))
	for o, s := range specs {
		m[s.name] = o
	}
	return m
}()

// request is one decoded request.
type request struct {
	op        op
	key       []byte // key; range start
	value     []byte // put value
	end       []byte // range end (inclusive for scans, exclusive for delete_range)
	hasStart  bool   // compact_range: a start bound was given
	hasEnd    bool   // compact_range: an end bound was given
	keys      [][]byte
	batch     []engine.BatchOp
	id        uint64 // cursor or snapshot
	name      string
	cf        string
	sync      bool
	packed    bool // scan: rows as one binary (see docs/protocol.md)
	batchSize int
	limit     int
	snapshot  uint64
	// plain is set when the request came with no options, or an empty
	// list or map of them: only such requests join a group.
	plain bool

	// Iterators (see docs/protocol.md).
	lower, upper      []byte // iterate_lower_bound, iterate_upper_bound
	noFillCache       bool
	totalOrderSeek    bool
	prefixSameAsStart bool
	readahead         int // readahead_size, bytes
	move              engine.Move
	ahead             int // rows to read past the one a move lands on

	// Checkpoints and backups.
	target        string // backup_restore: where the database goes
	flat          bool   // RocksDB's files in the path itself, not <path>/data
	flush         bool
	rateLimit     uint64
	progressEvery uint64
}

// badArg is a request the sidecar cannot serve as sent; it travels as
// {error, {badarg, Message}}.
type badArg struct{ msg string }

func (e *badArg) Error() string { return e.msg }

func badf(format string, args ...any) error {
	return &badArg{msg: fmt.Sprintf(format, args...)}
}

// optionBits maps option names to their bits.
var optionBits = map[string]int{"cf": optCF, "sync": optSync, "batch_size": optBatchSize, "limit": optLimit,
	"snapshot": optSnapshot, "packed": optPacked, "iterate_lower_bound": optLowerBound,
	"iterate_upper_bound": optUpperBound, "fill_cache": optFillCache, "total_order_seek": optTotalOrder,
	"prefix_same_as_start": optPrefixSame, "readahead_size": optReadahead, "ahead": optAhead,
	"flush": optFlush, "rate_limit_bytes_per_sec": optRateLimit, "progress_every_bytes": optProgressEvery,
	"flat": optFlat}

// isBadArg reports whether err is a caller mistake rather than a failure.
func isBadArg(err error) bool {
	var b *badArg
	return errors.As(err, &b) || errors.Is(err, etf.ErrMalformed) || errors.Is(err, engine.ErrInvalidArgument)
}
