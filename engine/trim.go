package engine

/*
#include <malloc.h>
*/
import "C"

import "errors"

// TrimMemory asks glibc's malloc to return freed memory to the OS.
// Debian's librocksdb uses glibc malloc, which keeps the arenas of flushed
// memtables and finished iterators: without a trim the sidecar's RSS stays
// at its high-water mark long after the memory was freed.
func TrimMemory() { C.malloc_trim(0) }

// KeepFreedMemory tunes glibc's malloc, for the whole process, to keep
// what RocksDB frees for reuse instead of handing it back to the OS at
// once: allocations up to 32 MiB (memtable arena blocks, write batches,
// scan buffers) come from the heap rather than from their own mmap, a free
// never shrinks the heap, and there is one arena, so the next memtable
// reuses the pages of the last whichever thread allocates it. Memory that
// goes back to the OS must be faulted in again page by page when the next
// memtable fills, and a page fault is expensive on a virtual machine: a
// steady stream of 1000-row write batches took ~64k faults per 5 s with
// glibc's defaults and a trim every 5 s, ~16k with these settings and
// trims only at rest (~22k with several arenas; the rest are the heap
// growing to its high-water mark). glibc's per-thread caches still serve
// small allocations without the arena's lock. The caller is then
// responsible for TrimMemory at rest:
// malloc_trim gives back the top of the main arena, which it cannot do for
// the others.
//
// It is for programs that own the process (cmd/spire-port); a library
// embedding the engine leaves malloc to its host.
func KeepFreedMemory() error {
	if C.mallopt(C.M_ARENA_MAX, 1) == 0 ||
		C.mallopt(C.M_MMAP_THRESHOLD, 32<<20) == 0 ||
		C.mallopt(C.M_TRIM_THRESHOLD, C.int(1<<30)) == 0 {
		return errors.New("mallopt refused the thresholds")
	}
	return nil
}
