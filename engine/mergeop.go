package engine

/*
#include <stdint.h>
#include <stdlib.h>
#include <rocksdb/c.h>

extern char* spireMergeFull(uintptr_t state, char* key, size_t klen, char* existing, size_t elen,
                            char** ops, size_t* lens, int n, unsigned char* ok, size_t* outlen);
extern void spireMergeForget(uintptr_t state);
extern char* spireMergeName(uintptr_t state);

static char* spire_merge_full(void* state, const char* key, size_t klen, const char* existing, size_t elen,
                              const char* const* ops, const size_t* lens, int n, unsigned char* ok, size_t* outlen) {
	return spireMergeFull((uintptr_t)state, (char*)key, klen, (char*)existing, elen, (char**)ops, (size_t*)lens, n, ok, outlen);
}

// No partial merges: RocksDB then keeps the operands until a full merge.
static char* spire_merge_partial(void* state, const char* key, size_t klen, const char* const* ops,
                                 const size_t* lens, int n, unsigned char* ok, size_t* outlen) {
	(void)state; (void)key; (void)klen; (void)ops; (void)lens; (void)n;
	*ok = 0;
	*outlen = 0;
	return NULL;
}

static void spire_merge_free(void* state, const char* value, size_t len) { (void)state; (void)len; free((void*)value); }
static void spire_merge_destroy(void* state) { spireMergeForget((uintptr_t)state); }
static const char* spire_merge_name(void* state) { return spireMergeName((uintptr_t)state); }

static void spire_set_merge_operator(rocksdb_options_t* opts, uintptr_t state) {
	rocksdb_options_set_merge_operator(opts, rocksdb_mergeoperator_create((void*)state, spire_merge_destroy,
		spire_merge_full, spire_merge_partial, spire_merge_free, spire_merge_name));
}
*/
import "C"

import (
	"sync"
	"unsafe"

	"github.com/linxGnu/grocksdb"

	"github.com/spiredb/spire-port/engine/merge"
)

// fullMerger is what the operators of package merge implement.
type fullMerger interface {
	FullMerge(key, existing []byte, operands [][]byte) ([]byte, bool)
	Name() string
}

// mergeOperator is the operator Tuning names, or nil for none.
func mergeOperator(t Tuning) fullMerger {
	switch t.MergeOperator {
	case "erlang":
		return merge.Erlang{}
	case "counter":
		return merge.Counter{}
	case "bitset":
		return merge.Bitset{Bits: int(t.MergeBitsetBits)}
	}
	return nil
}

// The operators RocksDB holds, by the integer it passes back to the
// callbacks (a Go pointer may not cross into C and stay there). RocksDB
// owns each through its options' shared_ptr and says when it lets go
// (spireMergeForget). grocksdb's own SetMergeOperator is not used: its
// Options.Destroy frees the operator a second time.
var mergeOps = struct {
	sync.Mutex
	next uintptr
	m    map[uintptr]mergeEntry
}{m: make(map[uintptr]mergeEntry)}

type mergeEntry struct {
	op   fullMerger
	name *C.char
}

// setMergeOperator makes op the merge operator of opts.
func setMergeOperator(opts *grocksdb.Options, op fullMerger) {
	mergeOps.Lock()
	mergeOps.next++
	state := mergeOps.next
	mergeOps.m[state] = mergeEntry{op: op, name: C.CString(op.Name())}
	mergeOps.Unlock()
	C.spire_set_merge_operator(nativeOptions(opts), C.uintptr_t(state))
}

func mergeEntryOf(state C.uintptr_t) (mergeEntry, bool) {
	mergeOps.Lock()
	defer mergeOps.Unlock()
	e, ok := mergeOps.m[uintptr(state)]
	return e, ok
}

func nativeOptions(o *grocksdb.Options) *C.rocksdb_options_t {
	return *(**C.rocksdb_options_t)(unsafe.Pointer(o))
}

//export spireMergeFull
func spireMergeFull(state C.uintptr_t, key *C.char, klen C.size_t, existing *C.char, elen C.size_t,
	ops **C.char, lens *C.size_t, n C.int, ok *C.uchar, outlen *C.size_t) *C.char {
	*ok, *outlen = 0, 0
	e, found := mergeEntryOf(state)
	if !found {
		return nil
	}
	var old []byte // nil: the key had no value
	if existing != nil {
		old = C.GoBytes(unsafe.Pointer(existing), C.int(elen))
	}
	ptrs := unsafe.Slice(ops, int(n))
	sizes := unsafe.Slice(lens, int(n))
	operands := make([][]byte, int(n))
	for i := range operands {
		operands[i] = C.GoBytes(unsafe.Pointer(ptrs[i]), C.int(sizes[i]))
	}
	out, merged := e.op.FullMerge(C.GoBytes(unsafe.Pointer(key), C.int(klen)), old, operands)
	if !merged {
		return nil
	}
	*ok, *outlen = 1, C.size_t(len(out))
	if len(out) == 0 {
		return (*C.char)(C.malloc(1)) // RocksDB frees what it is given
	}
	return (*C.char)(C.CBytes(out))
}

//export spireMergeForget
func spireMergeForget(state C.uintptr_t) {
	mergeOps.Lock()
	e, ok := mergeOps.m[uintptr(state)]
	delete(mergeOps.m, uintptr(state))
	mergeOps.Unlock()
	if ok {
		C.free(unsafe.Pointer(e.name))
	}
}

//export spireMergeName
func spireMergeName(state C.uintptr_t) *C.char {
	if e, ok := mergeEntryOf(state); ok {
		return e.name
	}
	return nil
}
