package engine

import (
	"encoding/binary"
	"fmt"
	"math/rand"
	"testing"

	"github.com/stretchr/testify/require"
)

// The in-process baseline every layer above is compared with. The data set
// matches the performance issue: 100-byte values, lz4, bloom 10, 512 MiB LRU.

func benchEngine(b *testing.B, n int) *Engine {
	b.Helper()
	e := newTestEngine(b, func(c *Config) { c.BlockCacheSize = 512 << 20; c.WriteBufferSize = 64 << 20 })
	value := make([]byte, 100)
	ops := make([]BatchOp, 0, 1000)
	for i := 0; i < n; i++ {
		ops = append(ops, BatchOp{Kind: OpPut, Key: benchKey(i), Value: value})
		if len(ops) == cap(ops) {
			if err := e.Write(ops, false); err != nil {
				b.Fatal(err)
			}
			ops = ops[:0]
		}
	}
	if err := e.Write(ops, false); err != nil {
		b.Fatal(err)
	}
	if err := e.Flush(""); err != nil {
		b.Fatal(err)
	}
	return e
}

func benchKey(i int) []byte { return []byte(fmt.Sprintf("user:%08d", i)) }

func reportOps(b *testing.B, perOp int) {
	b.ReportMetric(float64(b.N*perOp)/b.Elapsed().Seconds(), "ops/s")
}

// warmGets reads every key once, so its blocks are in the block cache.
func warmGets(e *Engine, keys [][]byte) {
	for _, k := range keys {
		_ = e.GetFunc(k, ReadOptions{}, func([]byte) {})
	}
}

// benchGets reads keys round and round after one pass that warms the
// block cache.
func benchGets(b *testing.B, e *Engine, keys [][]byte) {
	warmGets(e, keys)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := e.GetFunc(keys[i%len(keys)], ReadOptions{}, func([]byte) {}); err != nil {
			b.Fatal(err)
		}
	}
	reportOps(b, 1)
}

func BenchmarkGetCached(b *testing.B) {
	const n = 100_000
	e := benchEngine(b, n)
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = benchKey(i)
	}
	benchGets(b, e, keys)
}

// randomKeys is every key of an n-key bench engine, in a random order.
func randomKeys(n int) [][]byte {
	keys := make([][]byte, n)
	for i, j := range rand.New(rand.NewSource(1)).Perm(n) {
		keys[i] = benchKey(j)
	}
	return keys
}

// BenchmarkGetRandom reads the keys in a random order, as the Elixir bench
// does: each lookup finds its index and data blocks cold in the CPU cache.
func BenchmarkGetRandom(b *testing.B) {
	const n = 200_000
	e := benchEngine(b, n)
	require.NoError(b, e.CompactRange("", nil, nil))
	benchGets(b, e, randomKeys(n))
}

// BenchmarkMultiGetRandom8 reads random keys in groups of 8, as the
// sidecar's reader runs the gets it finds waiting under 16 callers.
func BenchmarkMultiGetRandom8(b *testing.B) {
	const n = 200_000
	e := benchEngine(b, n)
	require.NoError(b, e.CompactRange("", nil, nil))
	keys := randomKeys(n)
	warmGets(e, keys)
	b.ResetTimer()
	for i := 0; i < b.N; i += 8 {
		j := i % (n - 8)
		err := e.MultiGetFunc(keys[j:j+8], ReadOptions{}, func(int, []byte, bool) {})
		if err != nil {
			b.Fatal(err)
		}
	}
	reportOps(b, 1)
}

// BenchmarkGetRandomUnderRecentWrites is BenchmarkGetRandom with 80k
// other keys just written (in the memtable, as in a live database): every
// get looks in the memtable first.
func BenchmarkGetRandomUnderRecentWrites(b *testing.B) {
	const n = 200_000
	e := benchEngine(b, n)
	require.NoError(b, e.CompactRange("", nil, nil))
	value := make([]byte, 100)
	for i := 0; i < 80_000; i++ {
		require.NoError(b, e.Put([]byte(fmt.Sprintf("new:%d", i)), value, WriteOptions{}))
	}
	benchGets(b, e, randomKeys(n))
}

func BenchmarkGetMissing(b *testing.B) {
	e := benchEngine(b, 100_000)
	key := []byte("user:zzzzzzzz")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		binary.BigEndian.PutUint32(key[5:], uint32(i))
		if err := e.GetFunc(key, ReadOptions{}, func([]byte) {}); err != ErrNotFound {
			b.Fatal(err)
		}
	}
	reportOps(b, 1)
}

func BenchmarkPut(b *testing.B) {
	e := newTestEngine(b, func(c *Config) { c.WriteBufferSize = 64 << 20 })
	value := make([]byte, 100)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := e.Put(benchKey(i), value, WriteOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	reportOps(b, 1)
}

func BenchmarkWriteBatch1000(b *testing.B) {
	e := newTestEngine(b, func(c *Config) { c.WriteBufferSize = 64 << 20 })
	value := make([]byte, 100)
	ops := make([]BatchOp, 1000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range ops {
			ops[j] = BatchOp{Kind: OpPut, Key: benchKey(i*1000 + j), Value: value}
		}
		if err := e.Write(ops, false); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkScan100k(b *testing.B) {
	const n = 100_000
	e := benchEngine(b, n)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, err := e.NewScanner([]byte("user:"), []byte("user:~"), ScanOptions{BatchSize: 1000})
		if err != nil {
			b.Fatal(err)
		}
		rows := 0
		for more := true; more; {
			var st ScanStats
			st, more, err = s.NextFunc(func(k, v []byte) {})
			if err != nil {
				b.Fatal(err)
			}
			rows += st.Rows
		}
		s.Close()
		if rows != n {
			b.Fatalf("scanned %d rows, want %d", rows, n)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkIteratorSeekAhead2 is the sidecar's work for a positioning
// move of the :rocksdb API (a seek and two rows read ahead), random keys.
func BenchmarkIteratorSeekAhead2(b *testing.B) {
	const n = 200_000
	e := benchEngine(b, n)
	require.NoError(b, e.CompactRange("", nil, nil))
	it, err := e.NewIterator(IteratorOptions{})
	require.NoError(b, err)
	defer it.Close()
	keys := randomKeys(n)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := it.Move(Move{Kind: MoveSeek, Key: keys[i%n]}, 2, 1<<20, func(_, _ []byte) {}); err != nil {
			b.Fatal(err)
		}
	}
	reportOps(b, 1)
}

// BenchmarkIteratorWalk1000 reads rows ahead 1000 at a time, as a long
// walk of the :rocksdb API does.
func BenchmarkIteratorWalk1000(b *testing.B) {
	const n = 200_000
	e := benchEngine(b, n)
	it, err := e.NewIterator(IteratorOptions{})
	require.NoError(b, err)
	defer it.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := it.Move(Move{Kind: MoveSeek, Key: benchKey(i % (n - 1000))}, 999, 1<<20, func(_, _ []byte) {}); err != nil {
			b.Fatal(err)
		}
	}
	reportOps(b, 1000)
}
