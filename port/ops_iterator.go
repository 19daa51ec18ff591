package port

import (
	"encoding/binary"
	"strconv"

	"github.com/spiredb/spire-port/engine"
	"github.com/spiredb/spire-port/port/wire"
)

// execIterator serves positioned iterators: erlang-rocksdb's iterator,
// iterator_move (with read-ahead), iterator_refresh and iterator_close.
func (s *Server) execIterator(scratch []byte, id uint64, r *wire.Request, ro engine.ReadOptions) []byte {
	switch r.Op {
	case wire.OpIterator:
		var txn *engine.Txn
		if r.Txn != 0 {
			var ok bool
			if txn, ok = s.txns.get(r.Txn); !ok {
				return s.replyError(scratch, id, &unknownIDError{"unknown_transaction", r.Txn})
			}
		}
		it, err := s.eng.NewIterator(engine.IteratorOptions{CF: ro.CF, Snapshot: ro.Snapshot, Txn: txn,
			LowerBound: r.Lower, UpperBound: r.Upper, NoFillCache: r.NoFillCache,
			TotalOrderSeek: r.TotalOrderSeek, PrefixSameAsStart: r.PrefixSameAsStart, ReadaheadSize: r.Readahead})
		if err != nil {
			return s.replyError(scratch, id, err)
		}
		if r.As != 0 {
			// The caller chose the id, so its first move can follow this
			// request without waiting for the reply.
			if err := s.cursors.addAs(r.As, &cursor{it: it}, errTooManyIterators, wire.Badf("iterator: id %d is taken", r.As)); err != nil {
				return s.replyError(scratch, id, err)
			}
			return s.replyID(scratch, id, r.As)
		}
		return replyAdded(s, scratch, id, s.cursors, &cursor{it: it}, errTooManyIterators)
	case wire.OpIteratorMove, wire.OpIteratorRefresh:
		cur, ok := s.cursors.get(r.ID)
		if !ok || cur.it == nil {
			return s.replyError(scratch, id, &unknownIDError{"unknown_iterator", r.ID})
		}
		if r.Op == wire.OpIteratorRefresh {
			return s.replyResult(scratch, id, cur.it.Refresh())
		}
		return s.iteratorMove(scratch, id, r, cur.it)
	case wire.OpIteratorClose:
		return s.closeCursor(scratch, id, r.ID, (*cursor).isIterator, "unknown_iterator")
	}
	return s.replyError(scratch, id, wire.Badf("op %s cannot be run here", r.Op.String()))
}

// maxAheadBytes bounds the key and value bytes one iterator move reads
// ahead, so a walk over big values does not buffer megabytes it may never
// use.
const maxAheadBytes = 256 << 10

// iteratorMove answers {ok, Rows, More}: the row the move landed on and
// the rows read ahead, in the direction of the move ([] when it landed on
// no row), and whether a row follows the last one. Rows is a list of
// {Key, Value}, or with {packed, true} (wire.ETF only) one binary of
// <<KeyLen:32, Key, ValueLen:32, Value>> runs, as scans send them.
func (s *Server) iteratorMove(scratch []byte, id uint64, r *wire.Request, it *engine.Iterator) []byte {
	if r.Packed && s.codec != wire.ETF {
		return s.replyError(scratch, id, wire.Badf("iterator_move: packed rows are for the etf codec"))
	}
	c := s.codec
	b, start := wire.BeginFrame(scratch[:0], id)
	b = c.Atom(c.Tuple(c.Begin(b), 3), "ok")
	var mark, lenAt int
	if r.Packed {
		lenAt = len(b) + 1
		b = append(b, 109, 0, 0, 0, 0)
	} else {
		b, mark = c.BeginList(b)
	}
	rows, more, err := it.Move(r.Move, r.Ahead, maxAheadBytes, func(k, v []byte) {
		if r.Packed {
			b = wire.AppendPackedRow(b, k, v)
			return
		}
		b = c.Binary(c.Binary(c.Tuple(b, 2), k), v)
	})
	if err != nil {
		return s.replyError(b, id, err)
	}
	if r.Packed {
		binary.BigEndian.PutUint32(b[lenAt:], uint32(len(b)-lenAt-4))
	} else {
		b = c.EndList(b, mark, rows)
	}
	b = c.Atom(b, strconv.FormatBool(more))
	s.out.send(wire.EndFrame(b, start))
	return b
}
