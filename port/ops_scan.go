package port

import (
	"encoding/binary"
	"fmt"
	"runtime/debug"

	"github.com/spiredb/spire-port/engine"
	"github.com/spiredb/spire-port/port/wire"
)

// execScan serves scans and their cursors (iter_open, iter_next,
// iter_close).
func (s *Server) execScan(scratch []byte, id uint64, r *wire.Request, ro engine.ReadOptions) []byte {
	switch r.Op {
	case wire.OpScan:
		return s.scan(scratch, id, r, ro)
	case wire.OpIterOpen:
		if r.Packed && s.codec != wire.ETF {
			return s.replyError(scratch, id, wire.Badf("iter_open: packed rows are for the etf codec"))
		}
		sc, err := s.eng.NewScanner(r.Key, r.End, s.scanOptions(r, ro))
		if err != nil {
			return s.replyError(scratch, id, err)
		}
		return replyAdded(s, scratch, id, s.cursors, &cursor{sc: sc, packed: r.Packed}, errTooManyIterators)
	case wire.OpIterNext:
		cur, ok := s.cursors.get(r.ID)
		if !ok || cur.sc == nil {
			return s.replyError(scratch, id, &unknownIDError{"unknown_cursor", r.ID})
		}
		// A finished cursor leaves the table before its last frame is sent,
		// so whoever reads that frame never sees the cursor still open.
		b, _, _ := s.batch(scratch, id, cur.sc, false, cur.packed, func() { s.cursors.remove(r.ID) })
		return b
	case wire.OpIterClose:
		return s.closeCursor(scratch, id, r.ID, (*cursor).isScan, "unknown_cursor")
	}
	return s.replyError(scratch, id, wire.Badf("op %s cannot be run here", r.Op.String()))
}

// inlineRows bounds the rows a scan or cursor batch may read on the reader.
const inlineRows = 1000

func (s *Server) scanOptions(r *wire.Request, ro engine.ReadOptions) engine.ScanOptions {
	return engine.ScanOptions{CF: ro.CF, Snapshot: ro.Snapshot, BatchSize: r.BatchSize, Limit: r.Limit}
}

// scan answers one request with {rows, Rows, Stats} frames and a last
// {done, Rows, Stats} frame.
func (s *Server) scan(scratch []byte, id uint64, r *wire.Request, ro engine.ReadOptions) []byte {
	if r.Packed && s.codec != wire.ETF {
		return s.replyError(scratch, id, wire.Badf("scan: packed rows are for the etf codec"))
	}
	sc, err := s.eng.NewScanner(r.Key, r.End, s.scanOptions(r, ro))
	if err != nil {
		return s.replyError(scratch, id, err)
	}
	return s.runScan(scratch, id, r, sc)
}

// runScan sends every batch of sc and closes it. A panic is answered as
// exec answers one.
func (s *Server) runScan(scratch []byte, id uint64, r *wire.Request, sc *engine.Scanner) (out []byte) {
	defer sc.Close()
	defer func() {
		if p := recover(); p != nil {
			s.opt.Log.Printf("scan %d panicked: %v\n%s", id, p, debug.Stack())
			out = s.replyError(scratch, id, fmt.Errorf("panic: %v", p))
		}
	}()
	for {
		var more bool
		var err error
		scratch, more, err = s.batch(scratch, id, sc, true, r.Packed, nil)
		if err != nil || !more {
			return scratch
		}
	}
}

// batch encodes one batch of sc as {rows | done, [{K, V}], Stats} straight
// from RocksDB's memory into the frame. last, when set, runs before the
// final frame (or an error) is sent.
//
// A scan answers with many frames: multiFrame marks all but the last with
// wire.MoreFlag. A cursor's iter_next is one request, one frame: never flagged.
//
// packed (wire.ETF only) encodes {rows | done, Count, Rows, Stats} instead, Rows
// one binary of <<KeyLen:32, Key, ValueLen:32, Value>> runs: the BEAM
// splits it into sub-binaries of the one frame, where binary_to_term would
// allocate an off-heap binary for every value over 64 bytes.
func (s *Server) batch(scratch []byte, id uint64, sc *engine.Scanner, multiFrame, packed bool, last func()) ([]byte, bool, error) {
	c := s.codec
	b, start := wire.BeginFrame(scratch[:0], id)
	var tagEnd, mark, countAt, rowsAt int
	var st engine.ScanStats
	var more bool
	var err error
	if packed {
		b = append(b, 131, 104, 4, 119, 4, 'r', 'o', 'w', 's')
		tagEnd = len(b)
		countAt = len(b) + 1
		b = append(b, 98, 0, 0, 0, 0, 109, 0, 0, 0, 0) // INTEGER_EXT count, BINARY_EXT length
		rowsAt = len(b)
		st, more, err = sc.NextFunc(func(k, v []byte) { b = wire.AppendPackedRow(b, k, v) })
	} else {
		b = c.Tuple(c.Begin(b), 3)
		b = c.Atom(b, "rows")
		tagEnd = len(b) // "rows" and "done" are both 4 bytes: patched below
		b, mark = c.BeginList(b)
		st, more, err = sc.NextFunc(func(k, v []byte) {
			b = c.Binary(c.Binary(c.Tuple(b, 2), k), v)
		})
	}
	if err != nil || !more {
		if last != nil {
			last()
		}
	}
	if err != nil {
		return s.replyError(b, id, err), false, err
	}
	if more && multiFrame {
		b[start+wire.HeaderSize] |= 0x80 // wire.MoreFlag: more frames follow under this id
	}
	if !more {
		copy(b[tagEnd-4:tagEnd], "done")
	}
	if packed {
		binary.BigEndian.PutUint32(b[countAt:], uint32(st.Rows))
		binary.BigEndian.PutUint32(b[countAt+5:], uint32(len(b)-rowsAt))
	} else {
		b = c.EndList(b, mark, st.Rows)
	}
	b = c.MapHeader(b, 3)
	b = c.Int(c.Atom(b, "rows_returned"), int64(st.Rows))
	b = c.Int(c.Atom(b, "bytes_read"), int64(st.Bytes))
	b = c.Float(c.Atom(b, "scan_time_ms"), float64(st.Elapsed.Nanoseconds())/1e6)
	s.out.send(wire.EndFrame(b, start))
	return b, more, nil
}
