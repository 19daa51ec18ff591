package engine

/*
#include <malloc.h>
*/
import "C"

// TrimMemory asks glibc's malloc to return freed memory to the OS.
// Debian's librocksdb uses glibc malloc, which keeps the arenas of flushed
// memtables and finished iterators: without a trim the sidecar's RSS stays
// at its high-water mark long after the memory was freed.
func TrimMemory() { C.malloc_trim(0) }
