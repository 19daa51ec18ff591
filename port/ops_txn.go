package port

import (
	"github.com/spiredb/spire-port/engine"
	"github.com/spiredb/spire-port/port/wire"
)

// execTxn serves optimistic transactions (a database opened with
// --optimistic-transactions): begin, put, delete and get in a transaction,
// commit ({error, {rocksdb, <<"Resource busy: ...">>}} on a conflict),
// rollback and release. Their ids are in a table of their own, bounded as
// the cursors are and reaped after --idle-timeout unused; an iterator over
// a transaction is the iterator op with {txn, Id}.
func (s *Server) execTxn(scratch []byte, id uint64, r *wire.Request) []byte {
	if r.Op == wire.OpTxnBegin {
		t, err := s.eng.BeginTxn(engine.WriteOptions{Sync: r.Sync, DisableWAL: r.NoWAL})
		if err != nil {
			return s.replyError(scratch, id, err)
		}
		return replyAdded(s, scratch, id, s.txns, t, errTooManyIterators)
	}
	t, ok := s.txns.get(r.ID)
	if !ok {
		if r.Op == wire.OpTxnRelease {
			return s.replyOK(scratch, id) // released twice is fine
		}
		return s.replyError(scratch, id, &unknownIDError{"unknown_transaction", r.ID})
	}
	switch r.Op {
	case wire.OpTxnPut:
		return s.replyResult(scratch, id, t.Put(r.CF, r.Key, r.Value))
	case wire.OpTxnDelete:
		return s.replyResult(scratch, id, t.Delete(r.CF, r.Key))
	case wire.OpTxnGet:
		v, err := t.Get(r.CF, r.Key)
		if err != nil {
			return s.replyError(scratch, id, err)
		}
		return s.reply(scratch, id, func(c wire.Codec, b []byte) []byte {
			return c.Binary(c.Atom(c.Tuple(b, 2), "ok"), v)
		})
	case wire.OpTxnCommit:
		return s.replyResult(scratch, id, t.Commit())
	case wire.OpTxnRollback:
		return s.replyResult(scratch, id, t.Rollback())
	}
	// wire.OpTxnRelease
	s.txns.remove(r.ID)
	return s.replyOK(scratch, id)
}
