package engine

/*
#cgo CXXFLAGS: -std=c++17 -O2
#cgo LDFLAGS: -lrocksdb -lstdc++
#include "options_shim.h"
*/
import "C"

import (
	"unsafe"

	"github.com/linxGnu/grocksdb"
)

// boundMemtables caps the memtables of all column families together at
// size bytes. With charge, that memory is also reserved in the block
// cache, which evicts blocks to make room: the cache's capacity then
// bounds the memtables and the cached blocks together, as one number.
// Without, RocksDB's db_write_buffer_size bounds the memtables alone, on
// top of the cache.
func boundMemtables(o *grocksdb.Options, size uint64, cache *grocksdb.Cache, charge bool) {
	// Set either way, so that the OPTIONS file shows the bound: RocksDB
	// builds a manager from it only when it is given none.
	o.SetDbWriteBufferSize(size)
	if charge {
		C.spire_options_charge_memtables(nativeOptions(o), C.size_t(size), nativeCache(cache))
	}
}

// TotalWriteBufferSize is the bound on all memtables together:
// DBWriteBufferSize, or when it is 0 what one family may hold, and when
// the memtables are charged to the block cache at most half of it (but
// two memtables), so that flushes start before they crowd out the blocks.
func (c Config) TotalWriteBufferSize() uint64 {
	if c.DBWriteBufferSize > 0 {
		return c.DBWriteBufferSize
	}
	total := c.WriteBufferSize * uint64(c.MaxWriteBufferNumber)
	if c.Tuning.MemtablesInBlockCache {
		total = min(total, max(c.BlockCacheSize/2, 2*c.WriteBufferSize))
	}
	return total
}

// nativeCache reads grocksdb's C handle, its Cache's one field (see
// nativeDB).
func nativeCache(c *grocksdb.Cache) *C.rocksdb_cache_t {
	return *(**C.rocksdb_cache_t)(unsafe.Pointer(c))
}
