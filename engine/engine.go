package engine

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/linxGnu/grocksdb"
)

// DefaultColumnFamily is the column family every RocksDB database has.
const DefaultColumnFamily = "default"

// Engine is one open RocksDB database. It is safe for concurrent use.
type Engine struct {
	path string
	cfg  Config

	// mu is held for reading by every operation and for writing by Close and
	// by column-family changes, so Close waits for calls in flight and no C
	// object is used after it is freed.
	mu     sync.RWMutex
	closed bool

	db        *grocksdb.DB
	opts      *grocksdb.Options
	table     *grocksdb.BlockBasedTableOptions
	cache     *grocksdb.Cache
	rowCache  *grocksdb.Cache // nil unless Tuning.RowCacheSize > 0
	limiter   *grocksdb.RateLimiter
	readOpts  *grocksdb.ReadOptions
	writeOpts *grocksdb.WriteOptions
	syncOpts  *grocksdb.WriteOptions
	noWALOpts *grocksdb.WriteOptions
	defaultCF *grocksdb.ColumnFamilyHandle
	cfs       map[string]*grocksdb.ColumnFamilyHandle
	guard     *diskGuard
	// unuseDir releases this engine's record of its directory (dirlock.go).
	unuseDir func()
	// hasMerge is set when a merge operator is configured.
	hasMerge bool
	// otdb is the transaction database of an engine opened for
	// transactions (txn.go); db is then its base database.
	otdb *grocksdb.OptimisticTransactionDB

	// open holds scanners, iterators and snapshots not yet closed, so that
	// Close (or a reopen) can release them before the database.
	openMu sync.Mutex
	open   map[closer]struct{}

	health health
}

// closer is a resource that Engine.Close must release before the DB.
type closer interface{ release() }

// ReadOptions select what a read sees.
type ReadOptions struct {
	// CF is the column family; "" means "default".
	CF string
	// Snapshot, when set, reads the state the snapshot captured.
	Snapshot *Snapshot
}

// WriteOptions select how a write is acknowledged.
type WriteOptions struct {
	// CF is the column family; "" means "default". Batch entries name their own.
	CF string
	// Sync makes the write fsync the WAL before returning, so it survives a
	// crash of the operating system, not only of the process.
	Sync bool
	// DisableWAL writes to the memtable only: the write is lost if the
	// process dies before a flush. It excludes Sync.
	DisableWAL bool
}

// Open opens (creating if needed) the database in dir with cfg. A directory
// held by another process or Engine fails at once with a KindIO error that
// names the LOCK file.
func Open(dir string, cfg Config) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if !cfg.ReadOnly && !cfg.InMemory {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("engine: create data dir: %w", err)
		}
	}
	e := &Engine{path: dir, cfg: cfg, open: make(map[closer]struct{})}
	var err error
	if e.unuseDir, err = useDir(dir, cfg.ReadOnly); err != nil {
		return nil, err
	}
	e.buildOptions()

	if err := e.openDB(); err != nil {
		e.destroyOptions()
		e.unuseDir()
		if isFooterError(err) && !cfg.InMemory {
			if ferr := checkFormatVersions(dir); ferr != nil {
				return nil, ferr
			}
		}
		return nil, err
	}
	if cfg.InMemory {
		e.guard = &diskGuard{off: true}
	} else if e.guard, err = newDiskGuard(dir, reserveFor(cfg)); err != nil {
		e.Close()
		return nil, fmt.Errorf("engine: data dir: %w", err)
	}
	return e, nil
}

