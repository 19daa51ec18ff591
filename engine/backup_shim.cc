#include "backup_shim.h"

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/utilities/backup_engine.h>

using rocksdb::BackupEngine;
using rocksdb::BackupEngineOptions;
using rocksdb::BackupInfo;
using rocksdb::Env;

// The C API's rocksdb_t holds the DB* as its one member (c.cc).
struct spire_rocksdb_layout {
	rocksdb::DB* rep;
};

static char* error_of(const rocksdb::Status& s) {
	if (s.ok()) return nullptr;
	return strdup(s.ToString().c_str());
}

static rocksdb::Status open_engine(const char* dir, uint64_t backup_rate, uint64_t restore_rate,
                                   uint64_t interval, std::unique_ptr<BackupEngine>* out) {
	BackupEngineOptions opts(dir);
	opts.backup_rate_limit = backup_rate;
	opts.restore_rate_limit = restore_rate;
	if (interval > 0) opts.callback_trigger_interval_size = interval;
	BackupEngine* be = nullptr;
	rocksdb::Status s = BackupEngine::Open(opts, Env::Default(), &be);
	out->reset(be);
	return s;
}

static void fill(const BackupInfo& b, spire_backup_info* out) {
	out->id = b.backup_id;
	out->timestamp = b.timestamp;
	out->size = b.size;
	out->files = b.number_files;
}

extern "C" char* spire_backup_create(rocksdb_t* db, const char* dir, int flush, uint64_t rate_limit,
                                     uint64_t interval, uint64_t* progress, spire_backup_info* out) {
	std::unique_ptr<BackupEngine> be;
	rocksdb::Status s = open_engine(dir, rate_limit, 0, interval, &be);
	if (!s.ok()) return error_of(s);
	rocksdb::CreateBackupOptions co;
	co.flush_before_backup = flush != 0;
	co.progress_callback = [progress]() { __atomic_fetch_add(progress, 1, __ATOMIC_RELAXED); };
	rocksdb::BackupID id = 0;
	s = be->CreateNewBackup(co, reinterpret_cast<spire_rocksdb_layout*>(db)->rep, &id);
	if (!s.ok()) return error_of(s);
	BackupInfo info;
	s = be->GetBackupInfo(id, &info);
	if (!s.ok()) return error_of(s);
	fill(info, out);
	return nullptr;
}

extern "C" char* spire_backup_list(const char* dir, spire_backup_info** out, int* n) {
	std::unique_ptr<BackupEngine> be;
	rocksdb::Status s = open_engine(dir, 0, 0, 0, &be);
	if (!s.ok()) return error_of(s);
	std::vector<BackupInfo> infos;
	be->GetBackupInfo(&infos);
	*n = static_cast<int>(infos.size());
	*out = static_cast<spire_backup_info*>(calloc(infos.size() + 1, sizeof(spire_backup_info)));
	for (size_t i = 0; i < infos.size(); i++) fill(infos[i], &(*out)[i]);
	return nullptr;
}

extern "C" char* spire_backup_verify(const char* dir, uint32_t id) {
	std::unique_ptr<BackupEngine> be;
	rocksdb::Status s = open_engine(dir, 0, 0, 0, &be);
	if (!s.ok()) return error_of(s);
	return error_of(be->VerifyBackup(id, true));
}

extern "C" char* spire_backup_delete(const char* dir, uint32_t id) {
	std::unique_ptr<BackupEngine> be;
	rocksdb::Status s = open_engine(dir, 0, 0, 0, &be);
	if (!s.ok()) return error_of(s);
	return error_of(be->DeleteBackup(id));
}

extern "C" char* spire_backup_purge(const char* dir, uint32_t keep) {
	std::unique_ptr<BackupEngine> be;
	rocksdb::Status s = open_engine(dir, 0, 0, 0, &be);
	if (!s.ok()) return error_of(s);
	return error_of(be->PurgeOldBackups(keep));
}

extern "C" char* spire_backup_restore(const char* dir, uint32_t id, const char* db_dir, uint64_t rate_limit) {
	std::unique_ptr<BackupEngine> be;
	rocksdb::Status s = open_engine(dir, 0, rate_limit, 0, &be);
	if (!s.ok()) return error_of(s);
	rocksdb::RestoreOptions ro;
	if (id == 0) return error_of(be->RestoreDBFromLatestBackup(ro, db_dir, db_dir));
	return error_of(be->RestoreDBFromBackup(ro, id, db_dir, db_dir));
}
