package wire

import (
	"fmt"

	"github.com/spiredb/spire-port/engine/kv"
)

// op is a request's operation.
type Op uint8

// The operations, in the order docs/protocol.md lists them.
const (
	OpPing Op = iota + 1
	OpGet
	OpMultiGet
	OpPut
	OpDelete
	OpDeleteRange
	OpWriteBatch
	OpScan
	OpIterOpen
	OpIterNext
	OpIterClose
	OpSnapshotOpen
	OpSnapshotClose
	OpStats
	OpCacheInfo
	OpProperty
	OpFlush
	OpCompactRange
	OpCheckpoint
	OpCFList
	OpCFCreate
	OpCFDrop
	OpClose
	OpIterator
	OpIteratorMove
	OpIteratorRefresh
	OpIteratorClose
	OpBackup
	OpBackupList
	OpBackupVerify
	OpBackupDelete
	OpBackupPurge
	OpBackupRestore
	OpSyncWAL
	OpLatestSequence
	OpMerge
	OpApproximateSizes
	OpApproximateMemTableStats
	OpTLogIterator
	OpTLogNext
	OpTLogClose
	OpWriteBinary
	OpTxnBegin
	OpTxnPut
	OpTxnDelete
	OpTxnGet
	OpTxnCommit
	OpTxnRollback
	OpTxnRelease
	OpSnapshotSequence
	OpSetBackgroundThreads
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
	optDisableWAL
	optTxn
	optAs
)

// The smallest and largest backup and restore rate (bytes/s) and the
// smallest progress interval (bytes) a request may ask for; 0 means no
// limit and the default. MaxBackupRate is engine.MaxBackupRate (RocksDB
// allocates a tenth of the rate as its copy buffer); wire builds without
// cgo, so it keeps its own copy, which a test compares.
// Ids a caller may choose for a new iterator ({as, Id}): above every id the
// sidecar hands out itself (a counter from 1), and small integers on the
// BEAM.
const (
	MinChosenID = 1 << 40
	MaxChosenID = 1<<58 - 1
)

const (
	MinBackupRate    = 1 << 20
	MaxBackupRate    = 1 << 30
	MinProgressEvery = 64 << 10
)

// iteratorReadOpts are the read options an iterator takes.
const iteratorReadOpts = optCF | optSnapshot | optLowerBound | optUpperBound | optFillCache | optTotalOrder |
	optPrefixSame | optReadahead | optTxn | optAs

// opSpec describes one op: its name, its positional arguments and the
// options it takes.
type opSpec struct {
	name string
	args []argKind
	opts int
}

type argKind uint8

// MaxBackgroundThreads bounds set_background_threads: RocksDB starts the
// threads it is told to, and a pool of millions would take the host down.
const MaxBackgroundThreads = 1024

const (
	argKey argKind = iota + 1
	argValue
	argEnd       // a range end: binary; "" means the end of the keyspace
	argBound     // a compaction bound: binary, nil or undefined
	argKeys      // a list of binaries
	argBatch     // a list of batch entries
	argID        // a cursor or snapshot id
	argName      // a binary name (property, column family, checkpoint dir)
	argMove      // an iterator move: first | last | next | prev | {seek | seek_for_prev | next | prev, Key}
	argBackupID  // a backup id, or latest (0)
	argBackupNum // a backup id: 1 .. 2^32-1
	argKeep      // how many backups to keep: 0 .. 2^32-1
	argRanges    // a list of {Start, Limit} binaries
	argSizeFlag  // include_both | include_files | include_memtables
	argTarget    // a second path (restore target), kept in request.target
	argThreads   // a thread count: 0 .. 1024, kept in request.ID
	argPriority  // priority_low | priority_high, kept in request.Name
)

