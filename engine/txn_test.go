package engine

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func txnEngine(t *testing.T) *Engine {
	cfg := smallConfig()
	cfg.OptimisticTransactions = true
	cfg.ColumnFamilies = []string{"c"}
	e, err := Open(filepath.Join(t.TempDir(), "data"), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { e.Close() })
	return e
}

func TestTransactionsSeeTheirOwnWritesAndCommitAtOnce(t *testing.T) {
	e := txnEngine(t)
	require.NoError(t, e.Put([]byte("a"), []byte("x"), WriteOptions{}))
	tx, err := e.BeginTxn(WriteOptions{})
	require.NoError(t, err)
	defer tx.Close()
	require.NoError(t, tx.Put("", []byte("b"), []byte("1")))
	require.NoError(t, tx.Put("c", []byte("d"), []byte("2")))
	require.NoError(t, tx.Delete("", []byte("a")))
	_, err = e.Get([]byte("b"), ReadOptions{})
	assert.ErrorIs(t, err, ErrNotFound, "not before the commit")
	v, err := tx.Get("", []byte("b"))
	require.NoError(t, err)
	assert.Equal(t, "1", string(v))
	_, err = tx.Get("", []byte("a"))
	assert.ErrorIs(t, err, ErrNotFound, "its own delete")

	it, err := e.NewIterator(IteratorOptions{Txn: tx})
	require.NoError(t, err)
	keys := []string{}
	_, _, err = it.Move(Move{Kind: MoveFirst}, 10, 1<<20, func(k, _ []byte) { keys = append(keys, string(k)) })
	require.NoError(t, err)
	assert.Equal(t, []string{"b"}, keys, "the database merged with the transaction")
	it.Close()

	require.NoError(t, tx.Commit())
	v, err = e.Get([]byte("d"), ReadOptions{CF: "c"})
	require.NoError(t, err)
	assert.Equal(t, "2", string(v))
	_, err = e.Get([]byte("a"), ReadOptions{})
	assert.ErrorIs(t, err, ErrNotFound)
}

func TestAConflictingWriteFailsTheCommit(t *testing.T) {
	e := txnEngine(t)
	tx, err := e.BeginTxn(WriteOptions{})
	require.NoError(t, err)
	defer tx.Close()
	require.NoError(t, tx.Put("", []byte("k"), []byte("txn")))
	require.NoError(t, e.Put([]byte("k"), []byte("other"), WriteOptions{}))
	err = tx.Commit()
	assert.Equal(t, KindBusy, KindOf(err), "%v", err)
	v, err := e.Get([]byte("k"), ReadOptions{})
	require.NoError(t, err)
	assert.Equal(t, "other", string(v))

	plain, err := Open(filepath.Join(t.TempDir(), "plain"), smallConfig())
	require.NoError(t, err)
	defer plain.Close()
	_, err = plain.BeginTxn(WriteOptions{})
	assert.ErrorIs(t, err, ErrInvalidArgument, "a database not opened for transactions")
}

func TestClosingATransactionFirstReleasesItsIterators(t *testing.T) {
	e := txnEngine(t)
	tx, err := e.BeginTxn(WriteOptions{})
	require.NoError(t, err)
	require.NoError(t, tx.Put("", []byte("a"), []byte("1")))
	it, err := e.NewIterator(IteratorOptions{Txn: tx})
	require.NoError(t, err)
	tx.Close()
	_, _, err = it.Move(Move{Kind: MoveFirst}, 1, 1<<20, func(_, _ []byte) {})
	assert.Error(t, err, "the iterator went with its transaction")
	it.Close()
}

// grocksdb hands RocksDB a NULL pointer for an empty key; a transaction's
// iterator asserts against it (Debian's build aborts).
func TestSeekingAnEmptyKeyInATransaction(t *testing.T) {
	e := txnEngine(t)
	require.NoError(t, e.Put([]byte("a"), []byte("x"), WriteOptions{}))
	tx, err := e.BeginTxn(WriteOptions{})
	require.NoError(t, err)
	defer tx.Close()
	it, err := e.NewIterator(IteratorOptions{Txn: tx})
	require.NoError(t, err)
	defer it.Close()
	var got string
	for _, m := range []Move{{Kind: MoveSeek, Key: []byte{}}, {Kind: MoveSeekForPrev, Key: []byte("b")}} {
		rows, _, err := it.Move(m, 0, 1<<20, func(k, _ []byte) { got = string(k) })
		require.NoError(t, err)
		assert.Equal(t, 1, rows)
		assert.Equal(t, "a", got)
	}
}
