#include "options_shim.h"

#include <rocksdb/cache.h>
#include <rocksdb/options.h>
#include <rocksdb/write_buffer_manager.h>

// The C API's rocksdb_options_t holds the Options as its one member (c.cc).
struct spire_options_layout {
	rocksdb::Options rep;
};

// rocksdb_cache_t holds the shared Cache as its one member (c.cc).
struct spire_cache_layout {
	std::shared_ptr<rocksdb::Cache> rep;
};

static rocksdb::Options* rep(rocksdb_options_t* opts) {
	return &reinterpret_cast<spire_options_layout*>(opts)->rep;
}

extern "C" void spire_options_set_fifo(rocksdb_options_t* opts, uint64_t max_table_files_size, int allow_compaction) {
	rocksdb::CompactionOptionsFIFO fifo;
	fifo.max_table_files_size = max_table_files_size;
	fifo.allow_compaction = allow_compaction != 0;
	rep(opts)->compaction_options_fifo = fifo;
}

extern "C" void spire_options_set_ttl(rocksdb_options_t* opts, uint64_t seconds) { rep(opts)->ttl = seconds; }

// Without allow_stall: in RocksDB 7.8 a write stalled by the manager can
// wait forever, as the cache reservations it counts shrink only lazily
// after a flush (seen here: a write blocked with no flush running).
extern "C" void spire_options_charge_memtables(rocksdb_options_t* opts, size_t buffer_size, rocksdb_cache_t* cache) {
	rep(opts)->write_buffer_manager = std::make_shared<rocksdb::WriteBufferManager>(
	    buffer_size, reinterpret_cast<spire_cache_layout*>(cache)->rep, false);
}
