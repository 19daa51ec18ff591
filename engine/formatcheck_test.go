package engine

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A fixture made by hand: a database of this RocksDB whose SST footer is
// then made to claim format_version 6, as RocksDB 8.6 and later write it.
func TestSSTFilesOfANewerFormatGetAClearError(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	e, err := Open(dir, smallConfig())
	require.NoError(t, err)
	require.NoError(t, e.Put([]byte("k"), []byte("v"), WriteOptions{}))
	require.NoError(t, e.Flush(""))
	require.NoError(t, e.Close())

	ssts, err := filepath.Glob(filepath.Join(dir, "*.sst"))
	require.NoError(t, err)
	require.NotEmpty(t, ssts)
	v, ok := sstFormatVersion(ssts[0])
	require.True(t, ok, "a block-based table")
	assert.EqualValues(t, 5, v, "this RocksDB writes format_version 5")

	f, err := os.OpenFile(ssts[0], os.O_RDWR, 0)
	require.NoError(t, err)
	st, err := f.Stat()
	require.NoError(t, err)
	var six [4]byte
	binary.LittleEndian.PutUint32(six[:], 6)
	_, err = f.WriteAt(six[:], st.Size()-12)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	_, err = Open(dir, smallConfig())
	require.ErrorIs(t, err, ErrNewerFormat)
	assert.Contains(t, err.Error(), "format_version 6")
	assert.Contains(t, err.Error(), filepath.Base(ssts[0]))
}
