package port

import (
	"github.com/spiredb/spire-port/engine"
	"github.com/spiredb/spire-port/port/wire"
)

// execPoint serves the point reads and writes. A sync write is applied
// here without a sync and acknowledged by the syncer once an fsync of the
// WAL covers it (syncer.go).
func (s *Server) execPoint(scratch []byte, id uint64, r *wire.Request, ro engine.ReadOptions) []byte {
	// The syncer, not the write, makes a sync write durable; RocksDB's
	// refusal of a sync write without a WAL is kept.
	if r.Sync && r.NoWAL {
		return s.replyError(scratch, id, engine.ErrSyncWithoutWAL)
	}
	wo := engine.WriteOptions{CF: r.CF, DisableWAL: r.NoWAL}
	switch r.Op {
	case wire.OpGet:
		b, start := wire.BeginFrame(scratch[:0], id)
		b = s.codec.Begin(b)
		err := s.eng.GetFunc(r.Key, ro, func(v []byte) {
			b = s.codec.Binary(s.codec.Atom(s.codec.Tuple(b, 2), "ok"), v)
		})
		if err != nil {
			return s.replyError(b, id, err)
		}
		s.out.send(wire.EndFrame(b, start))
		return b
	case wire.OpMultiGet:
		vals, err := s.eng.MultiGet(r.Keys, ro)
		return replyList(s, scratch, id, vals, err, func(c wire.Codec, b []byte, v []byte) []byte {
			if v == nil {
				return c.Atom(b, "not_found")
			}
			return c.Binary(b, v)
		})
	case wire.OpPut:
		return s.replyWrite(scratch, id, r.Sync, s.eng.Put(r.Key, r.Value, wo))
	case wire.OpDelete:
		return s.replyWrite(scratch, id, r.Sync, s.eng.Delete(r.Key, wo))
	case wire.OpDeleteRange:
		if len(r.End) == 0 {
			return s.replyError(scratch, id, wire.Badf("delete_range: the end key must not be empty"))
		}
		return s.replyWrite(scratch, id, r.Sync, s.eng.DeleteRange(r.Key, r.End, wo))
	case wire.OpWriteBinary:
		return s.replyWrite(scratch, id, r.Sync, s.eng.WriteBinary(r.Value, engine.WriteOptions{DisableWAL: r.NoWAL}))
	case wire.OpMerge:
		return s.replyWrite(scratch, id, r.Sync, s.eng.Merge(r.Key, r.Value, wo))
	case wire.OpWriteBatch:
		return s.replyWrite(scratch, id, r.Sync, s.eng.WriteWith(r.Batch, engine.WriteOptions{DisableWAL: r.NoWAL}))
	}
	return s.replyError(scratch, id, wire.Badf("op %s cannot be run here", r.Op.String()))
}

// replyWrite answers a write: at once when it failed or needs no sync,
// else once the syncer's fsync of the WAL covers it.
func (s *Server) replyWrite(scratch []byte, id uint64, sync bool, err error) []byte {
	if err != nil || !sync {
		return s.replyResult(scratch, id, err)
	}
	s.syncer.await(id)
	return scratch
}
