package engine

import (
	"bytes"
	"fmt"

	"github.com/linxGnu/grocksdb"
)

// IteratorOptions are the read options of an Iterator.
type IteratorOptions struct {
	CF       string
	Snapshot *Snapshot
	// LowerBound (inclusive) and UpperBound (exclusive) limit the keys the
	// iterator sees; nil means no bound, and an empty (non-nil) UpperBound
	// an iterator that sees no key.
	LowerBound, UpperBound []byte
	// NoFillCache keeps the blocks this iterator reads out of the block
	// cache (a one-off walk of cold data).
	NoFillCache bool
	// TotalOrderSeek and PrefixSameAsStart are RocksDB's; the second only
	// matters with a prefix extractor, which this engine does not set.
	TotalOrderSeek, PrefixSameAsStart bool
	// ReadaheadSize is RocksDB's file read-ahead, in bytes; 0 lets RocksDB
	// choose.
	ReadaheadSize int
	// Txn, when set, makes the iterator see the database merged with the
	// transaction's own writes.
	Txn *Txn
}

// Iterator is a positioned iterator over one column family, the
// counterpart of erlang-rocksdb's iterator: it sees the database as it was
// when it was made (or at its snapshot) until Refresh. Each Move hands the
// row it lands on, and as many rows after it (in the direction of the
// move) as asked, in one call. It is safe for use by one goroutine at a
// time, and must be closed.
type Iterator struct {
	ownedCursor
	opts IteratorOptions
	// last is the key of the last row handed out (nil when the iterator
	// is not on a row) and reverse the direction it was read in; the
	// RocksDB iterator then sits on the row after it in that direction,
	// so a move on from there needs no seek.
	last    []byte
	reverse bool
}

// NewIterator makes an unpositioned iterator.
func (e *Engine) NewIterator(o IteratorOptions) (*Iterator, error) {
	// RocksDB keeps pointers to the bounds: they must be copies that live
	// as long as the iterator.
	o.LowerBound = cloneBytes(o.LowerBound)
	o.UpperBound = cloneBytes(o.UpperBound)
	if o.LowerBound != nil && len(o.UpperBound) > 0 && bytes.Compare(o.LowerBound, o.UpperBound) > 0 {
		return nil, fmt.Errorf("%w: iterate_upper_bound %q comes before iterate_lower_bound %q", ErrInvalidArgument,
			truncated(o.UpperBound), truncated(o.LowerBound))
	}
	h, _, err := e.beginRead(ReadOptions{CF: o.CF, Snapshot: o.Snapshot})
	if err != nil {
		return nil, err
	}
	defer e.mu.RUnlock()
	it := &Iterator{ownedCursor: ownedCursor{e: e}, opts: o}
	if err := it.open(h); err != nil {
		return nil, err
	}
	e.track(it)
	return it, nil
}

func cloneBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append(make([]byte, 0, len(b)), b...)
}

// open makes the RocksDB iterator, replacing the one it had only once the
// new one exists; e.mu is held.
func (it *Iterator) open(h *grocksdb.ColumnFamilyHandle) error {
	o := it.opts
	ro, err := newCursorReadOptions(it.e, o.Snapshot)
	if err != nil {
		return err
	}
	if o.LowerBound != nil {
		ro.SetIterateLowerBound(o.LowerBound)
	}
	if len(o.UpperBound) > 0 {
		ro.SetIterateUpperBound(o.UpperBound)
	}
	if o.NoFillCache {
		ro.SetFillCache(false)
	}
	if o.TotalOrderSeek {
		ro.SetTotalOrderSeek(true)
	}
	if o.PrefixSameAsStart {
		ro.SetPrefixSameAsStart(true)
	}
	if o.ReadaheadSize > 0 {
		ro.SetReadaheadSize(uint64(o.ReadaheadSize))
	}
	rit := (*grocksdb.Iterator)(nil)
	if o.Txn != nil {
		if rit, err = o.Txn.newIterator(it, ro, h); err != nil {
			ro.Destroy()
			return err
		}
	} else {
		rit = it.e.db.NewIteratorCF(ro, h)
	}
	it.replace(rit, ro)
	it.last = nil
	return nil
}

