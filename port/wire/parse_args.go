package wire

import (
	"math"

	"github.com/spiredb/spire-port/engine/kv"
)

func (p *termParser) arg(r *Request, op string, pos int, kind argKind) error {
	switch kind {
	case argName:
		name, ok := p.text()
		if !ok || name == "" {
			return Badf("%s: argument %d must be a non-empty binary, got %s", op, pos, p.describe())
		}
		r.Name = name
	case argKey, argValue, argEnd:
		b, ok := p.binary()
		if !ok {
			return Badf("%s: argument %d must be a binary, got %s", op, pos, p.describe())
		}
		switch kind {
		case argKey:
			r.Key = b
		case argValue:
			r.Value = b
		case argEnd:
			r.End = b
		}
	case argBound:
		var b []byte
		if a, ok := p.atom(); ok {
			if s := string(a); s != "nil" && s != "undefined" {
				return Badf("%s: argument %d must be a binary or nil, got atom %s", op, pos, truncate(s))
			}
		} else if v, ok := p.binary(); ok {
			b = v
		} else {
			return Badf("%s: argument %d must be a binary or nil, got %s", op, pos, p.describe())
		}
		if pos == 1 {
			r.Key, r.HasStart = b, len(b) > 0
		} else {
			r.End, r.HasEnd = b, len(b) > 0
		}
	case argKeys:
		n, list, ok := p.seq()
		if !ok {
			return Badf("%s: argument %d must be a list of binaries, got %s", op, pos, p.describe())
		}
		for i := 0; i < n; i++ {
			k, ok := p.binary()
			if !ok {
				return Badf("%s: key %d must be a binary, got %s", op, i+1, p.describe())
			}
			r.Keys = append(r.Keys, k)
		}
		if !p.seqEnd(list) {
			return Badf("%s: argument %d must be a proper list", op, pos)
		}
	case argBatch:
		return p.batch(r, op)
	case argID:
		v, ok := p.int()
		if !ok || v < 0 {
			return Badf("%s: argument %d must be a non-negative integer id, got %s", op, pos, p.describe())
		}
		r.ID = uint64(v)
	case argMove:
		return p.move(r, op, pos)
	case argBackupID:
		if a, ok := p.atom(); ok && string(a) == "latest" {
			r.ID = 0
			return nil
		}
		v, ok := p.int()
		if !ok || v < 1 || v > math.MaxUint32 {
			return Badf("%s: argument %d must be a backup id (1 .. 4294967295) or latest, got %s", op, pos, p.describe())
		}
		r.ID = uint64(v)
	case argBackupNum, argKeep:
		// Backup ids are 32 bits in RocksDB: a larger one must not wrap
		// onto another backup.
		least, what := int64(1), "a backup id (1 .. 4294967295)"
		if kind == argKeep {
			least, what = 0, "a count of backups to keep (0 .. 4294967295)"
		}
		v, ok := p.int()
		if !ok || v < least || v > math.MaxUint32 {
			return Badf("%s: argument %d must be %s, got %s", op, pos, what, p.describe())
		}
		r.ID = uint64(v)
	case argRanges:
		return p.ranges(r, op, pos)
	case argSizeFlag:
		a, _ := p.atom()
		switch string(a) {
		case "include_both":
			r.SizeFiles, r.SizeMemtables = true, true
		case "include_files":
			r.SizeFiles = true
		case "include_memtables":
			r.SizeMemtables = true
		default:
			return Badf("%s: argument %d must be include_both, include_files or include_memtables", op, pos)
		}
	case argThreads:
		v, ok := p.int()
		if !ok || v < 0 || v > MaxBackgroundThreads {
			return Badf("%s: argument %d must be a thread count (0 .. %d), got %s", op, pos, MaxBackgroundThreads, p.describe())
		}
		r.ID = uint64(v)
	case argPriority:
		a, _ := p.atom()
		if string(a) != "priority_low" && string(a) != "priority_high" {
			return Badf("%s: argument %d must be priority_low or priority_high", op, pos)
		}
		r.Name = string(a)
	case argTarget:
		name, ok := p.text()
		if !ok || name == "" {
			return Badf("%s: argument %d must be a non-empty binary, got %s", op, pos, p.describe())
		}
		r.Target = name
	}
	return nil
}

// moves names the iterator moves; the keyed ones come as {Name, Key}.
var moves = map[string]kv.MoveKind{"first": kv.MoveFirst, "last": kv.MoveLast,
	"next": kv.MoveNext, "prev": kv.MovePrev, "seek": kv.MoveSeek,
	"seek_for_prev": kv.MoveSeekForPrev}

// move reads first | last | next | prev | {seek, K} | {seek_for_prev, K} |
// {next, K} | {prev, K}.
func (p *termParser) move(r *Request, op string, pos int) error {
	bad := func() error {
		return Badf("%s: argument %d must be first, last, next, prev or {seek | seek_for_prev | next | prev, Key}, got %s",
			op, pos, p.describe())
	}
	start := p.pos
	if name, ok := p.atom(); ok {
		kind := moves[string(name)]
		if kind == 0 || kind == kv.MoveSeek || kind == kv.MoveSeekForPrev {
			p.pos = start
			return bad()
		}
		r.Move = kv.Move{Kind: kind}
		return nil
	}
	if n, list, ok := p.seq(); ok && n == 2 && !list {
		if name, ok := p.atom(); ok {
			kind := moves[string(name)]
			if key, ok := p.binary(); ok && kind != 0 && kind != kv.MoveFirst && kind != kv.MoveLast {
				r.Move = kv.Move{Kind: kind, Key: key, Keyed: true}
				return nil
			}
		}
	}
	p.pos = start
	return bad()
}

// ranges reads [{Start, Limit}] of binaries.
func (p *termParser) ranges(r *Request, op string, pos int) error {
	if k := p.peek(); k != 106 && k != 108 {
		return Badf("%s: argument %d must be a list of {Start, Limit}, got %s", op, pos, p.describe())
	}
	n, list, _ := p.seq()
	for i := 0; i < n; i++ {
		arity, isList, ok := p.seq()
		if !ok || isList || arity != 2 {
			return Badf("%s: range %d must be {Start, Limit}, got %s", op, i+1, p.describe())
		}
		start, ok1 := p.binary()
		limit, ok2 := p.binary()
		if !ok1 || !ok2 {
			return Badf("%s: range %d must hold two binaries", op, i+1)
		}
		r.Ranges = append(r.Ranges, kv.KeyRange{Start: start, Limit: limit})
	}
	if !p.seqEnd(list) {
		return Badf("%s: argument %d must be a proper list", op, pos)
	}
	return nil
}
