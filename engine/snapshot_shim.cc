#include "snapshot_shim.h"

#include <rocksdb/db.h>

// The C API's snapshot holds the C++ snapshot as its one member (c.cc).
struct spire_snapshot_layout {
	const rocksdb::Snapshot* rep;
};

extern "C" uint64_t spire_snapshot_sequence(const rocksdb_snapshot_t* snap) {
	return reinterpret_cast<const spire_snapshot_layout*>(snap)->rep->GetSequenceNumber();
}
