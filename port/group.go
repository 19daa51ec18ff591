package port

import (
	"fmt"
	"runtime/debug"

	"github.com/spiredb/spire-port/engine"
	"github.com/spiredb/spire-port/port/wire"
)

// A group gathers the point requests the reader finds waiting one after
// another (several callers' gets, or several callers' puts and deletes) and
// runs them as one RocksDB call: the gets as one batched MultiGet, the
// writes as one WriteBatch, which costs one WAL append instead of one per
// put. Only requests with default options join (the fast path's, so the
// default column family, no snapshot, no sync); every member would have met
// the same failure alone, so a failed call answers each with its error.
//
// The reader runs the group before it parks and before any request that
// cannot join it, so replies never wait for input that is not coming and
// requests still take effect in the order they arrived.
type group struct {
	kind wire.Op // wire.OpGet, wire.OpPut for puts and deletes, wire.OpWriteBatch for sync ones; 0 when empty
	ids  []uint64
	ops  []engine.BatchOp // kind, and key/value bounds as offsets into arena
	// arena holds copies of the keys and values: the request bytes alias
	// the reader's buffer, which the next frame overwrites.
	arena  []byte
	bounds [][2]int // each op's key and value lengths
	keys   [][]byte // scratch for MultiGet
}

// maxGroup bounds a group. A full group runs and its replies go out while
// the reader goes on, so the engine process routes them while the sidecar
// serves the next group; measured with 16 callers, groups of 8 beat 4, 16
// and 32 (the larger ones leave one side idle while the other works).
const (
	maxGroup      = 8
	maxGroupBytes = 1 << 20
)

// groupable reports the kind of group a request can join, or 0: gets of
// the default column family without a snapshot; puts and deletes of the
// default column family, the sync ones in groups of their own (one fsync
// for the whole group).
func groupable(r *wire.Request) wire.Op {
	if r.CF != "" || r.NoWAL {
		return 0
	}
	switch r.Op {
	case wire.OpGet:
		if r.Snapshot == 0 {
			return wire.OpGet
		}
	case wire.OpPut, wire.OpDelete:
		if r.Sync {
			return wire.OpWriteBatch
		}
		return wire.OpPut
	}
	return 0
}

// add appends a request; the caller has checked its kind.
func (g *group) add(kind wire.Op, id uint64, r *wire.Request) {
	g.kind = kind
	g.ids = append(g.ids, id)
	op := engine.BatchOp{Kind: engine.OpPut}
	if r.Op == wire.OpDelete {
		op.Kind = engine.OpDelete
	}
	g.arena = append(g.arena, r.Key...)
	g.arena = append(g.arena, r.Value...)
	// Lengths for now; slices are made once the arena has stopped growing.
	g.ops = append(g.ops, op)
	g.bounds = append(g.bounds, [2]int{len(r.Key), len(r.Value)})
}

func (g *group) full() bool { return len(g.ids) >= maxGroup || len(g.arena) >= maxGroupBytes }

func (g *group) reset() {
	g.kind = 0
	g.ids = g.ids[:0]
	g.ops = g.ops[:0]
	g.bounds = g.bounds[:0]
	g.keys = g.keys[:0]
	if cap(g.arena) > 4*maxGroupBytes {
		g.arena = nil
	}
	g.arena = g.arena[:0]
}

// resolve points every op's key and value into the arena.
func (g *group) resolve() {
	off := 0
	for i := range g.ops {
		kl, vl := g.bounds[i][0], g.bounds[i][1]
		g.ops[i].Key = g.arena[off : off+kl : off+kl]
		off += kl
		if g.ops[i].Kind == engine.OpPut {
			g.ops[i].Value = g.arena[off : off+vl : off+vl]
		} else {
			g.ops[i].Value = nil
		}
		off += vl
	}
}

// runGroup executes the pending group, if any, and queues its replies.
func (s *Server) runGroup(scratch []byte) (out []byte) {
	g := &s.group
	if len(g.ids) == 0 {
		return scratch
	}
	defer g.reset()
	g.resolve()
	defer func() {
		if p := recover(); p != nil {
			s.opt.Log.Printf("a group of %d requests panicked: %v\n%s", len(g.ids), p, debug.Stack())
			for _, id := range g.ids {
				scratch = s.replyError(scratch, id, fmt.Errorf("panic: %v", p))
			}
		}
	}()
	if len(g.ids) == 1 {
		// Alone, the plain path is cheaper than the batched one.
		r := wire.Request{Op: wire.OpGet, Key: g.ops[0].Key, Value: g.ops[0].Value, Sync: g.kind == wire.OpWriteBatch}
		if g.kind != wire.OpGet {
			r.Op = wire.OpPut
			if g.ops[0].Kind == engine.OpDelete {
				r.Op = wire.OpDelete
			}
		}
		return s.exec(scratch, g.ids[0], &r)
	}
	s.groups.Add(1)
	s.grouped.Add(uint64(len(g.ids)))
	if g.kind != wire.OpGet {
		sync := g.kind == wire.OpWriteBatch
		err := s.eng.Write(g.ops, false)
		if err == nil && sync {
			s.syncer.await(g.ids...)
			return scratch
		}
		for _, id := range g.ids {
			scratch = s.replyResult(scratch, id, err)
		}
		return scratch
	}
	for _, op := range g.ops {
		g.keys = append(g.keys, op.Key)
	}
	c := s.codec
	err := s.eng.MultiGetFunc(g.keys, engine.ReadOptions{}, func(i int, v []byte, found bool) {
		if !found {
			scratch = s.replyError(scratch, g.ids[i], engine.ErrNotFound)
			return
		}
		b, start := wire.BeginFrame(scratch[:0], g.ids[i])
		b = c.Binary(c.Atom(c.Tuple(c.Begin(b), 2), "ok"), v)
		s.out.send(wire.EndFrame(b, start))
		scratch = b
	})
	if err != nil {
		for _, id := range g.ids {
			scratch = s.replyError(scratch, id, err)
		}
	}
	return scratch
}
