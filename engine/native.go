package engine

/*
#cgo LDFLAGS: -lrocksdb
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <rocksdb/c.h>

// Batch entries arrive packed as [kind:u8][cf:u32][klen:u32][vlen:u32][key][value],
// cf an index into cfs. spire_write builds the batch and writes it in one
// cgo crossing instead of one per entry.
static void spire_write(rocksdb_t* db, const rocksdb_writeoptions_t* wo,
                        rocksdb_column_family_handle_t** cfs, const char* buf, size_t len,
                        char** err) {
	rocksdb_writebatch_t* wb = rocksdb_writebatch_create();
	size_t off = 0;
	while (off + 13 <= len) {
		uint8_t kind = (uint8_t)buf[off];
		uint32_t cf, kl, vl;
		memcpy(&cf, buf + off + 1, 4);
		memcpy(&kl, buf + off + 5, 4);
		memcpy(&vl, buf + off + 9, 4);
		const char* k = buf + off + 13;
		const char* v = k + kl;
		switch (kind) {
		case 1: rocksdb_writebatch_put_cf(wb, cfs[cf], k, kl, v, vl); break;
		case 2: rocksdb_writebatch_delete_cf(wb, cfs[cf], k, kl); break;
		case 3: rocksdb_writebatch_delete_range_cf(wb, cfs[cf], k, kl, v, vl); break;
		case 4: rocksdb_writebatch_merge_cf(wb, cfs[cf], k, kl, v, vl); break;
		case 5: rocksdb_writebatch_singledelete_cf(wb, cfs[cf], k, kl); break;
		}
		off += 13 + (size_t)kl + (size_t)vl;
	}
	rocksdb_write(db, wo, wb, err);
	rocksdb_writebatch_destroy(wb);
}

typedef struct {
	const char* data; // the value, or the error message (to be freed)
	size_t len;
	int status;       // 0 not found, 1 found, 2 error
} spire_value;

// spire_multi_get looks n keys up with RocksDB's batched MultiGet (one
// pass over the memtables and the files for all of them). Keys come packed
// back to back, their lengths in lens. Values stay pinned (in the block
// cache or memtable, no copy) until spire_multi_get_free releases the
// returned array.
static rocksdb_pinnableslice_t** spire_multi_get(rocksdb_t* db, const rocksdb_readoptions_t* ro,
                                                 rocksdb_column_family_handle_t* cf, size_t n,
                                                 const char* keybuf, const size_t* lens,
                                                 spire_value* out) {
	const char** keys = malloc(n * sizeof(char*));
	char** errs = calloc(n, sizeof(char*));
	rocksdb_pinnableslice_t** vals = calloc(n, sizeof(rocksdb_pinnableslice_t*));
	size_t off = 0;
	for (size_t i = 0; i < n; i++) {
		keys[i] = keybuf + off;
		off += lens[i];
	}
	rocksdb_batched_multi_get_cf(db, ro, cf, n, keys, lens, vals, errs, 0);
	for (size_t i = 0; i < n; i++) {
		if (errs[i] != NULL) {
			out[i].data = errs[i];
			out[i].len = strlen(errs[i]);
			out[i].status = 2;
		} else if (vals[i] == NULL) {
			out[i].data = NULL;
			out[i].len = 0;
			out[i].status = 0;
		} else {
			out[i].data = rocksdb_pinnableslice_value(vals[i], &out[i].len);
			out[i].status = 1;
		}
	}
	free(keys);
	free(errs);
	return vals;
}

static void spire_multi_get_free(rocksdb_pinnableslice_t** vals, size_t n) {
	for (size_t i = 0; i < n; i++) {
		if (vals[i] != NULL) rocksdb_pinnableslice_destroy(vals[i]);
	}
	free(vals);
}
*/
import "C"

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sync"
	"unsafe"

	"github.com/linxGnu/grocksdb"
)

// grocksdb v1.7.14 (pinned in go.mod) keeps the C handle as the first
// field of DB, ColumnFamilyHandle, ReadOptions and WriteOptions, as it does
// of Iterator; TestNativeLayouts guards the assumption. These let one cgo
// call do what grocksdb does in one call per key or per batch entry.

func nativeDB(db *grocksdb.DB) *C.rocksdb_t { return *(**C.rocksdb_t)(unsafe.Pointer(db)) }

func nativeCF(h *grocksdb.ColumnFamilyHandle) *C.rocksdb_column_family_handle_t {
	return *(**C.rocksdb_column_family_handle_t)(unsafe.Pointer(h))
}

func nativeReadOptions(o *grocksdb.ReadOptions) *C.rocksdb_readoptions_t {
	return *(**C.rocksdb_readoptions_t)(unsafe.Pointer(o))
}

func nativeWriteOptions(o *grocksdb.WriteOptions) *C.rocksdb_writeoptions_t {
	return *(**C.rocksdb_writeoptions_t)(unsafe.Pointer(o))
}

// packBufs recycles the buffers batches and key lists are packed into.
var packBufs = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

const batchEntryHeader = 13

