package engine

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNativeLayouts guards the reading of grocksdb's C handles: each
// native helper must reach the same object grocksdb itself uses.
func TestNativeLayouts(t *testing.T) {
	e := newTestEngine(t, func(c *Config) { c.ColumnFamilies = []string{"idx"} })
	require.NoError(t, e.Write([]BatchOp{
		{Kind: OpPut, Key: []byte("a"), Value: []byte("1")},
		{Kind: OpPut, CF: "idx", Key: []byte("a"), Value: []byte("in idx")},
	}, true))
	// Written through the native DB, CF and write options, read through grocksdb.
	v, err := e.Get([]byte("a"), ReadOptions{})
	require.NoError(t, err)
	assert.Equal(t, "1", string(v))
	v, err = e.Get([]byte("a"), ReadOptions{CF: "idx"})
	require.NoError(t, err)
	assert.Equal(t, "in idx", string(v))
	// The sync write options reached RocksDB: the WAL was fsynced.
	st, err := e.Stats()
	require.NoError(t, err)
	assert.Positive(t, st.Tickers["rocksdb.wal.synced"])
}

func TestMultiGetFuncOverMemtableAndFiles(t *testing.T) {
	e := newTestEngine(t, func(c *Config) { c.ColumnFamilies = []string{"idx"} })
	var ops []BatchOp
	for i := 0; i < 500; i++ {
		ops = append(ops, BatchOp{Kind: OpPut, Key: []byte(fmt.Sprintf("k%04d", i)), Value: []byte(fmt.Sprintf("v%d", i))})
	}
	require.NoError(t, e.Write(ops, false))
	require.NoError(t, e.Flush(""))
	mustPut(t, e, "k0001", "newer") // memtable shadows the file
	mustPut(t, e, "empty", "")
	snap, err := e.NewSnapshot()
	require.NoError(t, err)
	defer snap.Close()
	mustPut(t, e, "k0002", "after the snapshot")

	keys := [][]byte{[]byte("k0499"), []byte("k0001"), []byte("missing"), []byte("empty"), []byte("k0001"), []byte("")}
	type got struct {
		v     string
		found bool
	}
	collect := func(o ReadOptions, keys [][]byte) []got {
		out := make([]got, len(keys))
		require.NoError(t, e.MultiGetFunc(keys, o, func(i int, v []byte, found bool) { out[i] = got{string(v), found} }))
		return out
	}
	assert.Equal(t, []got{{"v499", true}, {"newer", true}, {}, {"", true}, {"newer", true}, {}}, collect(ReadOptions{}, keys))
	assert.Equal(t, []got{{"v2", true}}, collect(ReadOptions{Snapshot: snap}, [][]byte{[]byte("k0002")}))
	assert.Equal(t, []got{{"after the snapshot", true}}, collect(ReadOptions{}, [][]byte{[]byte("k0002")}))
	assert.Equal(t, []got{{}}, collect(ReadOptions{CF: "idx"}, [][]byte{[]byte("k0001")}))

	var unknown *UnknownColumnFamilyError
	assert.ErrorAs(t, e.MultiGetFunc(nil, ReadOptions{CF: "nope"}, nil), &unknown)
	require.NoError(t, e.Close())
	assert.ErrorIs(t, e.MultiGetFunc(keys, ReadOptions{}, nil), ErrClosed)
}

func TestKeepFreedMemoryIsAccepted(t *testing.T) {
	require.NoError(t, KeepFreedMemory(), "glibc takes both thresholds")
}

func TestSnapshotSequence(t *testing.T) {
	e := newTestEngine(t, nil)
	mustPut(t, e, "a", "1")
	mustPut(t, e, "b", "2")
	snap, err := e.NewSnapshot()
	require.NoError(t, err)
	mustPut(t, e, "c", "3")
	seq, err := snap.Sequence()
	require.NoError(t, err)
	assert.Equal(t, uint64(2), seq, "two writes before the snapshot, one after")
	latest, err := e.LatestSequenceNumber()
	require.NoError(t, err)
	assert.Equal(t, uint64(3), latest)
	snap.Close()
	_, err = snap.Sequence()
	assert.ErrorIs(t, err, ErrInvalidArgument)
}
