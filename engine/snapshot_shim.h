// A snapshot's sequence number, which RocksDB's C API (7.8) does not give.
#ifndef SPIRE_SNAPSHOT_SHIM_H
#define SPIRE_SNAPSHOT_SHIM_H

#include <stdint.h>
#include <rocksdb/c.h>

#ifdef __cplusplus
extern "C" {
#endif

uint64_t spire_snapshot_sequence(const rocksdb_snapshot_t* snap);

#ifdef __cplusplus
}
#endif

#endif
