package engine

/*
#cgo CXXFLAGS: -std=c++17 -O2
#cgo LDFLAGS: -lrocksdb -lstdc++
#include "options_shim.h"
*/
import "C"

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/linxGnu/grocksdb"
)

// CompactionTuning holds the compaction and compression options
// erlang-rocksdb's open/2 takes beyond the seed's knobs: the compaction
// style (FIFO with its size bound), the TTL, and RocksDB's
// CompressionOptions for the other levels and the last one.
type CompactionTuning struct {
	Style                 string // level | universal | fifo
	FIFOMaxTableFilesSize uint64
	FIFOAllowCompaction   bool
	TTL                   uint64 // seconds; 0: RocksDB's default
	// Compression and Bottommost are window_bits, level, strategy and
	// max_dict_bytes, as RocksDB's CompressionOptions.
	Compression, Bottommost [4]int
	BottommostEnabled       bool
}

func defaultCompactionTuning() CompactionTuning {
	def := [4]int{-14, 32767, 0, 0} // RocksDB's defaults
	return CompactionTuning{Style: "level", FIFOMaxTableFilesSize: gib, Compression: def, Bottommost: def}
}

var compactionStyles = map[string]grocksdb.CompactionStyle{
	"level": grocksdb.LevelCompactionStyle, "universal": grocksdb.UniversalCompactionStyle, "fifo": grocksdb.FIFOCompactionStyle,
}

// apply sets the options on o.
func (t CompactionTuning) apply(o *grocksdb.Options) {
	o.SetCompactionStyle(compactionStyles[t.Style])
	if t.Style == "fifo" {
		C.spire_options_set_fifo((*C.rocksdb_options_t)(nativeOptions(o)), C.uint64_t(t.FIFOMaxTableFilesSize),
			C.int(boolInt(t.FIFOAllowCompaction)))
	}
	if t.TTL > 0 {
		C.spire_options_set_ttl((*C.rocksdb_options_t)(nativeOptions(o)), C.uint64_t(t.TTL))
	}
	c, b := t.Compression, t.Bottommost
	o.SetCompressionOptions(grocksdb.CompressionOptions{WindowBits: c[0], Level: c[1], Strategy: c[2], MaxDictBytes: c[3]})
	o.SetBottommostCompressionOptions(grocksdb.CompressionOptions{WindowBits: b[0], Level: b[1], Strategy: b[2], MaxDictBytes: b[3]},
		t.BottommostEnabled)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func intSetting(env, def, help string, lo, hi int, set func(*Config, int)) Setting {
	return Setting{Env: env, Flag: flagName(env), Default: def, Range: fmt.Sprintf("%d .. %d", lo, hi), Help: help,
		Kind: "int", Min: int64(lo), Max: int64(hi),
		apply: func(c *Config, v string) error {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < lo || n > hi {
				return fmt.Errorf("want a whole number from %d to %d", lo, hi)
			}
			set(c, n)
			return nil
		}}
}

// compressionOptSettings are the four CompressionOptions settings of one
// kind ("" for the other levels, "BOTTOMMOST_" for the last).
func compressionOptSettings(kind string, opts func(*Config) *[4]int) []Setting {
	names := []struct {
		name, def, help string
		lo, hi          int
	}{
		{"WINDOW_BITS", "-14", "zlib's window bits", -15, 1 << 20},
		{"LEVEL", "32767 (the library's default)", "the compression level", -1 << 20, 32767},
		{"STRATEGY", "0", "zlib's strategy", 0, 4},
		{"MAX_DICT_BYTES", "0 (no dictionary)", "the size of a compression dictionary", 0, 1 << 30},
	}
	out := make([]Setting, len(names))
	for i, n := range names {
		i := i
		out[i] = intSetting("SPIRE_ROCKSDB_"+kind+"COMPRESSION_"+n.name, n.def, strings.ToLower(kind)+"compression: "+n.help,
			n.lo, n.hi, func(c *Config, v int) { opts(c)[i] = v })
	}
	return out
}

var compactionSettings = append(append([]Setting{
	oneOfSetting("SPIRE_ROCKSDB_COMPACTION_STYLE", "level", "how SST files are compacted (erlang-rocksdb's compaction_style)",
		[]string{"level", "universal", "fifo"}, func(c *Config, v string) { c.Compaction.Style = v }),
	uintSetting("SPIRE_ROCKSDB_FIFO_MAX_TABLE_FILES_SIZE", "1073741824 (1 GiB)", "1 .. 1099511627776",
		"with fifo: the SST bytes kept before the oldest file goes", 1, tib, func(c *Config, n uint64) { c.Compaction.FIFOMaxTableFilesSize = n }),
	boolSetting("SPIRE_ROCKSDB_FIFO_ALLOW_COMPACTION", "false",
		"with fifo: compact small files together", func(c *Config, b bool) { c.Compaction.FIFOAllowCompaction = b }),
	uintSetting("SPIRE_ROCKSDB_TTL", "0 (RocksDB's default)", "0 .. 3153600000 seconds",
		"files older than this are compacted (with fifo: deleted)", 0, 3153600000, func(c *Config, n uint64) { c.Compaction.TTL = n }),
	boolSetting("SPIRE_ROCKSDB_BOTTOMMOST_COMPRESSION_ENABLED", "false",
		"the last level's compression options are used", func(c *Config, b bool) { c.Compaction.BottommostEnabled = b }),
}, compressionOptSettings("", func(c *Config) *[4]int { return &c.Compaction.Compression })...),
	compressionOptSettings("BOTTOMMOST_", func(c *Config) *[4]int { return &c.Compaction.Bottommost })...)

func init() { Settings = append(Settings, compactionSettings...) }
