package port

import (
	"github.com/spiredb/spire-port/engine"
	"github.com/spiredb/spire-port/port/wire"
)

// execTLog serves the transaction log: an iterator over the WAL's write
// batches from a sequence number on (tlog_iterator), the next batch as
// RocksDB serialized it (tlog_next: {ok, Seq, Batch}, {error, not_found}
// at the end of the log) and its close. It shares the cursors' table and
// bound; write_binary (ops_point.go) applies such a batch.
func (s *Server) execTLog(scratch []byte, id uint64, r *wire.Request) []byte {
	switch r.Op {
	case wire.OpTLogIterator:
		u, err := s.eng.UpdatesSince(r.ID)
		if err != nil {
			return s.replyError(scratch, id, err)
		}
		return replyAdded(s, scratch, id, s.cursors, &cursor{tlog: u}, errTooManyIterators)
	case wire.OpTLogNext:
		cur, ok := s.cursors.get(r.ID)
		if !ok || cur.tlog == nil {
			return s.replyError(scratch, id, &unknownIDError{"unknown_iterator", r.ID})
		}
		seq, data, found, err := cur.tlog.Next()
		if err == nil && !found {
			err = engine.ErrNotFound
		}
		if err != nil {
			return s.replyError(scratch, id, err)
		}
		return s.reply(scratch, id, func(c wire.Codec, b []byte) []byte {
			return c.Binary(c.Uint(c.Atom(c.Tuple(b, 3), "ok"), seq), data)
		})
	}
	// wire.OpTLogClose
	return s.closeCursor(scratch, id, r.ID, (*cursor).isLog, "unknown_iterator")
}
