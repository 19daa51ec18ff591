package engine

import (
	"fmt"
	"strconv"
	"strings"
)

// Tuning holds the RocksDB options beyond the seed's knobs: the ones
// erlang-rocksdb's open/2 takes and SpireDB sets, so that the :rocksdb
// app can apply them instead of dropping them. Each has a variable (and a
// flag) in Settings; the defaults are RocksDB 7.8's, except where noted.
type Tuning struct {
	MinWriteBufferNumberToMerge    int
	MaxOpenFiles                   int // -1: no limit
	LevelCompactionDynamicLevels   bool
	TargetFileSizeBase             uint64
	MaxTotalWALSize                uint64 // 0: RocksDB sizes it from the write buffers
	WALRecoveryMode                string
	RecycleLogFileNum              int
	WALBytesPerSync                uint64
	OptimizeFiltersForHits         bool
	AllowConcurrentMemtableWrite   bool
	EnableWriteThreadAdaptiveYield bool
	BlockSize                      uint64
	// CacheIndexAndFilterBlocks is true here (RocksDB's default is false)
	// so that the block cache capacity bounds memory, as the seed's
	// diagram promises.
	CacheIndexAndFilterBlocks bool
	// MemtablesInBlockCache charges the memtables to the block cache
	// (true here; RocksDB's default is false), so that the cache's
	// capacity bounds both.
	MemtablesInBlockCache bool
	FormatVersion         int
	// RowCacheSize is the capacity of RocksDB's row cache (0: none, as
	// RocksDB's default): key-value pairs read from SST files, so a point
	// read that hits skips the filter, index and data blocks. It is memory
	// besides the block cache; iterators and scans do not use it.
	RowCacheSize uint64
	// MergeOperator is erlang-rocksdb's merge operator for every column
	// family: none, erlang, counter or bitset (package merge); bitset's
	// bitmaps have MergeBitsetBits bits.
	MergeOperator   string
	MergeBitsetBits uint64
	// OptionsString holds RocksDB options no setting names, in its own
	// option-string syntax (tuning_string.go).
	OptionsString string
}

func defaultTuning() Tuning {
	return Tuning{
		MinWriteBufferNumberToMerge:    1,
		MaxOpenFiles:                   -1,
		TargetFileSizeBase:             64 * mib,
		WALRecoveryMode:                "point_in_time_recovery",
		AllowConcurrentMemtableWrite:   true,
		EnableWriteThreadAdaptiveYield: true,
		BlockSize:                      4 * kib,
		CacheIndexAndFilterBlocks:      true,
		MemtablesInBlockCache:          true,
		FormatVersion:                  5,
		MergeOperator:                  "none",
		MergeBitsetBits:                1024,
	}
}

// walRecoveryModes are RocksDB's WALRecoveryMode values by their
// erlang-rocksdb names.
var walRecoveryModes = map[string]int{
	"tolerate_corrupted_tail_records": 0,
	"absolute_consistency":            1,
	"point_in_time_recovery":          2,
	"skip_any_corrupted_records":      3,
}

func uintSetting(env, def, rng, help string, lo, hi uint64, set func(*Config, uint64)) Setting {
	return Setting{Env: env, Flag: flagName(env), Default: def, Range: rng, Help: help,
		Kind: "int", Min: int64(lo), Max: int64(hi),
		apply: func(c *Config, v string) error {
			n, err := parseUint(v, lo, hi)
			if err == nil {
				set(c, n)
			}
			return err
		}}
}

func boolSetting(env, def, help string, set func(*Config, bool)) Setting {
	return Setting{Env: env, Flag: flagName(env), Default: def, Range: "true | false", Help: help, Kind: "bool",
		apply: func(c *Config, v string) error {
			b, err := strconv.ParseBool(strings.TrimSpace(v))
			if err != nil {
				return fmt.Errorf("want true or false")
			}
			set(c, b)
			return nil
		}}
}

func enumSetting(env, def, help string, choices []string, apply func(*Config, string) error) Setting {
	return Setting{Env: env, Flag: flagName(env), Default: def, Range: strings.Join(choices, " | "), Help: help,
		Kind: "enum", Choices: choices, apply: apply}
}

// oneOfSetting is an enum setting whose value is one of choices as it is
// (spaces trimmed), handed to set once checked.
func oneOfSetting(env, def, help string, choices []string, set func(*Config, string)) Setting {
	return enumSetting(env, def, help, choices, func(c *Config, v string) error {
		v = strings.TrimSpace(v)
		for _, choice := range choices {
			if v == choice {
				set(c, v)
				return nil
			}
		}
		return fmt.Errorf("want %s or %s", strings.Join(choices[:len(choices)-1], ", "), choices[len(choices)-1])
	})
}

// mergeOperators are the merge operators a database may be opened with.
var mergeOperators = []string{"none", "erlang", "counter", "bitset"}

// flagName turns SPIRE_ROCKSDB_TARGET_FILE_SIZE_BASE into
// target-file-size-base.
func flagName(env string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(env, "SPIRE_ROCKSDB_")), "_", "-")
}

