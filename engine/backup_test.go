package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func putRange(t *testing.T, e *Engine, prefix string, n int) {
	t.Helper()
	ops := make([]BatchOp, 0, n)
	for i := 0; i < n; i++ {
		ops = append(ops, BatchOp{Kind: OpPut, Key: []byte(fmt.Sprintf("%s%05d", prefix, i)), Value: []byte(strings.Repeat("v", 200))})
	}
	require.NoError(t, e.Write(ops, false))
}

// sstFiles counts the table files a backup directory holds.
func sstFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	require.NoError(t, filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && strings.HasSuffix(p, ".sst") {
			n++
		}
		return err
	}))
	return n
}

func TestIncrementalBackupsVerifyPurgeRestore(t *testing.T) {
	e := newTestEngine(t, nil)
	dir := filepath.Join(t.TempDir(), "backups")
	putRange(t, e, "a", 5000)
	require.NoError(t, e.Flush(""))
	var progress atomic.Uint64
	first, err := e.Backup(dir, BackupOptions{Flush: true, ProgressEvery: 64 << 10,
		Progress: func(n uint64) { progress.Store(n) }})
	require.NoError(t, err)
	assert.EqualValues(t, 1, first.ID)
	assert.Positive(t, first.Size)
	filesAfterFirst := sstFiles(t, dir)
	require.Positive(t, filesAfterFirst)

	putRange(t, e, "b", 50)
	second, err := e.Backup(dir, BackupOptions{Flush: true})
	require.NoError(t, err)
	assert.EqualValues(t, 2, second.ID)
	assert.Equal(t, filesAfterFirst+1, sstFiles(t, dir), "the second backup adds only the one new SST file")

	putRange(t, e, "c", 50)
	_, err = e.Backup(dir, BackupOptions{Flush: true, RateLimitBytesPerSec: 64 << 20})
	require.NoError(t, err)
	infos, err := ListBackups(dir)
	require.NoError(t, err)
	require.Len(t, infos, 3)
	require.NoError(t, VerifyBackup(dir, 2))

	require.NoError(t, PurgeOldBackups(dir, 2))
	infos, err = ListBackups(dir)
	require.NoError(t, err)
	assert.Equal(t, []uint32{2, 3}, []uint32{infos[0].ID, infos[1].ID}, "purge keeps exactly the newest 2")
	require.NoError(t, DeleteBackup(dir, 3))
	infos, err = ListBackups(dir)
	require.NoError(t, err)
	require.Len(t, infos, 1)

	target := filepath.Join(t.TempDir(), "restored")
	require.NoError(t, RestoreBackup(dir, 0, target, 0))
	r, err := Open(target, smallConfig())
	require.NoError(t, err)
	v, err := r.Get([]byte("b00049"), ReadOptions{})
	require.NoError(t, err)
	assert.Len(t, v, 200)
	_, err = r.Get([]byte("c00000"), ReadOptions{})
	assert.ErrorIs(t, err, ErrNotFound, "backup 2 was taken before the c keys")
	require.NoError(t, r.Close())

	err = RestoreBackup(dir, 0, e.Path(), 0)
	assert.ErrorIs(t, err, ErrInvalidArgument, "never over a database")
	_, err = ListBackups(filepath.Join(t.TempDir(), "none"))
	assert.ErrorIs(t, err, ErrNoBackups)
	err = RestoreBackup(filepath.Join(t.TempDir(), "none"), 0, filepath.Join(t.TempDir(), "x"), 0)
	assert.ErrorIs(t, err, ErrNoBackups)
}

func TestVerifyFindsACorruptedBackupFile(t *testing.T) {
	e := newTestEngine(t, nil)
	dir := filepath.Join(t.TempDir(), "backups")
	putRange(t, e, "a", 2000)
	_, err := e.Backup(dir, BackupOptions{Flush: true})
	require.NoError(t, err)
	var sst string
	require.NoError(t, filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if strings.HasSuffix(p, ".sst") {
			sst = p
		}
		return err
	}))
	b, err := os.ReadFile(sst)
	require.NoError(t, err)
	b[len(b)/2] ^= 0xff
	require.NoError(t, os.WriteFile(sst, b, 0o644))
	err = VerifyBackup(dir, 1)
	require.Error(t, err)
	assert.Equal(t, KindCorruption, KindOf(err), "%v", err)
	assert.Contains(t, err.Error(), "checksum")
}
