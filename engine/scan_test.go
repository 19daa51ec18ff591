package engine

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func loadUsers(t testing.TB, e *Engine, n int) {
	t.Helper()
	ops := make([]BatchOp, 0, n)
	for i := 0; i < n; i++ {
		ops = append(ops, BatchOp{Kind: OpPut, Key: []byte(fmt.Sprintf("user:%06d", i)), Value: []byte(fmt.Sprintf("v%d", i))})
	}
	require.NoError(t, e.Write(ops, false))
}

func flatten(batches [][]KV) []KV {
	var all []KV
	for _, b := range batches {
		all = append(all, b...)
	}
	return all
}

func TestScanTheSeedsCall(t *testing.T) {
	e := newTestEngine(t, nil)
	loadUsers(t, e, 2500)
	mustPut(t, e, "order:1", "x")
	mustPut(t, e, "video:1", "x")
	batches, stats, err := e.Scan([]byte("user:"), []byte("user:~"), ScanOptions{BatchSize: 1000})
	require.NoError(t, err)
	require.Len(t, batches, 3)
	assert.Len(t, batches[0], 1000)
	assert.Len(t, batches[2], 500)
	assert.Equal(t, 1000, stats[0].Rows)
	assert.Equal(t, 1000*len("user:000000")+10*len("v0")+90*len("v10")+900*len("v100"), stats[0].Bytes, "bytes are key+value bytes")
	all := flatten(batches)
	assert.Equal(t, "user:000000", string(all[0].Key))
	assert.Equal(t, "user:002499", string(all[2499].Key))
	assert.Equal(t, "v2499", string(all[2499].Value))
}

func TestScanBoundsAndLimits(t *testing.T) {
	e := newTestEngine(t, nil)
	loadUsers(t, e, 100)

	b, _, err := e.Scan([]byte("zzz"), []byte("zzzz"), ScanOptions{})
	require.NoError(t, err)
	assert.Empty(t, b, "empty range")
	b, _, err = e.Scan([]byte("user:000050"), []byte("user:000010"), ScanOptions{})
	require.NoError(t, err)
	assert.Empty(t, b, "start after end")

	all := flatten(must(e.Scan([]byte("user:000010"), []byte("user:000020"), ScanOptions{})))
	require.Len(t, all, 11, "end is inclusive")
	assert.Equal(t, "user:000020", string(all[10].Key))

	all = flatten(must(e.Scan([]byte("user:000090"), nil, ScanOptions{})))
	assert.Len(t, all, 10, `"" end scans to the end`)

	all = flatten(must(e.Scan(nil, nil, ScanOptions{Limit: 15, BatchSize: 7})))
	assert.Len(t, all, 15, "limit caps the total")

	for _, size := range []int{1, 7, 1000} {
		batches := must(e.Scan(nil, nil, ScanOptions{BatchSize: size}))
		for i, batch := range batches {
			if i < len(batches)-1 {
				assert.Len(t, batch, size)
			}
			assert.LessOrEqual(t, len(batch), size)
		}
		assert.Len(t, flatten(batches), 100, "batch size %d", size)
	}

	_, err = e.NewScanner(nil, nil, ScanOptions{BatchSize: -1})
	assert.ErrorIs(t, err, ErrInvalidArgument)
	_, err = e.NewScanner(nil, nil, ScanOptions{Limit: -1})
	assert.ErrorIs(t, err, ErrInvalidArgument)
}

func must(b [][]KV, _ []ScanStats, err error) [][]KV {
	if err != nil {
		panic(err)
	}
	return b
}

func TestScanBinaryKeys(t *testing.T) {
	e := newTestEngine(t, nil)
	keys := [][]byte{{0x00}, {0x00, 0x00}, {0x01, 0x00, 0xFF}, {0xFF}, {0xFF, 0xFF, 0x00}, {0xFF, 0xFF, 0xFF}}
	for _, k := range keys {
		require.NoError(t, e.Put(k, append([]byte{0xFF}, k...), WriteOptions{}))
	}
	all := flatten(must(e.Scan([]byte{0x00}, []byte{0xFF, 0xFF}, ScanOptions{BatchSize: 2})))
	require.Len(t, all, 4)
	assert.Equal(t, []byte{0x00}, all[0].Key)
	assert.Equal(t, []byte{0xFF}, all[3].Key)
	assert.Equal(t, []byte{0xFF, 0xFF}, all[3].Value)

	all = flatten(must(e.Scan([]byte{0xFF, 0xFF}, []byte{0xFF, 0xFF, 0xFF}, ScanOptions{})))
	assert.Len(t, all, 2, "an end key of 0xFF bytes is still inclusive")
}

func TestScanRowsDoNotAliasIteratorMemory(t *testing.T) {
	e := newTestEngine(t, nil)
	loadUsers(t, e, 50)
	s, err := e.NewScanner(nil, nil, ScanOptions{BatchSize: 10})
	require.NoError(t, err)
	first, _, more, err := s.Next()
	require.NoError(t, err)
	require.True(t, more)
	for {
		_, _, more, err := s.Next()
		require.NoError(t, err)
		if !more {
			break
		}
	}
	s.Close()
	require.NoError(t, e.Flush(""))
	assert.Equal(t, "user:000000", string(first[0].Key), "rows survive the iterator")
	assert.Equal(t, "v9", string(first[9].Value))
}

func TestScannerStoppedEarlyIsReleased(t *testing.T) {
	dir := t.TempDir()
	e, err := Open(dir, smallConfig())
	require.NoError(t, err)
	loadUsers(t, e, 100)
	s, err := e.NewScanner(nil, nil, ScanOptions{BatchSize: 10})
	require.NoError(t, err)
	_, _, _, err = s.Next()
	require.NoError(t, err)
	s.Close()
	s.Close()
	_, _, _, err = s.Next()
	assert.ErrorIs(t, err, ErrInvalidArgument, "a closed scanner is refused")
	assert.Empty(t, e.open, "no iterator is tracked after Close")

	// A scanner never closed by its user is released by Engine.Close.
	s2, err := e.NewScanner(nil, nil, ScanOptions{})
	require.NoError(t, err)
	require.NoError(t, e.Close())
	_, _, _, err = s2.Next()
	assert.ErrorIs(t, err, ErrClosed)
}

// nativeIterator reads grocksdb's unexported pointer; if a grocksdb
// upgrade changed Iterator's layout, this test fails before anything else.
func TestNativeIteratorLayout(t *testing.T) {
	e := newTestEngine(t, nil)
	mustPut(t, e, "a", "1")
	it := e.db.NewIterator(e.readOpts)
	defer it.Close()
	it.SeekToFirst()
	require.True(t, it.Valid())
	buf, rows := copyRows(it, nil, 10)
	defer putRowBuf(buf[:cap(buf)])
	require.Equal(t, 1, rows)
	var got []string
	eachRow(buf, func(k, v []byte) { got = append(got, string(k)+"="+string(v)) })
	assert.Equal(t, []string{"a=1"}, got)
	assert.False(t, it.Valid(), "copyRows advanced the iterator")
}

func TestScanRowsLargerThanTheCopyBuffer(t *testing.T) {
	e := newTestEngine(t, nil)
	big := make([]byte, 1<<20)
	for i := range big {
		big[i] = byte(i)
	}
	for i := 0; i < 3; i++ {
		require.NoError(t, e.Put([]byte{byte('a' + i)}, big, WriteOptions{}))
	}
	all := flatten(must(e.Scan(nil, nil, ScanOptions{BatchSize: 2})))
	require.Len(t, all, 3)
	assert.Equal(t, big, all[2].Value)
}
