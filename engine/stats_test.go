package engine

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseStatistics(t *testing.T) {
	st := parseStatistics("rocksdb.block.cache.miss COUNT : 42\n" +
		"rocksdb.db.get.micros P50 : 1.500000 P95 : 3.000000 P99 : 7.250000 P100 : 19.000000 COUNT : 9 SUM : 30\n" +
		"garbage\n")
	assert.Equal(t, uint64(42), st.Tickers["rocksdb.block.cache.miss"])
	assert.Equal(t, Histogram{P50: 1.5, P95: 3, P99: 7.25, Max: 19, Count: 9, Sum: 30}, st.Histograms["rocksdb.db.get.micros"])
	assert.Len(t, st.Tickers, 1)
}

func TestStatsShowRealWork(t *testing.T) {
	e := newTestEngine(t, nil)
	for i := 0; i < 1000; i++ {
		mustPut(t, e, fmt.Sprintf("k%04d", i), "value")
	}
	require.NoError(t, e.Flush(""))
	before, err := e.Stats()
	require.NoError(t, err)
	for round := 0; round < 3; round++ {
		for i := 0; i < 1000; i += 10 {
			_, err := e.Get([]byte(fmt.Sprintf("k%04d", i)), ReadOptions{})
			require.NoError(t, err)
			_, err = e.Get([]byte(fmt.Sprintf("missing%04d", i)), ReadOptions{})
			require.ErrorIs(t, err, ErrNotFound)
		}
	}
	after, err := e.Stats()
	require.NoError(t, err)
	assert.Greater(t, after.Tickers["rocksdb.block.cache.hit"], before.Tickers["rocksdb.block.cache.hit"])
	assert.Greater(t, after.Tickers["rocksdb.bloom.filter.useful"], before.Tickers["rocksdb.bloom.filter.useful"])
	assert.Greater(t, after.Tickers["rocksdb.bytes.written"], uint64(0))
	h := after.Histograms["rocksdb.db.get.micros"]
	assert.Equal(t, uint64(600), h.Count)
	assert.Greater(t, h.Max, 0.0)
	assert.Equal(t, uint64(1), after.Properties["rocksdb.num-files-at-level0"])
	assert.Greater(t, after.Properties["rocksdb.total-sst-files-size"], uint64(0))
	assert.Contains(t, after.ColumnFamilies, "default")

	info, err := e.CacheInfo()
	require.NoError(t, err)
	assert.Greater(t, info.Usage, uint64(0), "reads filled the cache")
	assert.Equal(t, uint64(8<<20), info.Capacity)
	assert.False(t, info.StrictCapacity)
}
