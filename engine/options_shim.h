// The options RocksDB's C API (7.8) cannot set: FIFO compaction's
// allow_compaction, the TTL, and a write buffer manager that charges the
// memtables to the block cache.
#ifndef SPIRE_OPTIONS_SHIM_H
#define SPIRE_OPTIONS_SHIM_H

#include <stdint.h>
#include <rocksdb/c.h>

#ifdef __cplusplus
extern "C" {
#endif

void spire_options_set_fifo(rocksdb_options_t* opts, uint64_t max_table_files_size, int allow_compaction);
void spire_options_set_ttl(rocksdb_options_t* opts, uint64_t seconds);
void spire_options_charge_memtables(rocksdb_options_t* opts, size_t buffer_size, rocksdb_cache_t* cache);

#ifdef __cplusplus
}
#endif

#endif