// tuningSettings are appended to Settings.
var tuningSettings = []Setting{
	enumSetting("SPIRE_ROCKSDB_BOTTOMMOST_COMPRESSION", "zstd (none when compression is none)", "compression of the last level (disabled: as the others)",
		[]string{"none", "snappy", "lz4", "zstd", "disabled"}, func(c *Config, v string) error {
			if strings.TrimSpace(v) == string(CompressionDisabled) {
				c.BottommostCompression = CompressionDisabled
				return nil
			}
			comp, err := parseCompression(v)
			if err == nil {
				c.BottommostCompression = comp
			}
			return err
		}),
	uintSetting("SPIRE_ROCKSDB_MAX_BYTES_FOR_LEVEL_BASE", "268435456 (256 MiB)", "1048576 .. 1099511627776",
		"size of level 1; each next level is 10x", mib, tib, func(c *Config, n uint64) { c.MaxBytesForLevelBase = n }),
	uintSetting("SPIRE_ROCKSDB_TARGET_FILE_SIZE_BASE", "67108864 (64 MiB)", "65536 .. 68719476736",
		"size of one SST file at level 1", 64*kib, 64*gib, func(c *Config, n uint64) { c.Tuning.TargetFileSizeBase = n }),
	uintSetting("SPIRE_ROCKSDB_MIN_WRITE_BUFFER_NUMBER_TO_MERGE", "1", "1 .. 64",
		"memtables merged into one flush", 1, 64, func(c *Config, n uint64) { c.Tuning.MinWriteBufferNumberToMerge = int(n) }),
	intSetting("SPIRE_ROCKSDB_MAX_OPEN_FILES", "-1 (no limit)", "SST files kept open",
		-1, 1<<20, func(c *Config, n int) { c.Tuning.MaxOpenFiles = n }),
	boolSetting("SPIRE_ROCKSDB_LEVEL_COMPACTION_DYNAMIC_LEVEL_BYTES", "false",
		"size levels from the last one up", func(c *Config, b bool) { c.Tuning.LevelCompactionDynamicLevels = b }),
	uintSetting("SPIRE_ROCKSDB_MAX_TOTAL_WAL_SIZE", "0 (auto)", "0 .. 1099511627776",
		"WAL size that forces the oldest memtables to flush", 0, tib, func(c *Config, n uint64) { c.Tuning.MaxTotalWALSize = n }),
	oneOfSetting("SPIRE_ROCKSDB_WAL_RECOVERY_MODE", "point_in_time_recovery", "what opening does with a damaged WAL",
		[]string{"tolerate_corrupted_tail_records", "absolute_consistency", "point_in_time_recovery", "skip_any_corrupted_records"},
		func(c *Config, v string) { c.Tuning.WALRecoveryMode = v }),
	uintSetting("SPIRE_ROCKSDB_RECYCLE_LOG_FILE_NUM", "0", "0 .. 64",
		"WAL files kept for reuse", 0, 64, func(c *Config, n uint64) { c.Tuning.RecycleLogFileNum = int(n) }),
	uintSetting("SPIRE_ROCKSDB_WAL_BYTES_PER_SYNC", "0 (off)", "0 .. 1073741824",
		"sync the WAL in the background every this many bytes", 0, gib, func(c *Config, n uint64) { c.Tuning.WALBytesPerSync = n }),
	boolSetting("SPIRE_ROCKSDB_OPTIMIZE_FILTERS_FOR_HITS", "false",
		"no bloom filter on the last level (for reads that mostly hit)", func(c *Config, b bool) { c.Tuning.OptimizeFiltersForHits = b }),
	boolSetting("SPIRE_ROCKSDB_ALLOW_CONCURRENT_MEMTABLE_WRITE", "true",
		"writers insert into the memtable in parallel", func(c *Config, b bool) { c.Tuning.AllowConcurrentMemtableWrite = b }),
	boolSetting("SPIRE_ROCKSDB_ENABLE_WRITE_THREAD_ADAPTIVE_YIELD", "true",
		"writers spin briefly before they block", func(c *Config, b bool) { c.Tuning.EnableWriteThreadAdaptiveYield = b }),
	uintSetting("SPIRE_ROCKSDB_BLOCK_SIZE", "4096", "1024 .. 4194304",
		"size of a data block in SST files", kib, 4*mib, func(c *Config, n uint64) { c.Tuning.BlockSize = n }),
	boolSetting("SPIRE_ROCKSDB_CACHE_INDEX_AND_FILTER_BLOCKS", "true",
		"index and filter blocks live in (and are bounded by) the block cache", func(c *Config, b bool) { c.Tuning.CacheIndexAndFilterBlocks = b }),
	boolSetting("SPIRE_ROCKSDB_MEMTABLES_IN_BLOCK_CACHE", "true",
		"memtables are charged to the block cache, whose capacity then bounds both", func(c *Config, b bool) { c.Tuning.MemtablesInBlockCache = b }),
	uintSetting("SPIRE_ROCKSDB_FORMAT_VERSION", "5", "2 .. 5",
		"SST format version", 2, 5, func(c *Config, n uint64) { c.Tuning.FormatVersion = int(n) }),
	oneOfSetting("SPIRE_ROCKSDB_MERGE_OPERATOR", "none", "what merge writes combine with (erlang-rocksdb's merge operators)",
		mergeOperators, func(c *Config, v string) { c.Tuning.MergeOperator = v }),
	uintSetting("SPIRE_ROCKSDB_MERGE_BITSET_BITS", "1024", "8 .. 2147483648 (a multiple of 8)",
		"bits in a value of the bitset merge operator", 8, 1<<31, func(c *Config, n uint64) { c.Tuning.MergeBitsetBits = n }),
	uintSetting("SPIRE_ROCKSDB_ROW_CACHE_SIZE", "0 (off)", "0 .. 1099511627776 bytes (0 disables it)",
		"LRU cache of rows for point reads, besides the block cache", 0, tib,
		func(c *Config, n uint64) { c.Tuning.RowCacheSize = n }),
}

func init() { Settings = append(Settings, tuningSettings...) }
