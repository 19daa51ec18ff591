// The options RocksDB's C API (7.8) cannot set: FIFO compaction's
// allow_compaction and the TTL.
#ifndef SPIRE_OPTIONS_SHIM_H
#define SPIRE_OPTIONS_SHIM_H

#include <stdint.h>
#include <rocksdb/c.h>

#ifdef __cplusplus
extern "C" {
#endif

void spire_options_set_fifo(rocksdb_options_t* opts, uint64_t max_table_files_size, int allow_compaction);
void spire_options_set_ttl(rocksdb_options_t* opts, uint64_t seconds);

#ifdef __cplusplus
}
#endif

#endif
