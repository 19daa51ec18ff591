package engine

/*
#cgo LDFLAGS: -lrocksdb
#include <stdint.h>
#include <string.h>
#include <rocksdb/c.h>

// spire_iter_copy copies up to max_rows rows from it into buf as
// [klen:u32][vlen:u32][key][value], advancing the iterator past each row it
// copies (backwards when reverse is set), and stops early when the next row
// does not fit in cap bytes. It
// returns the rows copied; *used is the bytes written, and *need the size
// of the row that did not fit (0 when none was refused). One call replaces
// four cgo crossings and two Go allocations per row.
static int spire_iter_copy(rocksdb_iterator_t* it, char* buf, size_t cap, int max_rows,
                           int reverse, size_t* used, size_t* need) {
	int rows = 0;
	size_t off = 0;
	*need = 0;
	while (rows < max_rows && rocksdb_iter_valid(it)) {
		size_t klen, vlen;
		const char* k = rocksdb_iter_key(it, &klen);
		const char* v = rocksdb_iter_value(it, &vlen);
		size_t n = 8 + klen + vlen;
		if (off + n > cap) {
			*need = n;
			break;
		}
		uint32_t k32 = (uint32_t)klen, v32 = (uint32_t)vlen;
		memcpy(buf + off, &k32, 4);
		memcpy(buf + off + 4, &v32, 4);
		memcpy(buf + off + 8, k, klen);
		memcpy(buf + off + 8 + klen, v, vlen);
		off += n;
		rows++;
		if (reverse) rocksdb_iter_prev(it); else rocksdb_iter_next(it);
	}
	*used = off;
	return rows;
}
*/
import "C"

import (
	"encoding/binary"
	"sync"
	"unsafe"

	"github.com/linxGnu/grocksdb"
)

// nativeIterator returns the rocksdb_iterator_t behind a grocksdb.Iterator.
// grocksdb v1.7.14 (pinned in go.mod) declares Iterator as a struct whose
// only field is that pointer; TestNativeIteratorLayout guards the
// assumption.
func nativeIterator(it *grocksdb.Iterator) *C.rocksdb_iterator_t {
	return *(**C.rocksdb_iterator_t)(unsafe.Pointer(it))
}

// rowBufSize is the size of the pooled copy buffers. Short scans are many
// and a fresh 256 KiB buffer for each cost them most of their throughput
// (docs/benchmarks.md), so scanners share them through rowBufs.
const rowBufSize = 256 << 10

var rowBufs = sync.Pool{New: func() any { b := make([]byte, rowBufSize); return &b }}

func getRowBuf() []byte { return *rowBufs.Get().(*[]byte) }

// putRowBuf returns a pooled buffer; one grown for a huge row is dropped.
func putRowBuf(b []byte) {
	if cap(b) == rowBufSize {
		b = b[:rowBufSize]
		rowBufs.Put(&b)
	}
}

// rowCursor is what a Scanner and an Iterator hold of RocksDB: an
// iterator, the read options it was made with (they must outlive it: they
// hold its bounds and snapshot), and the pooled buffer rows are copied into.
type rowCursor struct {
	it  *grocksdb.Iterator
	ro  *grocksdb.ReadOptions
	buf []byte
}

// ownedCursor is what a Scanner and an Iterator share beyond their rows:
// the engine, the lock their calls take, and whether they were closed.
type ownedCursor struct {
	e  *Engine
	mu sync.Mutex
	rowCursor
	closed bool
}

// release frees the RocksDB iterator once, from Close or from the
// engine's own Close for a handle still open.
func (c *ownedCursor) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.closed = true
	c.free()
}

// newCursorReadOptions makes the read options of a new RocksDB iterator,
// reading snap when it is not nil. They are the iterator's own, never the
// snapshot's shared ones, since bounds are set on them.
func newCursorReadOptions(e *Engine, snap *Snapshot) (*grocksdb.ReadOptions, error) {
	ro := grocksdb.NewDefaultReadOptions()
	if snap != nil {
		h, err := snap.handle(e)
		if err != nil {
			ro.Destroy()
			return nil, err
		}
		ro.SetSnapshot(h)
	}
	return ro, nil
}

// replace makes c read through it and ro from now on, releasing what it
// read through before.
func (c *rowCursor) replace(it *grocksdb.Iterator, ro *grocksdb.ReadOptions) {
	if c.it != nil {
		c.it.Close()
		c.ro.Destroy()
	}
	c.it, c.ro = it, ro
}

// free releases the RocksDB iterator and its options and hands the buffer
// back to the pool.
func (c *rowCursor) free() {
	c.replace(nil, nil)
	if c.buf != nil {
		putRowBuf(c.buf[:cap(c.buf)])
		c.buf = nil
	}
}

// copyRows moves up to maxRows rows from it into buf (replaced by a larger
// one when a single row needs more room) and returns the filled part.
func copyRows(it *grocksdb.Iterator, buf []byte, maxRows int) ([]byte, int) {
	return copyRowsDir(it, buf, maxRows, false, true)
}

// copyRowsDir is copyRows walking backwards when reverse is set; without
// grow, a row that does not fit in buf is left for the next call.
func copyRowsDir(it *grocksdb.Iterator, buf []byte, maxRows int, reverse, grow bool) ([]byte, int) {
	rev := C.int(0)
	if reverse {
		rev = 1
	}
	for {
		if len(buf) == 0 {
			buf = getRowBuf()
		}
		var used, need C.size_t
		rows := int(C.spire_iter_copy(nativeIterator(it), (*C.char)(unsafe.Pointer(&buf[0])),
			C.size_t(len(buf)), C.int(maxRows), rev, &used, &need))
		if rows == 0 && need > 0 && grow {
			buf = make([]byte, int(need)*2)
			continue
		}
		return buf[:used:len(buf)], rows
	}
}

// eachRow calls visit for every row copyRows wrote.
func eachRow(b []byte, visit func(key, value []byte)) {
	for len(b) > 0 {
		k := int(binary.LittleEndian.Uint32(b))
		v := int(binary.LittleEndian.Uint32(b[4:]))
		visit(b[8:8+k:8+k], b[8+k:8+k+v:8+k+v])
		b = b[8+k+v:]
	}
}

// seek positions r at key (the first row at or after it, or with forPrev
// at or before it). grocksdb passes a NULL pointer for an empty key, which
// the iterator of a transaction asserts against: the key always goes with
// a real pointer here.
func seek(r *grocksdb.Iterator, key []byte, forPrev bool) {
	var zero [1]byte
	p := (*C.char)(unsafe.Pointer(&zero[0]))
	if len(key) > 0 {
		p = (*C.char)(unsafe.Pointer(&key[0]))
	}
	if forPrev {
		C.rocksdb_iter_seek_for_prev(nativeIterator(r), p, C.size_t(len(key)))
	} else {
		C.rocksdb_iter_seek(nativeIterator(r), p, C.size_t(len(key)))
	}
}
