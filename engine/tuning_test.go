package engine

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The erlang-rocksdb options the :rocksdb app maps onto variables reach
// RocksDB's own OPTIONS file.
func TestTuningReachesRocksDB(t *testing.T) {
	cfg, err := LoadConfig(nil, map[string]string{
		"SPIRE_ROCKSDB_TARGET_FILE_SIZE_BASE":                "33554432",
		"SPIRE_ROCKSDB_MIN_WRITE_BUFFER_NUMBER_TO_MERGE":     "2",
		"SPIRE_ROCKSDB_MAX_OPEN_FILES":                       "500",
		"SPIRE_ROCKSDB_LEVEL_COMPACTION_DYNAMIC_LEVEL_BYTES": "true",
		"SPIRE_ROCKSDB_MAX_TOTAL_WAL_SIZE":                   "268435456",
		"SPIRE_ROCKSDB_WAL_RECOVERY_MODE":                    "absolute_consistency",
		"SPIRE_ROCKSDB_RECYCLE_LOG_FILE_NUM":                 "2",
		"SPIRE_ROCKSDB_WAL_BYTES_PER_SYNC":                   "1048576",
		"SPIRE_ROCKSDB_OPTIMIZE_FILTERS_FOR_HITS":            "true",
		"SPIRE_ROCKSDB_ALLOW_CONCURRENT_MEMTABLE_WRITE":      "false",
		"SPIRE_ROCKSDB_ENABLE_WRITE_THREAD_ADAPTIVE_YIELD":   "false",
		"SPIRE_ROCKSDB_BLOCK_SIZE":                           "16384",
		"SPIRE_ROCKSDB_FORMAT_VERSION":                       "4",
		"SPIRE_ROCKSDB_BOTTOMMOST_COMPRESSION":               "lz4",
		"SPIRE_ROCKSDB_MAX_BYTES_FOR_LEVEL_BASE":             "134217728",
		"SPIRE_ROCKSDB_DB_WRITE_BUFFER_SIZE":                 "100663296",
		"SPIRE_ROCKSDB_BLOCK_CACHE_SIZE":                     "8388608",
	})
	require.NoError(t, err)
	dir := filepath.Join(t.TempDir(), "data")
	e, err := Open(dir, cfg)
	require.NoError(t, err)
	defer e.Close()
	text := optionsFile(t, dir)
	for _, want := range []string{
		"target_file_size_base=33554432", "min_write_buffer_number_to_merge=2", "max_open_files=500",
		"level_compaction_dynamic_level_bytes=true", "max_total_wal_size=268435456",
		"wal_recovery_mode=kAbsoluteConsistency", "wal_bytes_per_sync=1048576",
		"optimize_filters_for_hits=true", "allow_concurrent_memtable_write=false",
		"enable_write_thread_adaptive_yield=false", "block_size=16384", "format_version=4",
		"bottommost_compression=kLZ4Compression", "max_bytes_for_level_base=134217728",
		"db_write_buffer_size=100663296",
	} {
		assert.Contains(t, text, want)
	}

	// RocksDB 7.8 recycles WAL files only with skip_any_corrupted_records:
	// in the other modes it sanitizes recycle_log_file_num to 0.
	cfg, err = LoadConfig(nil, map[string]string{"SPIRE_ROCKSDB_RECYCLE_LOG_FILE_NUM": "2",
		"SPIRE_ROCKSDB_WAL_RECOVERY_MODE": "skip_any_corrupted_records", "SPIRE_ROCKSDB_BLOCK_CACHE_SIZE": "8388608"})
	require.NoError(t, err)
	dir = filepath.Join(t.TempDir(), "data")
	e2, err := Open(dir, cfg)
	require.NoError(t, err)
	defer e2.Close()
	assert.Contains(t, optionsFile(t, dir), "recycle_log_file_num=2")

	_, err = LoadConfig(nil, map[string]string{"SPIRE_ROCKSDB_WAL_RECOVERY_MODE": "yolo", "SPIRE_ROCKSDB_MAX_OPEN_FILES": "-2"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "SPIRE_ROCKSDB_WAL_RECOVERY_MODE")
	assert.Contains(t, err.Error(), "SPIRE_ROCKSDB_MAX_OPEN_FILES", "every problem at once")
}

// With a row cache, a point read of a row in an SST file is answered from
// it the second time, and a row written, overwritten or deleted since is
// never answered from it: the memtable comes first, and a snapshot reads
// the version it captured.
func TestRowCacheAnswersRepeatedReadsAndNeverAStaleOne(t *testing.T) {
	e := newTestEngine(t, func(c *Config) { c.Tuning.RowCacheSize = 8 << 20 })
	key := []byte("user:1")
	get := func(o ReadOptions) string {
		t.Helper()
		v, err := e.Get(key, o)
		if err == ErrNotFound {
			return "<not found>"
		}
		require.NoError(t, err)
		return string(v)
	}
	hits := func() uint64 {
		t.Helper()
		st, err := e.Stats()
		require.NoError(t, err)
		return st.Tickers["rocksdb.row.cache.hit"]
	}

	require.NoError(t, e.Put(key, []byte("v1"), WriteOptions{}))
	require.NoError(t, e.Flush(""))
	assert.Equal(t, "v1", get(ReadOptions{}))
	before := hits()
	assert.Equal(t, "v1", get(ReadOptions{}))
	assert.Greater(t, hits(), before, "the second read of a flushed row comes from the row cache")

	snap, err := e.NewSnapshot()
	require.NoError(t, err)
	defer snap.Close()
	require.NoError(t, e.Put(key, []byte("v2"), WriteOptions{}))
	assert.Equal(t, "v2", get(ReadOptions{}), "a newer row in the memtable")
	require.NoError(t, e.Flush(""))
	assert.Equal(t, "v2", get(ReadOptions{}), "a newer row in a newer file")
	assert.Equal(t, "v1", get(ReadOptions{Snapshot: snap}), "the snapshot's version")

	require.NoError(t, e.Delete(key, WriteOptions{}))
	require.NoError(t, e.Flush(""))
	require.NoError(t, e.CompactRange("", nil, nil))
	assert.Equal(t, "<not found>", get(ReadOptions{}))
	assert.Equal(t, "v1", get(ReadOptions{Snapshot: snap}))
}

// Without the setting there is no row cache (RocksDB's default).
func TestRowCacheIsOffByDefault(t *testing.T) {
	cfg, err := LoadConfig(nil, nil)
	require.NoError(t, err)
	assert.Zero(t, cfg.Tuning.RowCacheSize)
	cfg, err = LoadConfig(nil, map[string]string{"SPIRE_ROCKSDB_ROW_CACHE_SIZE": "67108864"})
	require.NoError(t, err)
	assert.Equal(t, uint64(64<<20), cfg.Tuning.RowCacheSize)
	_, err = LoadConfig(nil, map[string]string{"SPIRE_ROCKSDB_ROW_CACHE_SIZE": "-1"})
	assert.Error(t, err)
}

// With the default, what the memtables hold is reserved in the block cache;
// without, the cache holds no more than the blocks read.
func TestMemtablesChargedToBlockCache(t *testing.T) {
	for _, charge := range []bool{true, false} {
		e := newTestEngine(t, func(c *Config) {
			c.Tuning.MemtablesInBlockCache = charge
			c.WriteBufferSize, c.BlockCacheSize = 64<<20, 64<<20
		})
		value := bytes.Repeat([]byte("v"), 1024)
		var ops []BatchOp
		for i := 0; i < 4096; i++ {
			ops = append(ops, BatchOp{Kind: OpPut, Key: []byte(fmt.Sprintf("k%06d", i)), Value: value})
		}
		require.NoError(t, e.Write(ops, false))
		info, err := e.CacheInfo()
		require.NoError(t, err)
		mem, _, err := e.Property("rocksdb.size-all-mem-tables", "")
		require.NoError(t, err)
		memBytes, err := strconv.ParseUint(mem, 10, 64)
		require.NoError(t, err)
		require.Greater(t, memBytes, uint64(4<<20))
		if charge {
			assert.GreaterOrEqual(t, info.Usage, memBytes, "the memtables are charged to the cache")
		} else {
			assert.Less(t, info.Usage, memBytes/2, "nothing read, nothing cached")
		}
	}
}
