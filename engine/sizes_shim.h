// Size estimates RocksDB's C API (7.8) cannot give: with the memtables
// counted or not, and the memtables' own count and size of a range.
#ifndef SPIRE_SIZES_SHIM_H
#define SPIRE_SIZES_SHIM_H

#include <stddef.h>
#include <stdint.h>
#include <rocksdb/c.h>

#ifdef __cplusplus
extern "C" {
#endif

char* spire_approximate_sizes(rocksdb_t* db, rocksdb_column_family_handle_t* cf, int n, const char* const* starts,
                              const size_t* start_lens, const char* const* limits, const size_t* limit_lens,
                              int include_memtables, int include_files, uint64_t* sizes);
void spire_approximate_memtable_stats(rocksdb_t* db, rocksdb_column_family_handle_t* cf, const char* start,
                                      size_t start_len, const char* limit, size_t limit_len, uint64_t* count,
                                      uint64_t* size);

#ifdef __cplusplus
}
#endif

#endif
