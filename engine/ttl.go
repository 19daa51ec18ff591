package engine

/*
#include <stdlib.h>
#include <rocksdb/c.h>
*/
import "C"

import (
	"unsafe"

	"github.com/linxGnu/grocksdb"
)

// openWithTTL opens a TTL database (RocksDB's DBWithTTL): each value is
// stamped when written and goes at the first compaction after it is ttl
// seconds old; reads never see the stamp. grocksdb 1.7.14's own
// OpenDbColumnFamiliesWithTTL takes its package's C.int, which no other
// package can make, so the C API is called here and its handles wrapped.
func openWithTTL(opts *grocksdb.Options, path string, names []string, cfOpts []*grocksdb.Options, ttl int) (*grocksdb.DB, []*grocksdb.ColumnFamilyHandle, error) {
	n := len(names)
	cPath := C.CString(path)
	defer C.free(unsafe.Pointer(cPath))
	cNames := cArray[*C.char](n)
	defer freeCArray(cNames)
	for i, name := range names {
		cNames[i] = C.CString(name)
	}
	defer freeCStrings(cNames)
	cOpts := cArray[*C.rocksdb_options_t](n)
	defer freeCArray(cOpts)
	for i, o := range cfOpts {
		cOpts[i] = nativeOptions(o)
	}
	cHandles := cArray[*C.rocksdb_column_family_handle_t](n)
	defer freeCArray(cHandles)
	ttls := cArray[C.int](n)
	defer freeCArray(ttls)
	for i := range ttls {
		ttls[i] = C.int(ttl)
	}
	var cErr *C.char
	cdb := C.rocksdb_open_column_families_with_ttl(nativeOptions(opts), cPath, C.int(n), &cNames[0], &cOpts[0],
		&cHandles[0], &ttls[0], &cErr)
	if err := cError(cErr); err != nil {
		return nil, nil, err
	}
	// grocksdb keeps the C handle as the first field of DB and of
	// ColumnFamilyHandle (as nativeDB and nativeCF read them; the layout
	// test guards it); the name and options a DB also keeps are only
	// reported.
	db := new(grocksdb.DB)
	*(**C.rocksdb_t)(unsafe.Pointer(db)) = cdb
	handles := make([]*grocksdb.ColumnFamilyHandle, n)
	for i, h := range cHandles {
		handles[i] = new(grocksdb.ColumnFamilyHandle) // its one field is the C handle
		*(**C.rocksdb_column_family_handle_t)(unsafe.Pointer(handles[i])) = h
	}
	return db, handles, nil
}

var valueTTLSetting = intSetting("SPIRE_ROCKSDB_VALUE_TTL", "0 (no TTL)",
	"open as a TTL database: values this many seconds old go at compaction (erlang-rocksdb's open_with_ttl)",
	0, 1<<31-1, func(c *Config, n int) { c.ValueTTL = n })

var inMemorySetting = boolSetting("SPIRE_ROCKSDB_IN_MEMORY", "false",
	"keep the database in memory only (erlang-rocksdb's memenv): gone when the sidecar stops",
	func(c *Config, b bool) { c.InMemory = b })

func init() { Settings = append(Settings, valueTTLSetting, inMemorySetting) }
