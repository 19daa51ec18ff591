package engine

/*
#include <stdlib.h>
*/
import "C"

import "unsafe"

// cArray allocates n Ts in C memory, for the arrays of pointers the C API
// takes: cgo forbids Go pointers inside the memory it passes. The caller
// frees it with freeCArray.
func cArray[T any](n int) []T {
	var zero T
	return unsafe.Slice((*T)(C.malloc(C.size_t(n)*C.size_t(unsafe.Sizeof(zero)))), n)
}

func freeCArray[T any](a []T) { C.free(unsafe.Pointer(unsafe.SliceData(a))) }

// freeCStrings frees each C string or C copy of bytes in ps.
func freeCStrings(ps []*C.char) {
	for _, p := range ps {
		C.free(unsafe.Pointer(p))
	}
}
