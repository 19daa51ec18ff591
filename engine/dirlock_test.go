package engine

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func readOnly() Config { c := smallConfig(); c.ReadOnly = true; return c }

func TestReadOnlyEngineRefusesSchemaChanges(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	rw, err := Open(dir, smallConfig())
	require.NoError(t, err)
	require.NoError(t, rw.CreateColumnFamily("rocf"))
	require.NoError(t, rw.Put([]byte("k"), []byte("v"), WriteOptions{CF: "rocf"}))
	require.NoError(t, rw.Flush("rocf"))
	require.NoError(t, rw.Close())

	ro, err := Open(dir, readOnly())
	require.NoError(t, err)
	for _, err := range []error{ro.CreateColumnFamily("newcf"), ro.DropColumnFamily("rocf"), ro.CompactRange("", nil, nil)} {
		assert.Equal(t, KindNotSupported, KindOf(err), "%v", err)
	}
	require.NoError(t, ro.Close())

	rw, err = Open(dir, smallConfig())
	require.NoError(t, err)
	defer rw.Close()
	v, err := rw.Get([]byte("k"), ReadOptions{CF: "rocf"})
	require.NoError(t, err)
	assert.Equal(t, "v", string(v))
	names, err := rw.ColumnFamilies()
	require.NoError(t, err)
	assert.NotContains(t, names, "newcf")
}

func TestDestroyWaitsForEveryOpenerReadOnlyOnesIncluded(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	rw, err := Open(dir, smallConfig())
	require.NoError(t, err)
	require.NoError(t, rw.Put([]byte("k"), []byte("v"), WriteOptions{}))
	require.NoError(t, rw.Close())

	ro, err := Open(dir, readOnly())
	require.NoError(t, err)
	assert.ErrorIs(t, Destroy(dir), ErrDatabaseInUse)
	assert.ErrorIs(t, Repair(dir), ErrDatabaseInUse)
	assert.FileExists(t, filepath.Join(dir, "CURRENT"))
	require.NoError(t, ro.Close())
	require.NoError(t, Destroy(dir))
	assert.NoFileExists(t, filepath.Join(dir, "CURRENT"))
}

// Closing any descriptor of a file drops the fcntl locks the process holds
// on it: a read-only engine coming and going beside a writer in the same
// process must leave the writer's LOCK held.
func TestAReadOnlyEngineBesideAWriterLeavesItsLockHeld(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	rw, err := Open(dir, smallConfig())
	require.NoError(t, err)
	defer rw.Close()
	ro, err := Open(dir, readOnly())
	require.NoError(t, err)
	require.NoError(t, ro.Close())
	_, err = Open(dir, smallConfig())
	require.Error(t, err, "the writer still holds the LOCK")
	assert.ErrorIs(t, Destroy(dir), ErrDatabaseInUse)
	require.NoError(t, rw.Put([]byte("k"), []byte("v"), WriteOptions{}))
}

func TestDestroyAndRepairLeaveForeignDirectoriesAlone(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"notes.txt", "LOG", "000123.log"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, n), []byte("mine"), 0o640))
	}
	require.NoError(t, Destroy(dir))
	assert.ErrorIs(t, Repair(dir), ErrInvalidArgument)
	for _, n := range []string{"notes.txt", "LOG", "000123.log"} {
		assert.FileExists(t, filepath.Join(dir, n))
	}
}

func TestAnEmptyUpperBoundSeesNoKey(t *testing.T) {
	e, err := Open(filepath.Join(t.TempDir(), "data"), smallConfig())
	require.NoError(t, err)
	defer e.Close()
	require.NoError(t, e.Put([]byte("a"), []byte("1"), WriteOptions{}))
	it, err := e.NewIterator(IteratorOptions{UpperBound: []byte{}})
	require.NoError(t, err)
	defer it.Close()
	for _, m := range []Move{{Kind: MoveFirst}, {Kind: MoveLast}, {Kind: MoveSeek, Key: []byte("a")}} {
		rows, more, err := it.Move(m, 3, 1<<20, func(k, v []byte) { t.Errorf("saw %q", k) })
		require.NoError(t, err)
		assert.Zero(t, rows)
		assert.False(t, more)
	}
}

func TestBackupRatesAboveTheMaximumAreRefused(t *testing.T) {
	e, err := Open(filepath.Join(t.TempDir(), "data"), smallConfig())
	require.NoError(t, err)
	defer e.Close()
	_, err = e.Backup(filepath.Join(t.TempDir(), "b"), BackupOptions{RateLimitBytesPerSec: 1 << 40})
	assert.ErrorIs(t, err, ErrInvalidArgument)
	assert.ErrorIs(t, RestoreBackup(t.TempDir(), 0, filepath.Join(t.TempDir(), "r"), 1<<63), ErrInvalidArgument)
}
