package engine

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// The newest SST format_version RocksDB 7.8 reads, and the magic number a
// block-based table ends with.
const (
	maxFormatVersion       = 5
	blockBasedTableMagicLE = 0x88e241b785f4cff7
)

// ErrNewerFormat marks SST files a newer RocksDB wrote in a format this one
// cannot read.
var ErrNewerFormat = fmt.Errorf("engine: SST files in a newer format")

// checkFormatVersions looks at the footer of every SST file in dir and
// names the first whose format_version is newer than this RocksDB reads:
// RocksDB's own refusal ("Unknown Footer version") names neither the file
// nor a way out. nil when every file is readable (or none was found).
func checkFormatVersions(dir string) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.sst"))
	if err != nil {
		return nil
	}
	for _, f := range files {
		v, ok := sstFormatVersion(f)
		if ok && v > maxFormatVersion {
			return fmt.Errorf("%w: %s has format_version %d, and this RocksDB (7.8) reads up to %d. "+
				"It was written by a newer RocksDB (format_version 6 since 8.6, 7 by default since 10.11): "+
				"open the database with that RocksDB and format_version %d (erlang-rocksdb: "+
				"block_based_table_options [{format_version, %d}]), compact it whole (compact_range over "+
				"all keys), then open it here; docs/spiredb.md, \"Databases written by a newer RocksDB\"",
				ErrNewerFormat, filepath.Base(f), v, maxFormatVersion, maxFormatVersion, maxFormatVersion)
		}
	}
	return nil
}

// sstFormatVersion reads the format_version of a block-based table from its
// footer: four bytes before the eight-byte magic number at the end.
func sstFormatVersion(path string) (uint32, bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.Size() < 12 {
		return 0, false
	}
	var tail [12]byte
	if _, err := f.ReadAt(tail[:], st.Size()-12); err != nil {
		return 0, false
	}
	if binary.LittleEndian.Uint64(tail[4:]) != blockBasedTableMagicLE {
		return 0, false
	}
	return binary.LittleEndian.Uint32(tail[:4]), true
}

// isFooterError reports whether err is RocksDB failing to read a table's
// footer, as it does for a format it does not know ("Corrupt or
// unsupported format_version", "Unknown Footer version").
func isFooterError(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "format_version") || strings.Contains(err.Error(), "Footer"))
}
