package engine

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOptionsReachRocksDB(t *testing.T) {
	e := newTestEngine(t, func(c *Config) {
		c.BloomBitsPerKey = 12
		c.Compression = CompressionSnappy
		c.MaxWriteBufferNumber = 5
		c.MaxBackgroundJobs = 3
		c.WriteBufferSize = 2 << 20
		c.MemtableBloomPercent = 2
	})
	text := optionsFile(t, e.Path())
	assert.Equal(t, "0.020000", optionValue(t, text, "memtable_prefix_bloom_size_ratio"))
	assert.Equal(t, "true", optionValue(t, text, "memtable_whole_key_filtering"))
	assert.Equal(t, "2097152", optionValue(t, text, "write_buffer_size"))
	assert.Equal(t, "5", optionValue(t, text, "max_write_buffer_number"))
	assert.Equal(t, "3", optionValue(t, text, "max_background_jobs"))
	assert.Equal(t, "kSnappyCompression", optionValue(t, text, "compression"))
	assert.Equal(t, "kZSTD", optionValue(t, text, "bottommost_compression"))
	assert.Equal(t, "4", optionValue(t, text, "level0_file_num_compaction_trigger"))
	assert.Equal(t, "268435456", optionValue(t, text, "max_bytes_for_level_base"))
	assert.Equal(t, "10.000000", optionValue(t, text, "max_bytes_for_level_multiplier"))
	assert.Equal(t, "kCompactionStyleLevel", optionValue(t, text, "compaction_style"))
	assert.Equal(t, "bloomfilter", optionValue(t, text, "filter_policy"))
	assert.Equal(t, "true", optionValue(t, text, "cache_index_and_filter_blocks"))

	info, err := e.CacheInfo()
	require.NoError(t, err)
	assert.Equal(t, uint64(8<<20), info.Capacity)
	assert.NotNil(t, e.limiter, "a non-zero rate limit installs a limiter")
}

// filterBlockSize flushes 10k keys and reads the SST's filter block size:
// RocksDB 7.8 does not write bits-per-key into its OPTIONS file.
func filterBlockSize(t *testing.T, bits int) int {
	e := newTestEngine(t, func(c *Config) { c.BloomBitsPerKey = bits })
	for i := 0; i < 10000; i++ {
		mustPut(t, e, fmt.Sprintf("key-%06d", i), "v")
	}
	require.NoError(t, e.Flush(""))
	props, _, err := e.Property("rocksdb.aggregated-table-properties", "")
	require.NoError(t, err)
	m := regexp.MustCompile(`filter block size=(\d+)`).FindStringSubmatch(props)
	require.NotNil(t, m, props)
	n, err := strconv.Atoi(m[1])
	require.NoError(t, err)
	return n
}

func TestBloomBitsPerKeySizesTheFilter(t *testing.T) {
	ten, twenty := filterBlockSize(t, 10), filterBlockSize(t, 20)
	assert.InDelta(t, 10000*10/8, ten, 10000*10/8*0.2, "about 10 bits per key")
	assert.InDelta(t, 2.0, float64(twenty)/float64(ten), 0.3, "twice the bits, twice the filter")
	assert.Equal(t, 0, filterBlockSize(t, 0), "0 disables the filter")
}

func TestDefaultCompressionAndDisabledKnobs(t *testing.T) {
	e := newTestEngine(t, func(c *Config) { c.BloomBitsPerKey = 0; c.RateLimitBytesPerSec = 0 })
	text := optionsFile(t, e.Path())
	assert.Equal(t, "kLZ4Compression", optionValue(t, text, "compression"))
	assert.Equal(t, "nullptr", optionValue(t, text, "filter_policy"))
	assert.Equal(t, "0.000000", optionValue(t, text, "memtable_prefix_bloom_size_ratio"), "no memtable filter by default")
	assert.Nil(t, e.limiter)
}

