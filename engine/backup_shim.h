// The parts of RocksDB's BackupEngine that its C API (7.8) lacks: verifying
// with checksums, deleting one backup, progress, and the new backup's id.
// Each call opens the BackupEngine on dir and closes it again. Errors come
// back as malloc'd strings (NULL when there is none).
#ifndef SPIRE_BACKUP_SHIM_H
#define SPIRE_BACKUP_SHIM_H

#include <stdint.h>
#include <rocksdb/c.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
	uint32_t id;
	int64_t timestamp;
	uint64_t size;
	uint32_t files;
} spire_backup_info;

// spire_backup_create adds a backup of db to dir. *progress grows by one
// every `interval` bytes copied (read it atomically while the call runs).
char* spire_backup_create(rocksdb_t* db, const char* dir, int flush, uint64_t rate_limit,
                          uint64_t interval, uint64_t* progress, spire_backup_info* out);
// spire_backup_list fills *out (malloc'd, free with free) with *n backups, oldest first.
char* spire_backup_list(const char* dir, spire_backup_info** out, int* n);
char* spire_backup_verify(const char* dir, uint32_t id);
char* spire_backup_delete(const char* dir, uint32_t id);
char* spire_backup_purge(const char* dir, uint32_t keep);
// spire_backup_restore writes backup id (0: the latest) as a database in db_dir.
char* spire_backup_restore(const char* dir, uint32_t id, const char* db_dir, uint64_t rate_limit);

#ifdef __cplusplus
}
#endif

#endif
