#include "options_shim.h"

#include <rocksdb/options.h>

// The C API's rocksdb_options_t holds the Options as its one member (c.cc).
struct spire_options_layout {
	rocksdb::Options rep;
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