// Move positions the iterator and hands visit the row it lands on and up
// to ahead rows after it, in the move's direction, stopping early once
// about maxBytes have been handed out. The slices are valid only while
// visit runs. rows is 0 when the move lands on no row (the end, or a
// MoveNext or MovePrev from no row); more reports whether a row follows
// the last one handed out.
func (it *Iterator) Move(m Move, ahead, maxBytes int, visit func(key, value []byte)) (rows int, more bool, err error) {
	if err := it.e.begin(); err != nil {
		return 0, false, err
	}
	defer it.e.mu.RUnlock()
	it.mu.Lock()
	defer it.mu.Unlock()
	if it.closed {
		return 0, false, fmt.Errorf("%w: iterator is closed", ErrInvalidArgument)
	}
	// RocksDB's C API takes an empty bound for none: no key is below "".
	if it.opts.UpperBound != nil && len(it.opts.UpperBound) == 0 {
		it.last = nil
		return 0, false, nil
	}
	if !it.position(m) {
		it.last = nil
		return 0, false, nil
	}
	reverse := m.Reverse()
	want := ahead + 1
	bytesOut := 0
	if it.buf == nil {
		it.buf = getRowBuf()
	}
	for rows < want {
		// The row the move lands on always comes, whatever its size; the
		// rows ahead only while they fit in what is left of maxBytes.
		view, batch := it.buf[:cap(it.buf)], 1
		if rows > 0 {
			batch = want - rows
			left := maxBytes - bytesOut
			if left <= 0 {
				break
			}
			view = view[:min(len(view), left)]
		}
		out, n := copyRowsDir(it.it, view, batch, reverse, rows == 0)
		if cap(out) > cap(it.buf) {
			it.buf = out[:cap(out)] // grown for one big row
		}
		if n == 0 {
			break
		}
		var lastKey []byte
		eachRow(out, func(k, v []byte) {
			visit(k, v)
			bytesOut += len(k) + len(v)
			lastKey = k
		})
		it.last = append(it.last[:0], lastKey...)
		rows += n
	}
	if err := it.it.Err(); err != nil {
		it.last = nil
		return rows, false, classify("iterator", err)
	}
	if rows == 0 {
		it.last = nil
	}
	it.reverse = reverse
	return rows, it.it.Valid(), nil
}

// position moves the RocksDB iterator onto the row a move lands on and
// reports whether there is one.
func (it *Iterator) position(m Move) bool {
	r := it.it
	switch m.Kind {
	case MoveFirst:
		r.SeekToFirst()
	case MoveLast:
		r.SeekToLast()
	case MoveSeek:
		seek(r, m.Key, false)
	case MoveSeekForPrev:
		seek(r, m.Key, true)
	case MoveNext, MovePrev:
		anchor := m.Key
		if !m.Keyed {
			if it.last == nil {
				return false
			}
			anchor = it.last
		}
		reverse := m.Kind == MovePrev
		if it.last != nil && it.reverse == reverse && bytes.Equal(anchor, it.last) {
			break // already on the row after the last one handed out
		}
		if reverse {
			seek(r, anchor, true)
			if r.Valid() && bytes.Equal(keyOf(r), anchor) {
				r.Prev()
			}
		} else {
			seek(r, anchor, false)
			if r.Valid() && bytes.Equal(keyOf(r), anchor) {
				r.Next()
			}
		}
	default:
		return false
	}
	return r.Valid()
}

func keyOf(r *grocksdb.Iterator) []byte {
	k := r.Key()
	defer k.Free()
	return append([]byte(nil), k.Data()...)
}

// Refresh makes the iterator see the database as it is now (or its
// snapshot, when it has one) and leaves it unpositioned. RocksDB 7.8's C
// API has no Iterator::Refresh, so the RocksDB iterator is made anew with
// the same options.
func (it *Iterator) Refresh() error {
	h, _, err := it.e.beginRead(ReadOptions{CF: it.opts.CF, Snapshot: it.opts.Snapshot})
	if err != nil {
		return err
	}
	defer it.e.mu.RUnlock()
	it.mu.Lock()
	defer it.mu.Unlock()
	if it.closed {
		return fmt.Errorf("%w: iterator is closed", ErrInvalidArgument)
	}
	return it.open(h)
}

// Close releases the iterator. It is idempotent.
func (it *Iterator) Close() {
	it.e.untrack(it)
	it.release()
}
