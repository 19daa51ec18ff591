package engine

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMergesGoThroughTheConfiguredOperator(t *testing.T) {
	cfg := smallConfig()
	cfg.Tuning.MergeOperator = "counter"
	e, err := Open(filepath.Join(t.TempDir(), "data"), cfg)
	require.NoError(t, err)
	defer e.Close()
	require.NoError(t, e.CreateColumnFamily("c"))
	require.NoError(t, e.Merge([]byte("n"), []byte("40"), WriteOptions{}))
	require.NoError(t, e.Write([]BatchOp{{Kind: OpMerge, Key: []byte("n"), Value: []byte("2")},
		{Kind: OpMerge, CF: "c", Key: []byte("n"), Value: []byte("-1")}}, false))
	v, err := e.Get([]byte("n"), ReadOptions{})
	require.NoError(t, err)
	assert.Equal(t, "42", string(v))
	v, err = e.Get([]byte("n"), ReadOptions{CF: "c"})
	require.NoError(t, err)
	assert.Equal(t, "-1", string(v), "every column family has the operator")
	require.NoError(t, e.Flush(""))
	require.NoError(t, e.Merge([]byte("n"), []byte("1"), WriteOptions{}))
	v, err = e.Get([]byte("n"), ReadOptions{})
	require.NoError(t, err)
	assert.Equal(t, "43", string(v), "over a flushed value too")
}

func TestAMergeWithoutAnOperatorIsRefused(t *testing.T) {
	e, err := Open(filepath.Join(t.TempDir(), "data"), smallConfig())
	require.NoError(t, err)
	defer e.Close()
	assert.ErrorIs(t, e.Merge([]byte("k"), []byte("1"), WriteOptions{}), ErrInvalidArgument)
	require.NoError(t, e.Put([]byte("k"), []byte("v"), WriteOptions{}), "and nothing stops")
}

func TestMergeOperatorSettings(t *testing.T) {
	none := func(string) (string, bool) { return "", false }
	cfg, err := LoadConfig(none, map[string]string{"SPIRE_ROCKSDB_MERGE_OPERATOR": "bitset", "SPIRE_ROCKSDB_MERGE_BITSET_BITS": "64"})
	require.NoError(t, err)
	assert.Equal(t, "bitset", cfg.Tuning.MergeOperator)
	assert.EqualValues(t, 64, cfg.Tuning.MergeBitsetBits)
	_, err = LoadConfig(none, map[string]string{"SPIRE_ROCKSDB_MERGE_OPERATOR": "sum"})
	assert.Error(t, err)
}

func TestCompactionStyleTTLAndCompressionOptionsReachRocksDB(t *testing.T) {
	none := func(string) (string, bool) { return "", false }
	cfg, err := LoadConfig(none, map[string]string{
		"SPIRE_ROCKSDB_COMPACTION_STYLE": "fifo", "SPIRE_ROCKSDB_FIFO_MAX_TABLE_FILES_SIZE": "50",
		"SPIRE_ROCKSDB_FIFO_ALLOW_COMPACTION": "true", "SPIRE_ROCKSDB_TTL": "8",
		"SPIRE_ROCKSDB_COMPRESSION_WINDOW_BITS": "8192", "SPIRE_ROCKSDB_COMPRESSION_MAX_DICT_BYTES": "32768",
		"SPIRE_ROCKSDB_BOTTOMMOST_COMPRESSION": "disabled",
		"SPIRE_ROCKSDB_BLOCK_CACHE_SIZE":       "16777216", "SPIRE_ROCKSDB_WRITE_BUFFER_SIZE": "4194304",
	})
	require.NoError(t, err)
	dir := filepath.Join(t.TempDir(), "data")
	e, err := Open(dir, cfg)
	require.NoError(t, err)
	require.NoError(t, e.Close())
	text := optionsFile(t, dir)
	assert.Equal(t, "kCompactionStyleFIFO", optionValue(t, text, "compaction_style"))
	assert.Equal(t, "8", optionValue(t, text, "ttl"))
	assert.Contains(t, text, "max_table_files_size=50")
	assert.Contains(t, text, "allow_compaction=true")
	assert.Contains(t, optionValue(t, text, "compression_opts"), "window_bits=8192")
	assert.Contains(t, optionValue(t, text, "compression_opts"), "max_dict_bytes=32768")
	assert.Equal(t, "kDisableCompressionOption", optionValue(t, text, "bottommost_compression"))
}

func TestATTLDatabaseDropsOldValuesAtCompaction(t *testing.T) {
	cfg := smallConfig()
	cfg.ValueTTL = 1
	dir := filepath.Join(t.TempDir(), "data")
	e, err := Open(dir, cfg)
	require.NoError(t, err)
	defer e.Close()
	require.NoError(t, e.CreateColumnFamily("c"))
	require.NoError(t, e.Put([]byte("a"), []byte("a1"), WriteOptions{}))
	v, err := e.Get([]byte("a"), ReadOptions{})
	require.NoError(t, err)
	assert.Equal(t, "a1", string(v), "the stamp is not seen")
	time.Sleep(2100 * time.Millisecond) // RocksDB's TTL has a one-second grain
	require.NoError(t, e.CompactRange("", nil, nil))
	_, err = e.Get([]byte("a"), ReadOptions{})
	assert.ErrorIs(t, err, ErrNotFound, "gone at the compaction after its TTL")
}

func TestAnInMemoryDatabaseTouchesNoDisk(t *testing.T) {
	cfg := smallConfig()
	cfg.InMemory = true
	dir := filepath.Join(t.TempDir(), "nowhere")
	e, err := Open(dir, cfg)
	require.NoError(t, err)
	require.NoError(t, e.Put([]byte("a"), []byte("1"), WriteOptions{}))
	require.NoError(t, e.Flush(""))
	v, err := e.Get([]byte("a"), ReadOptions{})
	require.NoError(t, err)
	assert.Equal(t, "1", string(v))
	assert.NoDirExists(t, dir)
	require.NoError(t, e.Close())
}
