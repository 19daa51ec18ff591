package engine

/*
#cgo CXXFLAGS: -std=c++17 -O2
#cgo LDFLAGS: -lrocksdb -lstdc++
#include <stdlib.h>
#include "sizes_shim.h"
*/
import "C"

import (
	"bytes"
	"fmt"
	"unsafe"
)

// checkRanges refuses a range whose limit comes before its start: RocksDB
// asserts against it (Debian's build aborts).
func checkRanges(ranges []KeyRange) error {
	for i, r := range ranges {
		if bytes.Compare(r.Start, r.Limit) > 0 {
			return fmt.Errorf("%w: range %d: limit %q comes before start %q", ErrInvalidArgument, i+1, truncated(r.Limit), truncated(r.Start))
		}
	}
	return nil
}

// ApproximateSizes estimates the bytes each range of a column family takes
// in SST files (files), in the memtables (memtables), or both.
func (e *Engine) ApproximateSizes(cf string, ranges []KeyRange, memtables, files bool) ([]uint64, error) {
	if !memtables && !files {
		return nil, fmt.Errorf("%w: approximate sizes of neither files nor memtables", ErrInvalidArgument)
	}
	if err := checkRanges(ranges); err != nil {
		return nil, err
	}
	sizes := make([]uint64, len(ranges))
	if len(ranges) == 0 {
		return sizes, nil
	}
	h, _, err := e.beginRead(ReadOptions{CF: cf})
	if err != nil {
		return nil, err
	}
	defer e.mu.RUnlock()
	n := len(ranges)
	ptrs, lens := cArray[*C.char](2*n), cArray[C.size_t](2*n)
	defer freeCArray(ptrs)
	defer freeCArray(lens)
	for i, r := range ranges {
		ptrs[i], lens[i] = (*C.char)(C.CBytes(r.Start)), C.size_t(len(r.Start))
		ptrs[n+i], lens[n+i] = (*C.char)(C.CBytes(r.Limit)), C.size_t(len(r.Limit))
	}
	defer freeCStrings(ptrs)
	cerr := C.spire_approximate_sizes(nativeDB(e.db), nativeCF(h), C.int(n), &ptrs[0], &lens[0], &ptrs[n], &lens[n],
		C.int(boolInt(memtables)), C.int(boolInt(files)), (*C.uint64_t)(unsafe.Pointer(&sizes[0])))
	if err := cError(cerr); err != nil {
		return nil, classify("approximate sizes", err)
	}
	return sizes, nil
}

// ApproximateMemTableStats estimates the entries and bytes of a range of a
// column family in its memtables.
func (e *Engine) ApproximateMemTableStats(cf string, r KeyRange) (count, size uint64, err error) {
	if err := checkRanges([]KeyRange{r}); err != nil {
		return 0, 0, err
	}
	h, _, err := e.beginRead(ReadOptions{CF: cf})
	if err != nil {
		return 0, 0, err
	}
	defer e.mu.RUnlock()
	start, limit := C.CBytes(r.Start), C.CBytes(r.Limit)
	defer C.free(start)
	defer C.free(limit)
	var c, s C.uint64_t
	C.spire_approximate_memtable_stats(nativeDB(e.db), nativeCF(h), (*C.char)(start), C.size_t(len(r.Start)),
		(*C.char)(limit), C.size_t(len(r.Limit)), &c, &s)
	return uint64(c), uint64(s), nil
}