// writeNative applies ops as one batch; e.mu must be held.
func (e *Engine) writeNative(ops []BatchOp, wo *grocksdb.WriteOptions) error {
	bp := packBufs.Get().(*[]byte)
	buf := (*bp)[:0]
	defer func() {
		if cap(buf) <= 4<<20 {
			*bp = buf[:0]
			packBufs.Put(bp)
		}
	}()
	var cfStack [4]*C.rocksdb_column_family_handle_t
	cfs := cfStack[:1]
	cfs[0] = nativeCF(e.defaultCF)
	var names map[string]uint32
	for i, op := range ops {
		if op.Kind < OpPut || op.Kind > OpSingleDelete {
			return fmt.Errorf("%w: batch entry %d has unknown kind %d", ErrInvalidArgument, i, op.Kind)
		}
		idx := uint32(0)
		if op.CF != "" && op.CF != DefaultColumnFamily {
			var ok bool
			if idx, ok = names[op.CF]; !ok {
				h, err := e.cf(op.CF)
				if err != nil {
					return fmt.Errorf("batch entry %d: %w", i, err)
				}
				if names == nil {
					names = make(map[string]uint32, 2)
				}
				idx = uint32(len(cfs))
				names[op.CF] = idx
				cfs = append(cfs, nativeCF(h))
			}
		}
		value := op.Value
		switch op.Kind {
		case OpDelete, OpSingleDelete:
			value = nil
		case OpMerge:
			if !e.hasMerge {
				return fmt.Errorf("%w: batch entry %d: a merge needs a merge operator (merge_operator at open)", ErrInvalidArgument, i+1)
			}
		case OpDeleteRange:
			// RocksDB would take a reversed range into the WAL, fail its
			// memtable insert half-way through the batch and stop every
			// later write: refuse it here, before anything is written.
			if len(value) == 0 {
				return fmt.Errorf("%w: batch entry %d: delete_range needs a non-empty end key", ErrInvalidArgument, i+1)
			}
			if bytes.Compare(op.Key, value) > 0 {
				return fmt.Errorf("%w: batch entry %d: delete_range end %q comes before its start %q", ErrInvalidArgument, i+1, truncated(value), truncated(op.Key))
			}
		}
		var hdr [batchEntryHeader]byte
		hdr[0] = byte(op.Kind)
		binary.LittleEndian.PutUint32(hdr[1:], idx)
		binary.LittleEndian.PutUint32(hdr[5:], uint32(len(op.Key)))
		binary.LittleEndian.PutUint32(hdr[9:], uint32(len(value)))
		buf = append(append(append(buf, hdr[:]...), op.Key...), value...)
	}
	if len(ops) == 0 {
		return nil
	}
	if err := e.guard.check(uint64(len(buf) + len(ops)*(walEntryOverhead-batchEntryHeader))); err != nil {
		return err
	}
	var cerr *C.char
	C.spire_write(nativeDB(e.db), nativeWriteOptions(wo),
		(**C.rocksdb_column_family_handle_t)(unsafe.Pointer(&cfs[0])),
		(*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)), &cerr)
	return e.writeFailed("write_batch", cError(cerr))
}

// truncated shortens a key for an error message.
func truncated(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}

// cError turns a RocksDB error string into an error and frees it.
func cError(cerr *C.char) error {
	if cerr == nil {
		return nil
	}
	defer C.free(unsafe.Pointer(cerr))
	return fmt.Errorf("%s", C.GoString(cerr))
}

// MultiGetFunc looks every key up in one batched RocksDB MultiGet and calls
// fn for each, in order, with its value (nil and found=false when missing).
// A value aliases RocksDB memory and is valid only while fn runs. When
// RocksDB fails any key, the first such error is returned and fn is not
// called.
func (e *Engine) MultiGetFunc(keys [][]byte, o ReadOptions, fn func(i int, value []byte, found bool)) error {
	h, ro, err := e.beginRead(o)
	if err != nil {
		return err
	}
	defer e.mu.RUnlock()
	if len(keys) == 0 {
		return nil
	}

	bp := packBufs.Get().(*[]byte)
	buf := (*bp)[:0]
	lens := make([]C.size_t, len(keys))
	for i, k := range keys {
		buf = append(buf, k...)
		lens[i] = C.size_t(len(k))
	}
	if len(buf) == 0 {
		buf = append(buf, 0) // a valid pointer even when every key is empty
	}
	out := make([]C.spire_value, len(keys))
	vals := C.spire_multi_get(nativeDB(e.db), nativeReadOptions(ro), nativeCF(h), C.size_t(len(keys)),
		(*C.char)(unsafe.Pointer(&buf[0])), &lens[0], &out[0])
	defer C.spire_multi_get_free(vals, C.size_t(len(keys)))
	if cap(buf) <= 4<<20 {
		*bp = buf[:0]
		packBufs.Put(bp)
	}

	var first error
	for i := range out {
		if out[i].status == 2 {
			err := cError((*C.char)(unsafe.Pointer(out[i].data)))
			if first == nil {
				first = classify("multi_get", err)
			}
		}
	}
	if first != nil {
		return first
	}
	for i := range out {
		if out[i].status == 1 {
			fn(i, unsafe.Slice((*byte)(unsafe.Pointer(out[i].data)), int(out[i].len)), true)
		} else {
			fn(i, nil, false)
		}
	}
	return nil
}
