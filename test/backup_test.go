package test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/spiredb/spire-port/engine/kv"
	"github.com/spiredb/spire-port/port/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// entries lists what is under dir, recursively (for "nothing created").
func entries(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	_ = filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err == nil && p != dir {
			out = append(out, p)
		}
		return nil
	})
	return out
}

func TestCheckpointPathsStayInsideTheirRoots(t *testing.T) {
	base := t.TempDir()
	root1, root2, outside := filepath.Join(base, "r1"), filepath.Join(base, "r2"), filepath.Join(base, "outside")
	require.NoError(t, os.MkdirAll(root2, 0o750))
	require.NoError(t, os.MkdirAll(outside, 0o750))
	s := start(t, "", "etf", "--checkpoint-root", root1, "--checkpoint-root", root2)
	require.NoError(t, s.Put(ctx, []byte("k"), []byte("v")))
	require.NoError(t, os.MkdirAll(root1, 0o750))
	require.NoError(t, os.Symlink(outside, filepath.Join(root1, "link")))
	require.NoError(t, os.Symlink(outside, filepath.Join(root2, "target-link")))

	for _, c := range []struct {
		path string
		ok   bool
	}{
		{"nightly", true},                           // relative: under the first root
		{filepath.Join(root2, "weekly"), true},      // absolute, inside the second root
		{filepath.Join(root1, "a", "b", "c"), true}, // parents made inside
		{filepath.Join(outside, "cp"), false},       // absolute, outside
		{"../escape", false},                        // .. out of the root
		{filepath.Join(root1, "..", "outside", "x"), false},
		{"link/sub/cp", false},                       // a symlinked parent leading outside
		{filepath.Join(root2, "target-link"), false}, // a symlink as the target (it exists)
		{root1, false},                               // the root itself
		{"nightly", false},                           // exists now
	} {
		err := s.Checkpoint(ctx, c.path)
		if c.ok {
			assert.NoError(t, err, c.path)
		} else {
			assert.Equal(t, "badarg", kind(err), "%s: %v", c.path, err)
		}
	}
	assert.Empty(t, entries(t, outside), "nothing created outside the roots")
	err := s.Checkpoint(ctx, filepath.Join(outside, "cp"))
	assert.Contains(t, err.Error(), root1, "the message names the roots")
	assert.Contains(t, err.Error(), root2)

	// A checkpoint is an engine layout: a sidecar opens it as it is.
	require.NoError(t, s.Close())
	cp := start(t, filepath.Join(root1, "nightly"), "etf")
	v, err := cp.Get(ctx, []byte("k"))
	require.NoError(t, err)
	assert.Equal(t, "v", string(v))
}

func TestCheckpointRootsFromTheEnvironment(t *testing.T) {
	root := t.TempDir()
	stderr := &syncBuffer{}
	c, err := client.Start(client.StartOptions{Binary: sidecarBinary, Path: t.TempDir(), Stderr: stderr,
		Env: append([]string{"SPIRE_CHECKPOINT_ROOTS=/nonexistent-root:" + root}, small...)})
	require.NoError(t, err)
	defer c.Kill()
	require.NoError(t, c.Checkpoint(ctx, filepath.Join(root, "cp")))
	_, err = os.Stat(filepath.Join(root, "cp", "data", "CURRENT"))
	assert.NoError(t, err)
}

// sstLinks returns the link count of one SST file in dir.
func sstLinks(t *testing.T, dir string) uint64 {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(dir, "*.sst"))
	require.NoError(t, err)
	require.NotEmpty(t, matches)
	var st syscall.Stat_t
	require.NoError(t, syscall.Stat(matches[0], &st))
	return uint64(st.Nlink)
}