func (e *Engine) buildOptions() {
	cfg := e.cfg
	e.cache = grocksdb.NewLRUCache(cfg.BlockCacheSize)
	e.table = grocksdb.NewDefaultBlockBasedTableOptions()
	e.table.SetBlockCache(e.cache)
	if cfg.BloomBitsPerKey > 0 {
		e.table.SetFilterPolicy(grocksdb.NewBloomFilterFull(float64(cfg.BloomBitsPerKey)))
	}
	// Index and filter blocks live in the block cache (by default) so that
	// the cache capacity bounds memory, as the seed's diagram promises.
	t := cfg.Tuning
	e.table.SetCacheIndexAndFilterBlocks(t.CacheIndexAndFilterBlocks)
	e.table.SetPinL0FilterAndIndexBlocksInCache(t.CacheIndexAndFilterBlocks)
	e.table.SetBlockSize(int(t.BlockSize))
	e.table.SetFormatVersion(t.FormatVersion)

	o := grocksdb.NewDefaultOptions()
	o.SetCreateIfMissing(true)
	o.SetCreateIfMissingColumnFamilies(true)
	o.SetBlockBasedTableFactory(e.table)
	if t.RowCacheSize > 0 {
		e.rowCache = grocksdb.NewLRUCache(t.RowCacheSize)
		o.SetRowCache(e.rowCache)
	}
	o.EnableStatistics()
	o.SetCompression(compressionType(cfg.Compression))
	if cfg.BottommostCompression != CompressionDisabled {
		o.SetBottommostCompression(compressionType(cfg.BottommostCompression))
	}
	cfg.Compaction.apply(o)
	o.SetWriteBufferSize(cfg.WriteBufferSize)
	o.SetMaxWriteBufferNumber(cfg.MaxWriteBufferNumber)
	// Per-family sizes do not add up to a bound: 14 families of 128 MiB x 4
	// could hold 7 GiB of memtables. This caps their sum.
	boundMemtables(o, cfg.TotalWriteBufferSize(), e.cache, t.MemtablesInBlockCache)
	o.SetMaxBackgroundJobs(cfg.MaxBackgroundJobs)
	if cfg.MemtableBloomPercent > 0 {
		// Gets of keys not written recently skip the memtable search, at a
		// cost to every write: off by default (docs/benchmarks.md).
		o.SetMemtableWholeKeyFiltering(true)
		o.SetMemTablePrefixBloomSizeRatio(float64(cfg.MemtableBloomPercent) / 100)
	}
	o.SetLevel0FileNumCompactionTrigger(cfg.Level0FileNumCompactionTrigger)
	o.SetMaxBytesForLevelBase(cfg.MaxBytesForLevelBase)
	o.SetMaxBytesForLevelMultiplier(cfg.MaxBytesForLevelMultiplier)
	o.SetTargetFileSizeBase(t.TargetFileSizeBase)
	o.SetMinWriteBufferNumberToMerge(t.MinWriteBufferNumberToMerge)
	o.SetMaxOpenFiles(t.MaxOpenFiles)
	o.SetLevelCompactionDynamicLevelBytes(t.LevelCompactionDynamicLevels)
	o.SetMaxTotalWalSize(t.MaxTotalWALSize)
	o.SetWALRecoveryMode(grocksdb.WALRecoveryMode(walRecoveryModes[t.WALRecoveryMode]))
	o.SetRecycleLogFileNum(uint(t.RecycleLogFileNum))
	o.SetWALBytesPerSync(t.WALBytesPerSync)
	o.SetOptimizeFiltersForHits(t.OptimizeFiltersForHits)
	if op := mergeOperator(t); op != nil {
		setMergeOperator(o, op)
		e.hasMerge = true
	}
	o.SetAllowConcurrentMemtableWrites(t.AllowConcurrentMemtableWrite)
	o.SetEnableWriteThreadAdaptiveYield(t.EnableWriteThreadAdaptiveYield)
	// RocksDB's in-memory env calls the rate limiter through an overload
	// that asserts: a database with no disk has no I/O to limit anyway.
	if cfg.RateLimitBytesPerSec > 0 && !cfg.InMemory {
		e.limiter = grocksdb.NewRateLimiter(int64(cfg.RateLimitBytesPerSec), 100*1000, 10)
		o.SetRateLimiter(e.limiter)
	}
	e.opts = withOptionsString(o, t.OptionsString)
	if cfg.InMemory {
		// Set on the final options, which own it: a copy made by the option
		// string would share the pointer with options already destroyed.
		e.opts.SetEnv(grocksdb.NewMemEnv())
	}

	e.readOpts = grocksdb.NewDefaultReadOptions()
	e.writeOpts = grocksdb.NewDefaultWriteOptions()
	e.syncOpts = grocksdb.NewDefaultWriteOptions()
	e.syncOpts.SetSync(true)
	e.noWALOpts = grocksdb.NewDefaultWriteOptions()
	e.noWALOpts.DisableWAL(true)
}

