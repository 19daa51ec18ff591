package engine

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestUpdatesCarryBatchesToAnotherDatabase(t *testing.T) {
	src, err := Open(filepath.Join(t.TempDir(), "src"), smallConfig())
	require.NoError(t, err)
	defer src.Close()
	dst, err := Open(filepath.Join(t.TempDir(), "dst"), smallConfig())
	require.NoError(t, err)
	defer dst.Close()
	require.NoError(t, src.Put([]byte("a"), []byte("1"), WriteOptions{}))
	require.NoError(t, src.Write([]BatchOp{{Kind: OpPut, Key: []byte("b"), Value: []byte("2")}, {Kind: OpDelete, Key: []byte("a")}}, false))

	u, err := src.UpdatesSince(0)
	require.NoError(t, err)
	defer u.Close()
	var seqs []uint64
	for {
		seq, data, ok, err := u.Next()
		require.NoError(t, err)
		if !ok {
			break
		}
		seqs = append(seqs, seq)
		require.NoError(t, dst.WriteBinary(data, WriteOptions{}))
	}
	assert.Equal(t, []uint64{1, 2}, seqs)
	_, err = dst.Get([]byte("a"), ReadOptions{})
	assert.ErrorIs(t, err, ErrNotFound)
	v, err := dst.Get([]byte("b"), ReadOptions{})
	require.NoError(t, err)
	assert.Equal(t, "2", string(v))
	seq, err := dst.LatestSequenceNumber()
	require.NoError(t, err)
	assert.EqualValues(t, 3, seq)
}

func TestMalformedBatchesNeverReachTheWAL(t *testing.T) {
	e, err := Open(filepath.Join(t.TempDir(), "data"), smallConfig())
	require.NoError(t, err)
	defer e.Close()
	header := func(count byte) []byte { return []byte{0, 0, 0, 0, 0, 0, 0, 0, count, 0, 0, 0} }
	for name, data := range map[string][]byte{
		"short":           {1, 2, 3},
		"truncated":       append(header(1), recValue, 5, 'a'),
		"unknown tag":     append(header(1), 0x16, 1, 'a', 1, 'b'),
		"unknown family":  append(header(1), recCFValue, 9, 1, 'a', 1, 'b'),
		"reversed range":  append(header(1), recRangeDeletion, 1, 'z', 1, 'a'),
		"merge, no op":    append(header(1), recMerge, 1, 'a', 1, 'b'),
		"count mismatch":  append(header(2), recValue, 1, 'a', 1, 'b'),
		"huge key length": append(header(1), recValue, 0xff, 0xff, 0xff, 0xff, 0x0f),
	} {
		assert.ErrorIs(t, e.WriteBinary(data, WriteOptions{}), ErrInvalidArgument, name)
	}
	require.NoError(t, e.WriteBinary(append(header(1), recValue, 1, 'a', 1, 'b'), WriteOptions{}))
	v, err := e.Get([]byte("a"), ReadOptions{})
	require.NoError(t, err)
	assert.Equal(t, "b", string(v))
}