func TestCheckpointsHardLinkOnOneFileSystemAndCopyAcross(t *testing.T) {
	other := mountTmpfs(t, 64<<20)
	require.NotEmpty(t, other, "this test needs root to mount a tmpfs (CI runs as root)")
	path := t.TempDir()
	s := start(t, path, "etf", "--checkpoint-root", filepath.Join(path, "checkpoints"), "--checkpoint-root", other)
	for i := 0; i < 100; i++ {
		require.NoError(t, s.Put(ctx, []byte(fmt.Sprintf("k%03d", i)), []byte("v")))
	}
	require.NoError(t, s.Flush(ctx))
	require.NoError(t, s.Checkpoint(ctx, "same"))
	assert.GreaterOrEqual(t, sstLinks(t, filepath.Join(path, "checkpoints", "same", "data")), uint64(2), "hard links")
	require.NoError(t, s.Checkpoint(ctx, filepath.Join(other, "across")))
	assert.Equal(t, uint64(1), sstLinks(t, filepath.Join(other, "across", "data")), "copies on another file system")
}

func TestBackupsThroughTheWire(t *testing.T) {
	path := t.TempDir()
	s := start(t, path, "etf")
	for i := 0; i < 1000; i++ {
		require.NoError(t, s.Put(ctx, []byte(fmt.Sprintf("k%04d", i)), []byte(strings.Repeat("v", 100))))
	}
	first, err := s.Backup(ctx, "backups", client.BackupOpts{Flush: true, ProgressEveryBytes: 64 << 10})
	require.NoError(t, err)
	assert.EqualValues(t, 1, first.ID)
	assert.Positive(t, first.Files)
	require.NoError(t, s.Put(ctx, []byte("late"), []byte("x")))
	second, err := s.Backup(ctx, "backups", client.BackupOpts{Flush: true, RateLimitBytesPerSec: 32 << 20})
	require.NoError(t, err)
	_, err = s.Backup(ctx, "backups", client.BackupOpts{RateLimitBytesPerSec: 10})
	assert.Equal(t, "badarg", kind(err), "a rate that would hold the sidecar for days")
	_, err = s.Backup(ctx, "backups", client.BackupOpts{ProgressEveryBytes: 1})
	assert.Equal(t, "badarg", kind(err), "a progress report per byte")
	assert.EqualValues(t, 2, second.ID)
	infos, err := s.ListBackups(ctx, "backups")
	require.NoError(t, err)
	require.Len(t, infos, 2)
	require.NoError(t, s.VerifyBackup(ctx, "backups", 1))
	var re *client.ReplyError
	require.ErrorAs(t, s.VerifyBackup(ctx, "backups", 99), &re)
	assert.Equal(t, kv.KindNotFound, re.Class(), "%v", re)

	restored := filepath.Join(path, "checkpoints", "restored")
	require.NoError(t, s.RestoreBackup(ctx, "backups", 1, restored))
	assert.Equal(t, "badarg", kind(s.RestoreBackup(ctx, "backups", 0, restored)), "a path that holds a database")
	assert.Equal(t, "badarg", kind(s.RestoreBackup(ctx, "backups", 0, filepath.Join(t.TempDir(), "out"))), "outside the roots")
	err = s.RestoreBackup(ctx, "nothing-here", 0, "elsewhere")
	assert.Equal(t, "no_backups", kind(err), "%v", err)
	assert.Contains(t, err.Error(), "no backups")
	_, err = s.ListBackups(ctx, "nothing-here")
	assert.Equal(t, "no_backups", kind(err), "the reason backup-list prints too")

	require.NoError(t, s.PurgeOldBackups(ctx, "backups", 1))
	infos, err = s.ListBackups(ctx, "backups")
	require.NoError(t, err)
	require.Len(t, infos, 1)
	assert.EqualValues(t, 2, infos[0].ID)
	require.NoError(t, s.DeleteBackup(ctx, "backups", 2))
	assert.Contains(t, s.Stderr.String(), "backup 2 to")

	r := start(t, restored, "etf")
	v, err := r.Get(ctx, []byte("k0999"))
	require.NoError(t, err)
	assert.Len(t, v, 100)
	_, err = r.Get(ctx, []byte("late"))
	assert.ErrorIs(t, err, client.ErrNotFound, "backup 1 was taken before it")
}