func TestReopenKeepsDataAndSecondOpenFails(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	e, err := Open(dir, smallConfig())
	require.NoError(t, err)
	mustPut(t, e, "k", "v")

	_, err = Open(dir, smallConfig())
	require.Error(t, err, "the LOCK is held")
	assert.Equal(t, KindIO, KindOf(err))
	assert.Contains(t, err.Error(), "LOCK")

	require.NoError(t, e.Close())
	require.NoError(t, e.Close(), "Close is idempotent")
	_, err = e.Get([]byte("k"), ReadOptions{})
	assert.ErrorIs(t, err, ErrClosed)
	assert.ErrorIs(t, e.Put([]byte("k"), nil, WriteOptions{}), ErrClosed)
	_, err = e.NewScanner(nil, nil, ScanOptions{})
	assert.ErrorIs(t, err, ErrClosed)
	_, err = e.Stats()
	assert.ErrorIs(t, err, ErrClosed)

	e2, err := Open(dir, smallConfig())
	require.NoError(t, err, "Close released the LOCK")
	defer e2.Close()
	v, err := e2.Get([]byte("k"), ReadOptions{})
	require.NoError(t, err)
	assert.Equal(t, "v", string(v))
}

func TestPointOperations(t *testing.T) {
	e := newTestEngine(t, nil)
	_, err := e.Get([]byte("missing"), ReadOptions{})
	assert.ErrorIs(t, err, ErrNotFound)

	mustPut(t, e, "a", "1")
	require.NoError(t, e.Put([]byte("empty"), []byte{}, WriteOptions{Sync: true}))
	v, err := e.Get([]byte("a"), ReadOptions{})
	require.NoError(t, err)
	assert.Equal(t, []byte("1"), v)
	v, err = e.Get([]byte("empty"), ReadOptions{})
	require.NoError(t, err, "an empty value is found, not missing")
	assert.Equal(t, []byte{}, v)

	mustPut(t, e, "a", "2")
	v, _ = e.Get([]byte("a"), ReadOptions{})
	assert.Equal(t, []byte("2"), v, "put overwrites")

	require.NoError(t, e.Delete([]byte("a"), WriteOptions{}))
	require.NoError(t, e.Delete([]byte("never-there"), WriteOptions{}))
	_, err = e.Get([]byte("a"), ReadOptions{})
	assert.ErrorIs(t, err, ErrNotFound)

	mustPut(t, e, "b", "2")
	vals, err := e.MultiGet([][]byte{[]byte("b"), []byte("a"), []byte("empty")}, ReadOptions{})
	require.NoError(t, err)
	assert.Equal(t, [][]byte{[]byte("2"), nil, {}}, vals)
}

func TestSyncWritesFsyncTheWAL(t *testing.T) {
	e := newTestEngine(t, nil)
	before, _ := e.Stats()
	require.NoError(t, e.Put([]byte("k"), []byte("v"), WriteOptions{Sync: true}))
	after, err := e.Stats()
	require.NoError(t, err)
	assert.Greater(t, after.Tickers["rocksdb.wal.synced"], before.Tickers["rocksdb.wal.synced"])
	mustPut(t, e, "k2", "v")
	again, _ := e.Stats()
	assert.Equal(t, after.Tickers["rocksdb.wal.synced"], again.Tickers["rocksdb.wal.synced"], "a plain put does not fsync")
}

func TestWriteBatchIsAtomic(t *testing.T) {
	e := newTestEngine(t, nil)
	mustPut(t, e, "gone", "x")
	require.NoError(t, e.Write([]BatchOp{
		{Kind: OpPut, Key: []byte("b1"), Value: []byte("1")},
		{Kind: OpPut, Key: []byte("b2"), Value: []byte("2")},
		{Kind: OpDelete, Key: []byte("gone")},
	}, false))
	v, _ := e.Get([]byte("b2"), ReadOptions{})
	assert.Equal(t, "2", string(v))
	_, err := e.Get([]byte("gone"), ReadOptions{})
	assert.ErrorIs(t, err, ErrNotFound)

	err = e.Write([]BatchOp{
		{Kind: OpPut, Key: []byte("c1"), Value: []byte("1")},
		{Kind: OpPut, CF: "nope", Key: []byte("c2"), Value: []byte("2")},
	}, false)
	assert.ErrorIs(t, err, ErrUnknownColumnFamily)
	_, err = e.Get([]byte("c1"), ReadOptions{})
	assert.ErrorIs(t, err, ErrNotFound, "a failed batch applies nothing")

	require.NoError(t, e.DeleteRange([]byte("b1"), []byte("b2"), WriteOptions{}))
	_, err = e.Get([]byte("b1"), ReadOptions{})
	assert.ErrorIs(t, err, ErrNotFound)
	_, err = e.Get([]byte("b2"), ReadOptions{})
	assert.NoError(t, err, "delete_range excludes its end")
}

