package engine

import (
	"bytes"
	"fmt"
	"time"
)

// ScanOptions shape a range scan.
type ScanOptions struct {
	CF       string
	Snapshot *Snapshot
	// BatchSize is the most rows one Next returns; 0 means DefaultBatchSize.
	BatchSize int
	// Limit caps the rows of the whole scan; 0 means no limit.
	Limit int
}

// ScanStats describe one batch.
type ScanStats struct {
	Rows    int           // rows in the batch
	Bytes   int           // key and value bytes in the batch
	Elapsed time.Duration // time spent reading the batch from RocksDB
}

// Scanner walks [start, end] of a column family in key order, one batch at
// a time. It is safe for use by one goroutine at a time, and must be closed.
type Scanner struct {
	ownedCursor
	batch int
	left  int // rows still allowed by the limit; -1 means unlimited
	done  bool
}

// NewScanner starts a scan of [start, end]. end is inclusive; an empty end
// scans to the end of the keyspace.
func (e *Engine) NewScanner(start, end []byte, o ScanOptions) (*Scanner, error) {
	if o.BatchSize < 0 || o.BatchSize > MaxBatchSize {
		return nil, fmt.Errorf("%w: batch_size %d: want 1 .. %d", ErrInvalidArgument, o.BatchSize, MaxBatchSize)
	}
	if o.Limit < 0 {
		return nil, fmt.Errorf("%w: limit %d: want 0 (no limit) or more", ErrInvalidArgument, o.Limit)
	}
	h, _, err := e.beginRead(ReadOptions{CF: o.CF, Snapshot: o.Snapshot})
	if err != nil {
		return nil, err
	}
	defer e.mu.RUnlock()
	ro, err := newCursorReadOptions(e, o.Snapshot)
	if err != nil {
		return nil, err
	}
	s := &Scanner{ownedCursor: ownedCursor{e: e}, batch: o.BatchSize, left: -1}
	if s.batch == 0 {
		s.batch = DefaultBatchSize
	}
	if o.Limit > 0 {
		s.left = o.Limit
	}
	if len(end) > 0 {
		// end is inclusive: the bound is the smallest key after it, so
		// RocksDB itself stops there (and skips tombstones past it).
		ro.SetIterateUpperBound(append(append([]byte(nil), end...), 0))
	}
	if len(end) > 0 && bytes.Compare(start, end) > 0 {
		s.done = true
	}
	s.replace(e.db.NewIteratorCF(ro, h), ro)
	s.it.Seek(start)
	e.track(s)
	return s, nil
}

// NextFunc hands up to one batch of rows to visit, in key order. The slices
// alias the scanner's copy buffer and are valid only while visit runs. more is false
// once the scan has nothing left; a batch may be empty only then.
func (s *Scanner) NextFunc(visit func(key, value []byte)) (stats ScanStats, more bool, err error) {
	if err := s.e.begin(); err != nil {
		return stats, false, err
	}
	defer s.e.mu.RUnlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return stats, false, fmt.Errorf("%w: scanner is closed", ErrInvalidArgument)
	}
	if s.done {
		return stats, false, nil
	}
	began := time.Now()
	it := s.it
	// Rows come out of RocksDB in bulk (one cgo call per buffer of rows);
	// the upper bound set in NewScanner already stops the iterator after
	// the inclusive end key.
	for stats.Rows < s.batch && s.left != 0 {
		want := s.batch - stats.Rows
		if s.left > 0 && s.left < want {
			want = s.left
		}
		var rows int
		s.buf, rows = copyRows(it, s.buf[:cap(s.buf)], want)
		if rows == 0 {
			break
		}
		eachRow(s.buf, func(k, v []byte) {
			visit(k, v)
			stats.Bytes += len(k) + len(v)
		})
		stats.Rows += rows
		if s.left > 0 {
			s.left -= rows
		}
	}
	stats.Elapsed = time.Since(began)
	if err := it.Err(); err != nil {
		s.done = true
		return stats, false, classify("scan", err)
	}
	more = s.left != 0 && it.Valid()
	s.done = !more
	return stats, more, nil
}

// Next returns up to one batch of rows, copied.
func (s *Scanner) Next() (rows []KV, stats ScanStats, more bool, err error) {
	stats, more, err = s.NextFunc(func(k, v []byte) {
		buf := make([]byte, len(k)+len(v))
		copy(buf, k)
		copy(buf[len(k):], v)
		rows = append(rows, KV{Key: buf[:len(k):len(k)], Value: buf[len(k):]})
	})
	return rows, stats, more, err
}

// BatchSize is the most rows one Next returns.
func (s *Scanner) BatchSize() int { return s.batch }

// Close releases the iterator. It is idempotent.
func (s *Scanner) Close() {
	s.e.untrack(s)
	s.release()
}

// Scan reads [start, end] whole and returns it batch by batch.
func (e *Engine) Scan(start, end []byte, o ScanOptions) ([][]KV, []ScanStats, error) {
	s, err := e.NewScanner(start, end, o)
	if err != nil {
		return nil, nil, err
	}
	defer s.Close()
	var batches [][]KV
	var stats []ScanStats
	for {
		rows, st, more, err := s.Next()
		if err != nil {
			return nil, nil, err
		}
		if len(rows) > 0 {
			batches = append(batches, rows)
			stats = append(stats, st)
		}
		if !more {
			return batches, stats, nil
		}
	}
}