func (e *Engine) destroyOptions() {
	e.readOpts.Destroy()
	e.writeOpts.Destroy()
	e.syncOpts.Destroy()
	e.noWALOpts.Destroy()
	e.opts.Destroy()
	e.table.Destroy()
	e.cache.Destroy()
	if e.rowCache != nil {
		e.rowCache.Destroy()
	}
	if e.limiter != nil {
		e.limiter.Destroy()
	}
}

func compressionType(c Compression) grocksdb.CompressionType {
	switch c {
	case CompressionSnappy:
		return grocksdb.SnappyCompression
	case CompressionLZ4:
		return grocksdb.LZ4Compression
	case CompressionZstd:
		return grocksdb.ZSTDCompression
	}
	return grocksdb.NoCompression
}

func dedupe(names []string) []string {
	seen := make(map[string]bool, len(names))
	out := names[:0]
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// Path is the directory the database lives in.
func (e *Engine) Path() string { return e.path }

// Config is the configuration the engine was opened with.
func (e *Engine) Config() Config { return e.cfg }

// Close releases open scanners and snapshots, closes RocksDB (removing its
// LOCK) and frees every C object. It waits for calls in flight and is
// idempotent.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	e.closeDB()
	e.destroyOptions()
	e.unuseDir()
	return nil
}

// closeDB releases every scanner, iterator and snapshot still open, then
// the column family handles and RocksDB itself; e.mu is held for writing.
// Between a failed reopen and the next try there is no database, and
// nothing to release.
func (e *Engine) closeDB() {
	e.openMu.Lock()
	for c := range e.open {
		c.release()
	}
	clear(e.open)
	e.openMu.Unlock()
	for _, h := range e.cfs {
		h.Destroy()
	}
	switch {
	case e.otdb != nil:
		e.otdb.CloseBaseDB(e.db)
		e.otdb.Close()
	case e.db != nil:
		e.db.Close()
	}
	e.db, e.otdb, e.cfs, e.defaultCF = nil, nil, nil, nil
}

func (e *Engine) track(c closer) {
	e.openMu.Lock()
	e.open[c] = struct{}{}
	e.openMu.Unlock()
}

func (e *Engine) untrack(c closer) {
	e.openMu.Lock()
	if e.open != nil {
		delete(e.open, c)
	}
	e.openMu.Unlock()
}

// begin takes the read side of mu; the caller must call e.mu.RUnlock.
func (e *Engine) begin() error {
	e.mu.RLock()
	if err := e.unusable(); err != nil {
		e.mu.RUnlock()
		return err
	}
	return nil
}

// unusable says why no call may use the database now (closed, or between
// a failed reopen and the next try), or nil; mu is held.
func (e *Engine) unusable() error {
	if e.closed {
		return ErrClosed
	}
	return e.health.broken
}

// cf resolves a column family name; mu must be held.
func (e *Engine) cf(name string) (*grocksdb.ColumnFamilyHandle, error) {
	if name == "" || name == DefaultColumnFamily {
		return e.defaultCF, nil
	}
	h, ok := e.cfs[name]
	if !ok {
		return nil, &UnknownColumnFamilyError{Name: name}
	}
	return h, nil
}

func (e *Engine) readOptions(o ReadOptions) (*grocksdb.ReadOptions, error) {
	if o.Snapshot == nil {
		return e.readOpts, nil
	}
	return o.Snapshot.readOptions(e)
}

// beginRead takes the read lock and resolves what a read needs. On success
// the caller must call e.mu.RUnlock; on error the lock is already released.
func (e *Engine) beginRead(o ReadOptions) (*grocksdb.ColumnFamilyHandle, *grocksdb.ReadOptions, error) {
	if err := e.begin(); err != nil {
		return nil, nil, err
	}
	h, err := e.cf(o.CF)
	if err == nil {
		var ro *grocksdb.ReadOptions
		if ro, err = e.readOptions(o); err == nil {
			return h, ro, nil
		}
	}
	e.mu.RUnlock()
	return nil, nil, err
}