var specs = map[Op]opSpec{
	OpPing:             {"ping", nil, 0},
	OpGet:              {"get", []argKind{argKey}, optCF | optSnapshot},
	OpMultiGet:         {"multi_get", []argKind{argKeys}, optCF | optSnapshot},
	OpPut:              {"put", []argKind{argKey, argValue}, optCF | optSync | optDisableWAL},
	OpDelete:           {"delete", []argKind{argKey}, optCF | optSync | optDisableWAL},
	OpDeleteRange:      {"delete_range", []argKind{argKey, argEnd}, optCF | optSync | optDisableWAL},
	OpWriteBatch:       {"write_batch", []argKind{argBatch}, optSync | optDisableWAL},
	OpScan:             {"scan", []argKind{argKey, argEnd}, optCF | optSnapshot | optBatchSize | optLimit | optPacked},
	OpIterOpen:         {"iter_open", []argKind{argKey, argEnd}, optCF | optSnapshot | optBatchSize | optLimit | optPacked},
	OpIterNext:         {"iter_next", []argKind{argID}, 0},
	OpIterClose:        {"iter_close", []argKind{argID}, 0},
	OpSnapshotOpen:     {"snapshot_open", nil, 0},
	OpSnapshotClose:    {"snapshot_close", []argKind{argID}, 0},
	OpSnapshotSequence: {"snapshot_sequence", []argKind{argID}, 0},
	OpStats:            {"stats", nil, 0},
	OpCacheInfo:        {"cache_info", nil, 0},
	OpProperty:         {"property", []argKind{argName}, optCF},
	OpFlush:            {"flush", nil, optCF},
	OpCompactRange:     {"compact_range", []argKind{argBound, argBound}, optCF},
	OpCheckpoint:       {"checkpoint", []argKind{argName}, optFlat},
	OpCFList:           {"cf_list", nil, 0},
	OpCFCreate:         {"cf_create", []argKind{argName}, 0},
	OpCFDrop:           {"cf_drop", []argKind{argName}, 0},
	OpClose:            {"close", nil, 0},

	OpIterator:        {"iterator", nil, iteratorReadOpts},
	OpIteratorMove:    {"iterator_move", []argKind{argID, argMove}, optAhead | optPacked},
	OpIteratorRefresh: {"iterator_refresh", []argKind{argID}, 0},
	OpIteratorClose:   {"iterator_close", []argKind{argID}, 0},

	OpBackup:        {"backup", []argKind{argName}, optFlush | optRateLimit | optProgressEvery},
	OpBackupList:    {"backup_list", []argKind{argName}, 0},
	OpBackupVerify:  {"backup_verify", []argKind{argName, argBackupNum}, 0},
	OpBackupDelete:  {"backup_delete", []argKind{argName, argBackupNum}, 0},
	OpBackupPurge:   {"backup_purge", []argKind{argName, argKeep}, 0},
	OpBackupRestore: {"backup_restore", []argKind{argName, argBackupID, argTarget}, optFlat | optRateLimit},

	OpSyncWAL:              {"sync_wal", nil, 0},
	OpSetBackgroundThreads: {"set_background_threads", []argKind{argThreads, argPriority}, 0},
	OpLatestSequence:       {"latest_sequence_number", nil, 0},
	OpMerge:                {"merge", []argKind{argKey, argValue}, optCF | optSync | optDisableWAL},

	OpApproximateSizes:         {"approximate_sizes", []argKind{argRanges, argSizeFlag}, optCF},
	OpApproximateMemTableStats: {"approximate_memtable_stats", []argKind{argKey, argValue}, optCF},

	OpTLogIterator: {"tlog_iterator", []argKind{argID}, 0},
	OpTLogNext:     {"tlog_next", []argKind{argID}, 0},
	OpTLogClose:    {"tlog_close", []argKind{argID}, 0},
	OpWriteBinary:  {"write_binary", []argKind{argValue}, optSync | optDisableWAL},

	OpTxnBegin:    {"txn_begin", nil, optSync | optDisableWAL},
	OpTxnPut:      {"txn_put", []argKind{argID, argKey, argValue}, optCF},
	OpTxnDelete:   {"txn_delete", []argKind{argID, argKey}, optCF},
	OpTxnGet:      {"txn_get", []argKind{argID, argKey}, optCF},
	OpTxnCommit:   {"txn_commit", []argKind{argID}, 0},
	OpTxnRollback: {"txn_rollback", []argKind{argID}, 0},
	OpTxnRelease:  {"txn_release", []argKind{argID}, 0},
}

var opsByName = func() map[string]Op {
	m := make(map[string]Op, len(specs))
	for o, s := range specs {
		m[s.name] = o
	}
	return m
}()

// Request is one decoded request.
type Request struct {
	Op       Op
	Key      []byte // key; range start
	Value    []byte // put value
	End      []byte // range end (inclusive for scans, exclusive for delete_range)
	HasStart bool   // compact_range: a start bound was given
	HasEnd   bool   // compact_range: an end bound was given
	Keys     [][]byte
	Batch    []kv.BatchOp
	ID       uint64 // cursor or snapshot
	Name     string
	CF       string
	Sync     bool
	NoWAL    bool          // disable_wal: the memtable only
	Txn      uint64        // iterator: over this transaction's view (0: none)
	Ranges   []kv.KeyRange // approximate_sizes
	// SizeFiles and SizeMemtables: what approximate_sizes counts.
	SizeFiles, SizeMemtables bool
	Packed                   bool // scan: rows as one binary (see docs/protocol.md)
	BatchSize                int
	Limit                    int
	Snapshot                 uint64
	// plain is set when the request came with no options, or an empty
	// list or map of them: only such requests join a group.
	Plain bool

	// Iterators (see docs/protocol.md).
	Lower, Upper      []byte // iterate_lower_bound, iterate_upper_bound
	NoFillCache       bool
	TotalOrderSeek    bool
	PrefixSameAsStart bool
	Readahead         int // readahead_size, bytes
	Move              kv.Move
	Ahead             int    // rows to read past the one a move lands on
	As                uint64 // the id the caller chose for a new iterator (0: the sidecar picks)

	// Checkpoints and backups.
	Target        string // backup_restore: where the database goes
	Flat          bool   // RocksDB's files in the path itself, not <path>/data
	Flush         bool
	RateLimit     uint64
	ProgressEvery uint64
}

// BadArg is a request the sidecar cannot serve as sent; it travels as
// {error, {badarg, Message}}.
type BadArg struct{ Msg string }

func (e *BadArg) Error() string { return e.Msg }

func Badf(format string, args ...any) error {
	return &BadArg{Msg: fmt.Sprintf(format, args...)}
}

// optionBits maps option names to their bits.
var optionBits = map[string]int{"cf": optCF, "sync": optSync, "batch_size": optBatchSize, "limit": optLimit,
	"snapshot": optSnapshot, "packed": optPacked, "iterate_lower_bound": optLowerBound,
	"iterate_upper_bound": optUpperBound, "fill_cache": optFillCache, "total_order_seek": optTotalOrder,
	"prefix_same_as_start": optPrefixSame, "readahead_size": optReadahead, "ahead": optAhead,
	"flush": optFlush, "rate_limit_bytes_per_sec": optRateLimit, "progress_every_bytes": optProgressEvery,
	"flat": optFlat, "disable_wal": optDisableWAL, "txn": optTxn, "as": optAs}

// String is the op's name on the wire.
func (o Op) String() string {
	if s, ok := specs[o]; ok {
		return s.name
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}