func TestColumnFamilies(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	cfg := smallConfig()
	cfg.ColumnFamilies = []string{"rows", "index"}
	e, err := Open(dir, cfg)
	require.NoError(t, err)
	names, _ := e.ColumnFamilies()
	assert.Equal(t, []string{"default", "index", "rows"}, names)

	require.NoError(t, e.Put([]byte("k"), []byte("row"), WriteOptions{CF: "rows"}))
	_, err = e.Get([]byte("k"), ReadOptions{})
	assert.ErrorIs(t, err, ErrNotFound, "families are separate keyspaces")
	_, err = e.Get([]byte("k"), ReadOptions{CF: "nope"})
	assert.ErrorIs(t, err, ErrUnknownColumnFamily)

	require.NoError(t, e.Write([]BatchOp{
		{Kind: OpPut, CF: "rows", Key: []byte("r1"), Value: []byte("v")},
		{Kind: OpPut, CF: "index", Key: []byte("i1"), Value: []byte("r1")},
	}, false))
	require.NoError(t, e.CreateColumnFamily("vectors"))
	assert.ErrorIs(t, e.CreateColumnFamily("vectors"), ErrColumnFamilyExists)
	require.NoError(t, e.DropColumnFamily("index"))
	assert.ErrorIs(t, e.DropColumnFamily("index"), ErrUnknownColumnFamily)
	assert.ErrorIs(t, e.DropColumnFamily("default"), ErrInvalidArgument)
	require.NoError(t, e.Close())

	e, err = Open(dir, smallConfig())
	require.NoError(t, err, "families on disk are opened without being named")
	defer e.Close()
	names, _ = e.ColumnFamilies()
	assert.Equal(t, []string{"default", "rows", "vectors"}, names)
	v, err := e.Get([]byte("r1"), ReadOptions{CF: "rows"})
	require.NoError(t, err)
	assert.Equal(t, "v", string(v))
}

func TestSnapshotDoesNotSeeLaterWrites(t *testing.T) {
	e := newTestEngine(t, nil)
	mustPut(t, e, "a", "old")
	snap, err := e.NewSnapshot()
	require.NoError(t, err)
	mustPut(t, e, "a", "new")
	mustPut(t, e, "b", "new")

	v, err := e.Get([]byte("a"), ReadOptions{Snapshot: snap})
	require.NoError(t, err)
	assert.Equal(t, "old", string(v))
	_, err = e.Get([]byte("b"), ReadOptions{Snapshot: snap})
	assert.ErrorIs(t, err, ErrNotFound)
	batches, _, err := e.Scan(nil, nil, ScanOptions{Snapshot: snap})
	require.NoError(t, err)
	require.Len(t, batches, 1)
	assert.Len(t, batches[0], 1)

	snap.Close()
	snap.Close()
	_, err = e.Get([]byte("a"), ReadOptions{Snapshot: snap})
	assert.ErrorIs(t, err, ErrInvalidArgument, "a closed snapshot is refused")
}