// beginWrite is beginRead for writes: it also asks the disk guard for
// room for about n bytes.
func (e *Engine) beginWrite(cf string, n int) (*grocksdb.ColumnFamilyHandle, error) {
	if err := e.begin(); err != nil {
		return nil, err
	}
	h, err := e.cf(cf)
	if err == nil {
		if err = e.guard.check(uint64(n)); err == nil {
			return h, nil
		}
	}
	e.mu.RUnlock()
	return nil, err
}

// Get returns a copy of the value stored under key, or ErrNotFound.
func (e *Engine) Get(key []byte, o ReadOptions) ([]byte, error) {
	var out []byte
	err := e.GetFunc(key, o, func(v []byte) { out = append(make([]byte, 0, len(v)), v...) })
	return out, err
}

// GetFunc looks key up and hands its value to fn without copying it. The
// slice aliases RocksDB memory and is valid only while fn runs.
func (e *Engine) GetFunc(key []byte, o ReadOptions, fn func(value []byte)) error {
	h, ro, err := e.beginRead(o)
	if err != nil {
		return err
	}
	defer e.mu.RUnlock()
	v, err := e.db.GetPinnedCF(ro, h, key)
	if err != nil {
		return classify("get", err)
	}
	defer v.Destroy()
	if !v.Exists() {
		return ErrNotFound
	}
	fn(v.Data())
	return nil
}

