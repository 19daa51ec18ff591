package test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mountTmpfs mounts a tmpfs of size bytes on a temp dir, or returns "" when
// this machine does not permit it (not root, no CAP_SYS_ADMIN).
func mountTmpfs(t *testing.T, size int) string {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d", size)); err != nil {
		t.Logf("cannot mount a tmpfs here (%v): checking refusal only", err)
		return ""
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

func waitGuard() { time.Sleep(250 * time.Millisecond) }

func TestFullDiskRefusesWritesKeepsReadsAndRecovers(t *testing.T) {
	const reserve = 16 << 20
	fs := mountTmpfs(t, 64<<20)
	path := fs
	if path == "" {
		path = t.TempDir()
	}
	var st syscall.Statfs_t
	require.NoError(t, syscall.Statfs(filepath.Dir(path+"/"), &st))
	min := reserve
	if fs == "" { // the real disk: a reserve larger than its free space
		min = int(st.Bavail*uint64(st.Bsize)) + 1<<30
	}
	s := start(t, path, "etf", "--min-free-disk-bytes", fmt.Sprint(min), "--write-buffer-size", "1048576")
	if fs == "" {
		waitGuard()
		err := s.Put(ctx, []byte("k"), []byte("v"))
		assert.Equal(t, "rocksdb", kind(err))
		assert.Contains(t, err.Error(), "No space left on device")
		require.NoError(t, s.Ping(ctx))
		return
	}

	for i := 0; i < 100; i++ {
		require.NoError(t, s.Put(ctx, []byte(fmt.Sprintf("k%03d", i)), make([]byte, 1000)))
	}
	// Fill the file system to just under the reserve.
	require.NoError(t, syscall.Statfs(fs, &st))
	ballast := filepath.Join(fs, "ballast")
	fill := int64(st.Bavail*uint64(st.Bsize)) - reserve/2
	require.NoError(t, exec.Command("fallocate", "-l", fmt.Sprint(fill), ballast).Run())
	waitGuard()

	err := s.Put(ctx, []byte("more"), []byte("data"))
	require.Error(t, err)
	assert.Equal(t, "rocksdb", kind(err), err.Error())
	assert.Contains(t, err.Error(), "No space left on device")
	assert.Equal(t, "rocksdb", kind(s.Flush(ctx)))
	v, err := s.Get(ctx, []byte("k042"))
	require.NoError(t, err, "reads keep working")
	assert.Len(t, v, 1000)
	require.NoError(t, s.Ping(ctx), "the sidecar stays up")

	require.NoError(t, os.Remove(ballast))
	waitGuard()
	require.NoError(t, s.Put(ctx, []byte("more"), []byte("data")), "writes resume once space returns")
	require.NoError(t, s.Flush(ctx))
	v, err = s.Get(ctx, []byte("more"))
	require.NoError(t, err)
	assert.Equal(t, "data", string(v))
}

func TestRemovedDataDirRefusesWritesAndKeepsServing(t *testing.T) {
	s := start(t, "", "etf")
	require.NoError(t, s.Put(ctx, []byte("k"), []byte("v")))
	require.NoError(t, os.RemoveAll(filepath.Join(s.Path, "data")))
	waitGuard()
	err := s.Put(ctx, []byte("k2"), []byte("v"))
	assert.Equal(t, "rocksdb", kind(err))
	assert.Contains(t, err.Error(), "removed")
	v, err := s.Get(ctx, []byte("k"))
	require.NoError(t, err, "reads are served from the files RocksDB still holds open")
	assert.Equal(t, "v", string(v))
	require.NoError(t, s.Ping(ctx))
}

func TestReadOnlyDataDirRefusesWritesAndRecovers(t *testing.T) {
	fs := mountTmpfs(t, 64<<20)
	if fs == "" {
		// Without mount rights, a read-only data dir can only be shown at open.
		t.Log("no tmpfs: covered by TestOpenFailuresAreReported only")
		return
	}
	s := start(t, fs, "etf", "--min-free-disk-bytes", "1048576")
	require.NoError(t, s.Put(ctx, []byte("k"), []byte("v")))
	// A read-only bind mount over the path: files RocksDB already holds
	// stay writable, anything opened through the path is not (a plain
	// read-only remount is refused while files are open for writing).
	data := filepath.Join(fs, "data")
	require.NoError(t, syscall.Mount(data, data, "", syscall.MS_BIND, ""))
	require.NoError(t, syscall.Mount("", data, "", syscall.MS_REMOUNT|syscall.MS_BIND|syscall.MS_RDONLY, ""))
	waitGuard()
	err := s.Put(ctx, []byte("k2"), []byte("v"))
	assert.Equal(t, "rocksdb", kind(err))
	assert.Contains(t, err.Error(), "Read-only file system")
	v, err := s.Get(ctx, []byte("k"))
	require.NoError(t, err, "reads keep working")
	assert.Equal(t, "v", string(v))

	require.NoError(t, syscall.Unmount(data, syscall.MNT_DETACH))
	waitGuard()
	require.NoError(t, s.Put(ctx, []byte("k2"), []byte("v")), "writes resume")
}