func TestCheckpointOpensAsACopy(t *testing.T) {
	e := newTestEngine(t, nil)
	for i := 0; i < 100; i++ {
		mustPut(t, e, fmt.Sprintf("k%03d", i), "v")
	}
	require.NoError(t, e.Flush(""))
	mustPut(t, e, "in-wal", "yes")
	target := filepath.Join(t.TempDir(), "cp")
	require.NoError(t, e.Checkpoint(target))
	assert.ErrorIs(t, e.Checkpoint(target), ErrInvalidArgument, "an existing target is refused")

	cp, err := Open(target, smallConfig())
	require.NoError(t, err)
	defer cp.Close()
	v, err := cp.Get([]byte("in-wal"), ReadOptions{})
	require.NoError(t, err)
	assert.Equal(t, "yes", string(v))
	batches, _, err := cp.Scan(nil, nil, ScanOptions{})
	require.NoError(t, err)
	assert.Len(t, batches[0], 101)
}

func TestPropertyAndCompact(t *testing.T) {
	e := newTestEngine(t, nil)
	for i := 0; i < 5; i++ {
		mustPut(t, e, fmt.Sprint(i), "v")
		require.NoError(t, e.Flush(""))
	}
	v, ok, err := e.Property("rocksdb.num-files-at-level0", "")
	require.NoError(t, err)
	require.True(t, ok)
	assert.NotEqual(t, "0", v)
	require.NoError(t, e.CompactRange("", nil, nil))
	v, _, _ = e.Property("rocksdb.num-files-at-level0", "")
	assert.Equal(t, "0", v, "a full compaction empties L0")
	_, ok, err = e.Property("rocksdb.no-such-thing", "")
	require.NoError(t, err)
	assert.False(t, ok)
	s, ok, _ := e.Property("rocksdb.stats", "")
	assert.True(t, ok)
	assert.Contains(t, s, "Compaction Stats")
}

func TestCheckpointUnderWriteLoadIsConsistent(t *testing.T) {
	e := newTestEngine(t, func(c *Config) { c.ColumnFamilies = []string{"rows", "index"} })
	var wg sync.WaitGroup
	var stop atomic.Bool
	var written atomic.Int64
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				k := []byte(fmt.Sprintf("w%d:%08d", w, i))
				assert.NoError(t, e.Write([]BatchOp{
					{Kind: OpPut, CF: "rows", Key: k, Value: []byte("r")},
					{Kind: OpPut, CF: "index", Key: k, Value: []byte("i")},
				}, false))
				written.Add(1)
			}
		}(w)
	}
	for written.Load() < 2000 {
		time.Sleep(time.Millisecond)
	}
	target := filepath.Join(t.TempDir(), "cp")
	require.NoError(t, e.Checkpoint(target))
	for before := written.Load(); written.Load() < before+1000; {
		time.Sleep(time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()

	cp, err := Open(target, smallConfig())
	require.NoError(t, err)
	defer cp.Close()
	count := func(cf string) int {
		batches, _, err := cp.Scan(nil, nil, ScanOptions{CF: cf})
		require.NoError(t, err)
		return len(flatten(batches))
	}
	rows := count("rows")
	assert.Equal(t, rows, count("index"), "no batch is half in the checkpoint")
	assert.GreaterOrEqual(t, rows, 2000)
	assert.Less(t, int64(rows), written.Load(), "later writes are not in it")
}

func TestWritesAreRefusedBelowTheDiskReserve(t *testing.T) {
	e := newTestEngine(t, nil)
	mustPut(t, e, "k", "v")
	e.guard.reserve = 1 << 62 // more than any disk has
	time.Sleep(diskCheckEvery + 10*time.Millisecond)
	err := e.Put([]byte("k2"), []byte("v"), WriteOptions{})
	require.Error(t, err)
	assert.Equal(t, KindIO, KindOf(err))
	assert.Contains(t, err.Error(), "No space left on device")
	assert.Error(t, e.Write([]BatchOp{{Kind: OpPut, Key: []byte("a")}}, false))
	assert.Error(t, e.Delete([]byte("k"), WriteOptions{}))
	assert.Error(t, e.Flush(""))
	v, err := e.Get([]byte("k"), ReadOptions{})
	require.NoError(t, err, "reads keep working")
	assert.Equal(t, "v", string(v))

	e.guard.reserve = 0
	time.Sleep(diskCheckEvery + 10*time.Millisecond)
	require.NoError(t, e.Put([]byte("k2"), []byte("v"), WriteOptions{}), "writes resume")
}