// MultiGet looks up every key; a missing key gives a nil entry, an empty
// value a non-nil empty slice.
func (e *Engine) MultiGet(keys [][]byte, o ReadOptions) ([][]byte, error) {
	out := make([][]byte, len(keys))
	err := e.MultiGetFunc(keys, o, func(i int, v []byte, found bool) {
		if found {
			out[i] = append(make([]byte, 0, len(v)), v...)
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (e *Engine) writeOptions(sync bool) *grocksdb.WriteOptions {
	if sync {
		return e.syncOpts
	}
	return e.writeOpts
}

// ErrSyncWithoutWAL is RocksDB's answer to a write asking for both an
// fsync of the WAL and no WAL.
var ErrSyncWithoutWAL = &RocksDBError{Op: "write", Kind: KindInvalidArgument, Msg: "Invalid argument: Sync writes has to enable WAL."}

// writeOptionsOf picks the RocksDB write options o asks for.
func (e *Engine) writeOptionsOf(o WriteOptions) (*grocksdb.WriteOptions, error) {
	switch {
	case o.Sync && o.DisableWAL:
		return nil, ErrSyncWithoutWAL
	case o.DisableWAL:
		return e.noWALOpts, nil
	}
	return e.writeOptions(o.Sync), nil
}

// Put stores value under key.
func (e *Engine) Put(key, value []byte, o WriteOptions) error {
	h, err := e.beginWrite(o.CF, len(key)+len(value)+walEntryOverhead)
	if err != nil {
		return err
	}
	defer e.mu.RUnlock()
	wo, err := e.writeOptionsOf(o)
	if err != nil {
		return err
	}
	return e.writeFailed("put", e.db.PutCF(wo, h, key, value))
}

// Delete removes key; deleting a missing key is not an error.
func (e *Engine) Delete(key []byte, o WriteOptions) error {
	h, err := e.beginWrite(o.CF, len(key)+walEntryOverhead)
	if err != nil {
		return err
	}
	defer e.mu.RUnlock()
	wo, err := e.writeOptionsOf(o)
	if err != nil {
		return err
	}
	return e.writeFailed("delete", e.db.DeleteCF(wo, h, key))
}

// Merge hands value to the merge operator the engine was opened with
// (Config.MergeOperator) for key: an operand that reads combine with what
// the key held.
func (e *Engine) Merge(key, value []byte, o WriteOptions) error {
	return e.WriteWith([]BatchOp{{Kind: OpMerge, CF: o.CF, Key: key, Value: value}}, o)
}

// DeleteRange removes every key in [start, end) of one column family.
func (e *Engine) DeleteRange(start, end []byte, o WriteOptions) error {
	return e.WriteWith([]BatchOp{{Kind: OpDeleteRange, CF: o.CF, Key: start, Value: end}}, o)
}

// Write applies ops atomically: all of them or none, across column families.
func (e *Engine) Write(ops []BatchOp, sync bool) error {
	return e.WriteWith(ops, WriteOptions{Sync: sync})
}

// WriteWith applies ops as one atomic batch with o's Sync and DisableWAL
// (o.CF is ignored: each op names its own).
func (e *Engine) WriteWith(ops []BatchOp, o WriteOptions) error {
	wo, err := e.writeOptionsOf(o)
	if err != nil {
		return err
	}
	if err := e.begin(); err != nil {
		return err
	}
	defer e.mu.RUnlock()
	return e.writeNative(ops, wo)
}

// SyncWAL fsyncs the WAL: every write applied before the call is durable
// when it returns, as if it had been written with Sync.
func (e *Engine) SyncWAL() error {
	if err := e.begin(); err != nil {
		return err
	}
	defer e.mu.RUnlock()
	return e.writeFailed("sync wal", e.db.FlushWAL(true))
}

// LatestSequenceNumber is the sequence number of the last write applied:
// each put, delete or range delete takes one, a batch one per operation.
func (e *Engine) LatestSequenceNumber() (uint64, error) {
	if err := e.begin(); err != nil {
		return 0, err
	}
	defer e.mu.RUnlock()
	return e.db.GetLatestSequenceNumber(), nil
}

// Flush writes the memtables of a column family to SST files and waits.
func (e *Engine) Flush(cf string) error {
	h, err := e.beginWrite(cf, 0)
	if err != nil {
		return err
	}
	defer e.mu.RUnlock()
	fo := grocksdb.NewDefaultFlushOptions()
	defer fo.Destroy()
	fo.SetWait(true)
	return classify("flush", e.db.FlushCF(h, fo))
}

// CompactRange compacts [start, end] of a column family; nil bounds mean
// the start or end of the keyspace. It returns when the compaction is done.
func (e *Engine) CompactRange(cf string, start, end []byte) error {
	if start != nil && end != nil && bytes.Compare(start, end) > 0 {
		return fmt.Errorf("%w: compact_range end %q comes before its start %q", ErrInvalidArgument, truncated(end), truncated(start))
	}
	if err := e.refuseReadOnly("compact range"); err != nil {
		return err
	}
	h, err := e.beginWrite(cf, 0)
	if err != nil {
		return err
	}
	defer e.mu.RUnlock()
	e.db.CompactRangeCF(h, grocksdb.Range{Start: start, Limit: end})
	return nil
}

// Property returns a RocksDB property ("rocksdb.stats", ...) of a column
// family; ok is false when RocksDB does not know the name.
func (e *Engine) Property(name, cf string) (value string, ok bool, err error) {
	if err := e.begin(); err != nil {
		return "", false, err
	}
	defer e.mu.RUnlock()
	h, err := e.cf(cf)
	if err != nil {
		return "", false, err
	}
	if v, ok := e.db.GetIntPropertyCF(name, h); ok {
		return fmt.Sprint(v), true, nil
	}
	v := e.db.GetPropertyCF(name, h)
	return v, v != "", nil
}

// Checkpoint writes an openable copy of the database into dir, which must
// not exist yet. SST files are hard-linked where dir is on the same file
// system. Writes may go on while it runs.
func (e *Engine) Checkpoint(dir string) error {
	if err := e.begin(); err != nil {
		return err
	}
	defer e.mu.RUnlock()
	if _, err := os.Lstat(dir); err == nil {
		return fmt.Errorf("%w: checkpoint target %s exists", ErrInvalidArgument, dir)
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("engine: checkpoint target: %w", err)
	}
	if err := e.guard.check(0); err != nil {
		return err // a checkpoint flushes the memtables first
	}
	cp, err := e.db.NewCheckpoint()
	if err != nil {
		return classify("checkpoint", err)
	}
	defer cp.Destroy()
	return classify("checkpoint "+dir, cp.CreateCheckpoint(dir, 0))
}
