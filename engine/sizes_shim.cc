#include "sizes_shim.h"

#include <cstdlib>
#include <cstring>
#include <vector>

#include <rocksdb/db.h>

// The C API's handles hold the C++ object as their one member (c.cc).
struct spire_db_layout {
	rocksdb::DB* rep;
};
struct spire_cf_layout {
	rocksdb::ColumnFamilyHandle* rep;
};

static rocksdb::DB* db_of(rocksdb_t* db) { return reinterpret_cast<spire_db_layout*>(db)->rep; }
static rocksdb::ColumnFamilyHandle* cf_of(rocksdb_column_family_handle_t* cf) {
	return reinterpret_cast<spire_cf_layout*>(cf)->rep;
}

extern "C" char* spire_approximate_sizes(rocksdb_t* db, rocksdb_column_family_handle_t* cf, int n,
                                         const char* const* starts, const size_t* start_lens,
                                         const char* const* limits, const size_t* limit_lens,
                                         int include_memtables, int include_files, uint64_t* sizes) {
	std::vector<rocksdb::Range> ranges;
	ranges.reserve(n);
	for (int i = 0; i < n; i++) {
		ranges.emplace_back(rocksdb::Slice(starts[i], start_lens[i]), rocksdb::Slice(limits[i], limit_lens[i]));
	}
	rocksdb::SizeApproximationOptions opts;
	opts.include_memtables = include_memtables != 0;
	opts.include_files = include_files != 0;
	rocksdb::Status s = db_of(db)->GetApproximateSizes(opts, cf_of(cf), ranges.data(), n, sizes);
	return s.ok() ? nullptr : strdup(s.ToString().c_str());
}

extern "C" void spire_approximate_memtable_stats(rocksdb_t* db, rocksdb_column_family_handle_t* cf,
                                                 const char* start, size_t start_len, const char* limit,
                                                 size_t limit_len, uint64_t* count, uint64_t* size) {
	rocksdb::Range range(rocksdb::Slice(start, start_len), rocksdb::Slice(limit, limit_len));
	db_of(db)->GetApproximateMemTableStats(cf_of(cf), range, count, size);
}
