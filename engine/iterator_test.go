package engine

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// moveKeys makes one move and returns the keys it handed out and more.
func moveKeys(t *testing.T, it *Iterator, m Move, ahead int) ([]string, bool) {
	t.Helper()
	var keys []string
	n, more, err := it.Move(m, ahead, 1<<20, func(k, _ []byte) { keys = append(keys, string(k)) })
	require.NoError(t, err)
	require.Equal(t, n, len(keys))
	return keys, more
}

func TestIteratorMovesAndReadsAhead(t *testing.T) {
	e := newTestEngine(t, nil)
	for _, k := range []string{"a", "c", "e", "g"} {
		require.NoError(t, e.Put([]byte(k), []byte("v"+k), WriteOptions{}))
	}
	it, err := e.NewIterator(IteratorOptions{})
	require.NoError(t, err)
	defer it.Close()

	keys, more := moveKeys(t, it, Move{Kind: MoveNext}, 0)
	assert.Empty(t, keys, "next from no row lands nowhere")
	assert.False(t, more)

	keys, more = moveKeys(t, it, Move{Kind: MoveFirst}, 1)
	assert.Equal(t, []string{"a", "c"}, keys)
	assert.True(t, more)
	keys, _ = moveKeys(t, it, Move{Kind: MoveNext}, 0)
	assert.Equal(t, []string{"e"}, keys, "next goes on after the last row handed out")

	keys, more = moveKeys(t, it, Move{Kind: MoveSeek, Key: []byte("d")}, 10)
	assert.Equal(t, []string{"e", "g"}, keys)
	assert.False(t, more)

	keys, _ = moveKeys(t, it, Move{Kind: MoveSeekForPrev, Key: []byte("d")}, 5)
	assert.Equal(t, []string{"c", "a"}, keys, "seek_for_prev reads ahead backwards")
	keys, _ = moveKeys(t, it, Move{Kind: MoveSeekForPrev, Key: []byte("0")}, 0)
	assert.Empty(t, keys, "nothing at or before a key below the first")

	keys, _ = moveKeys(t, it, Move{Kind: MoveNext, Key: []byte("c"), Keyed: true}, 0)
	assert.Equal(t, []string{"e"}, keys, "keyed next: the row after the key")
	keys, _ = moveKeys(t, it, Move{Kind: MovePrev, Key: []byte("d"), Keyed: true}, 0)
	assert.Equal(t, []string{"c"}, keys, "keyed prev: the row before a missing key")
	keys, _ = moveKeys(t, it, Move{Kind: MovePrev}, 0)
	assert.Equal(t, []string{"a"}, keys)
	keys, _ = moveKeys(t, it, Move{Kind: MoveLast}, 0)
	assert.Equal(t, []string{"g"}, keys)
	keys, more = moveKeys(t, it, Move{Kind: MoveNext}, 3)
	assert.Empty(t, keys, "next after the last row")
	assert.False(t, more)
}

func TestIteratorSeesItsMomentUntilRefresh(t *testing.T) {
	e := newTestEngine(t, nil)
	require.NoError(t, e.Put([]byte("k1"), []byte("1"), WriteOptions{}))
	it, err := e.NewIterator(IteratorOptions{})
	require.NoError(t, err)
	defer it.Close()
	require.NoError(t, e.Put([]byte("k2"), []byte("2"), WriteOptions{}))
	require.NoError(t, e.Delete([]byte("k1"), WriteOptions{}))

	keys, _ := moveKeys(t, it, Move{Kind: MoveFirst}, 10)
	assert.Equal(t, []string{"k1"}, keys, "writes after the iterator was made are not seen")
	require.NoError(t, it.Refresh())
	keys, _ = moveKeys(t, it, Move{Kind: MoveNext}, 0)
	assert.Empty(t, keys, "a refreshed iterator is unpositioned")
	keys, _ = moveKeys(t, it, Move{Kind: MoveFirst}, 10)
	assert.Equal(t, []string{"k2"}, keys)
}

func TestIteratorBoundsAndByteLimit(t *testing.T) {
	e := newTestEngine(t, nil)
	for i := 0; i < 100; i++ {
		require.NoError(t, e.Put([]byte(fmt.Sprintf("k%02d", i)), make([]byte, 1000), WriteOptions{}))
	}
	it, err := e.NewIterator(IteratorOptions{LowerBound: []byte("k10"), UpperBound: []byte("k20")})
	require.NoError(t, err)
	defer it.Close()
	keys, more := moveKeys(t, it, Move{Kind: MoveFirst}, 100)
	assert.Len(t, keys, 10)
	assert.Equal(t, "k10", keys[0])
	assert.False(t, more)
	keys, _ = moveKeys(t, it, Move{Kind: MoveLast}, 0)
	assert.Equal(t, []string{"k19"}, keys)

	all, err := e.NewIterator(IteratorOptions{NoFillCache: true, TotalOrderSeek: true, ReadaheadSize: 1 << 20})
	require.NoError(t, err)
	defer all.Close()
	var n int
	rows, more, err := all.Move(Move{Kind: MoveFirst}, 99, 5000, func(_, _ []byte) { n++ })
	require.NoError(t, err)
	assert.True(t, more)
	assert.Less(t, rows, 100, "the byte bound stops the read-ahead")
	assert.Equal(t, rows, n)

	all.Close()
	_, _, err = all.Move(Move{Kind: MoveFirst}, 0, 100, func(_, _ []byte) {})
	assert.ErrorIs(t, err, ErrInvalidArgument, "a closed iterator")
}

func TestIteratorRefreshAfterItsSnapshotIsReleasedFailsAndKeepsTheIterator(t *testing.T) {
	e := newTestEngine(t, nil)
	require.NoError(t, e.Put([]byte("k1"), []byte("1"), WriteOptions{}))
	snap, err := e.NewSnapshot()
	require.NoError(t, err)
	it, err := e.NewIterator(IteratorOptions{Snapshot: snap})
	require.NoError(t, err)
	require.NoError(t, e.Put([]byte("k2"), []byte("2"), WriteOptions{}))
	snap.Close()

	assert.ErrorIs(t, it.Refresh(), ErrInvalidArgument, "nothing to refresh to")
	keys, _ := moveKeys(t, it, Move{Kind: MoveFirst}, 10)
	assert.Equal(t, []string{"k1"}, keys, "the iterator keeps the view it had")
	it.Close()
	it.Close()
}
