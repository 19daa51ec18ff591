package port

import (
	"strconv"

	"github.com/spiredb/spire-port/engine"
	"github.com/spiredb/spire-port/port/wire"
)

// execAdmin serves what is not a read or a write of keys: snapshots,
// stats and properties, flushes and compactions, the WAL and column
// families.
func (s *Server) execAdmin(scratch []byte, id uint64, r *wire.Request) []byte {
	switch r.Op {
	case wire.OpSnapshotOpen:
		sn, err := s.eng.NewSnapshot()
		if err != nil {
			return s.replyError(scratch, id, err)
		}
		return replyAdded(s, scratch, id, s.snapshots, sn, errTooManySnapshots)
	case wire.OpSnapshotClose:
		s.snapshots.remove(r.ID)
		return s.replyOK(scratch, id)
	case wire.OpSnapshotSequence:
		sn, ok := s.snapshots.get(r.ID)
		if !ok {
			return s.replyError(scratch, id, &unknownIDError{"unknown_snapshot", r.ID})
		}
		seq, err := sn.Sequence()
		if err != nil {
			return s.replyError(scratch, id, err)
		}
		return s.reply(scratch, id, func(c wire.Codec, b []byte) []byte {
			return c.Uint(c.Atom(c.Tuple(b, 2), "ok"), seq)
		})
	case wire.OpSetBackgroundThreads:
		return s.replyResult(scratch, id, engine.SetBackgroundThreads(int(r.ID), r.Name == "priority_high"))
	case wire.OpStats:
		return s.stats(scratch, id)
	case wire.OpCacheInfo:
		info, err := s.eng.CacheInfo()
		if err != nil {
			return s.replyError(scratch, id, err)
		}
		return s.reply(scratch, id, func(c wire.Codec, b []byte) []byte {
			b = c.MapHeader(c.Atom(c.Tuple(b, 2), "ok"), 4)
			b = c.Uint(c.Atom(b, "capacity"), info.Capacity)
			b = c.Uint(c.Atom(b, "usage"), info.Usage)
			b = c.Uint(c.Atom(b, "pinned_usage"), info.PinnedUsage)
			return c.Atom(c.Atom(b, "strict_capacity"), strconv.FormatBool(info.StrictCapacity))
		})
	case wire.OpProperty:
		v, ok, err := s.eng.Property(r.Name, r.CF)
		if err == nil && !ok {
			err = engine.ErrNotFound
		}
		if err != nil {
			return s.replyError(scratch, id, err)
		}
		return s.reply(scratch, id, func(c wire.Codec, b []byte) []byte {
			return c.Str(c.Atom(c.Tuple(b, 2), "ok"), v)
		})
	case wire.OpFlush:
		return s.replyResult(scratch, id, s.eng.Flush(r.CF))
	case wire.OpSyncWAL:
		// On a worker: every write that arrived before it is already applied.
		return s.replyResult(scratch, id, s.eng.SyncWAL())
	case wire.OpLatestSequence:
		seq, err := s.eng.LatestSequenceNumber()
		if err != nil {
			return s.replyError(scratch, id, err)
		}
		return s.reply(scratch, id, func(c wire.Codec, b []byte) []byte {
			return c.Uint(c.Atom(c.Tuple(b, 2), "ok"), seq)
		})
	case wire.OpCompactRange:
		var start, end []byte
		if r.HasStart {
			start = r.Key
		}
		if r.HasEnd {
			end = r.End
		}
		return s.replyResult(scratch, id, s.eng.CompactRange(r.CF, start, end))
	case wire.OpCFList:
		names, err := s.eng.ColumnFamilies()
		return replyList(s, scratch, id, names, err, wire.Codec.Str)
	case wire.OpCFCreate:
		return s.replyResult(scratch, id, s.eng.CreateColumnFamily(r.Name))
	case wire.OpApproximateSizes:
		sizes, err := s.eng.ApproximateSizes(r.CF, r.Ranges, r.SizeMemtables, r.SizeFiles)
		return replyList(s, scratch, id, sizes, err, wire.Codec.Uint)
	case wire.OpApproximateMemTableStats:
		count, size, err := s.eng.ApproximateMemTableStats(r.CF, engine.KeyRange{Start: r.Key, Limit: r.Value})
		if err != nil {
			return s.replyError(scratch, id, err)
		}
		return s.reply(scratch, id, func(c wire.Codec, b []byte) []byte {
			return c.Uint(c.Uint(c.Tuple(c.Atom(c.Tuple(b, 2), "ok"), 2), count), size)
		})
	case wire.OpCFDrop:
		return s.replyResult(scratch, id, s.eng.DropColumnFamily(r.Name))
	}
	return s.replyError(scratch, id, wire.Badf("op %s cannot be run here", r.Op.String()))
}

func (s *Server) stats(scratch []byte, id uint64) []byte {
	st, err := s.eng.Stats()
	if err != nil {
		return s.replyError(scratch, id, err)
	}
	return s.reply(scratch, id, func(c wire.Codec, b []byte) []byte {
		b = c.MapHeader(c.Atom(c.Tuple(b, 2), "ok"), 5)
		b = c.MapHeader(c.Atom(b, "tickers"), len(st.Tickers))
		for name, n := range st.Tickers {
			b = c.Uint(c.Str(b, name), n)
		}
		b = c.MapHeader(c.Atom(b, "histograms"), len(st.Histograms))
		for name, h := range st.Histograms {
			b = c.MapHeader(c.Str(b, name), 6)
			b = c.Float(c.Atom(b, "p50"), h.P50)
			b = c.Float(c.Atom(b, "p95"), h.P95)
			b = c.Float(c.Atom(b, "p99"), h.P99)
			b = c.Float(c.Atom(b, "max"), h.Max)
			b = c.Uint(c.Atom(b, "count"), h.Count)
			b = c.Uint(c.Atom(b, "sum"), h.Sum)
		}
		b = appendPropertyMap(c, c.Atom(b, "properties"), st.Properties)
		b = c.MapHeader(c.Atom(b, "column_families"), len(st.ColumnFamilies))
		for name, props := range st.ColumnFamilies {
			b = appendPropertyMap(c, c.Str(b, name), props)
		}
		health := s.eng.Health()
		b = c.MapHeader(c.Atom(b, "sidecar"), 10)
		b = c.Atom(c.Atom(b, "writes_stopped"), strconv.FormatBool(health.WritesStopped))
		b = c.Uint(c.Atom(b, "recoveries"), health.Recoveries)
		b = c.Str(c.Atom(b, "last_write_error"), health.LastError)
		b = c.Int(c.Atom(b, "open_iterators"), int64(s.cursors.len()))
		b = c.Int(c.Atom(b, "open_snapshots"), int64(s.snapshots.len()))
		b = c.Uint(c.Atom(b, "requests"), s.requests.Load())
		b = c.Uint(c.Atom(b, "bad_frames"), s.badFrames.Load())
		b = c.Uint(c.Atom(b, "groups"), s.groups.Load())
		b = c.Uint(c.Atom(b, "grouped"), s.grouped.Load())
		return c.Uint(c.Atom(b, "replies"), s.out.frames.Load())
	})
}

func appendPropertyMap(c wire.Codec, b []byte, props map[string]uint64) []byte {
	b = c.MapHeader(b, len(props))
	for name, v := range props {
		b = c.Uint(c.Str(b, name), v)
	}
	return b
}
