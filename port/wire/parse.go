package wire

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/spiredb/spire-port/engine/kv"
	"github.com/spiredb/spire-port/etf"
)

// parse turns one request body into a request, in one pass over its ETF
// bytes (the msgpack codec transcodes to ETF first). It is the only parser
// of the request grammar: the hot requests and the rare ones take the same
// way.
//
// Why not decode to a term first: a declared list length is a claim, and a
// decoder that builds a term of N elements before the grammar looks at
// them turns 8 MiB of one-byte elements into a gigabyte of Go values. Here
// every element is checked before anything is kept for it, slices grow by
// append, so memory stays within a small multiple of the frame's bytes,
// and a bad element stops the walk at once.
//
// Returned byte slices alias body.
func Parse(body []byte) (Request, error) {
	p := termParser{b: body}
	r, err := p.request()
	if err != nil {
		// A malformed term gets the checker's precise message; a well
		// formed term that breaks the grammar gets the parser's.
		if cerr := etf.Check(body); cerr != nil {
			return Request{}, cerr
		}
		return Request{}, err
	}
	return r, nil
}

// termParser walks ETF bytes. Each reader returns ok=false without moving
// when the next term is not of the kind asked for, so the caller can name
// what it found.
type termParser struct {
	b   []byte
	pos int
}

func (p *termParser) peek() byte {
	if p.pos < len(p.b) {
		return p.b[p.pos]
	}
	return 0
}

func (p *termParser) take(n uint64) ([]byte, bool) {
	if n > uint64(len(p.b)-p.pos) {
		return nil, false
	}
	s := p.b[p.pos : p.pos+int(n) : p.pos+int(n)]
	p.pos += int(n)
	return s, true
}

func (p *termParser) uint(width int) (uint64, bool) {
	v, ok := p.take(uint64(width))
	if !ok {
		return 0, false
	}
	switch width {
	case 1:
		return uint64(v[0]), true
	case 2:
		return uint64(binary.BigEndian.Uint16(v)), true
	}
	return uint64(binary.BigEndian.Uint32(v)), true
}

// atom reads any of the four atom encodings (OTP 25 writes ATOM_EXT, OTP
// 26 and later SMALL_ATOM_UTF8_EXT).
func (p *termParser) atom() ([]byte, bool) {
	start := p.pos
	var n uint64
	var ok bool
	switch p.peek() {
	case 100, 118:
		p.pos++
		n, ok = p.uint(2)
	case 115, 119:
		p.pos++
		n, ok = p.uint(1)
	}
	if ok {
		var name []byte
		if name, ok = p.take(n); ok {
			return name, true
		}
	}
	p.pos = start
	return nil, false
}

func (p *termParser) binary() ([]byte, bool) {
	start := p.pos
	if p.peek() == 109 {
		p.pos++
		if n, ok := p.uint(4); ok {
			if v, ok := p.take(n); ok {
				return v, true
			}
		}
	}
	p.pos = start
	return nil, false
}

// text reads a name: a binary, or an atom (msgpack strings arrive as atoms).
func (p *termParser) text() (string, bool) {
	if b, ok := p.binary(); ok {
		return string(b), true
	}
	if a, ok := p.atom(); ok {
		return string(a), true
	}
	return "", false
}

// int reads an integer that fits in int64.
func (p *termParser) int() (int64, bool) {
	start := p.pos
	switch p.peek() {
	case 97:
		p.pos++
		if v, ok := p.uint(1); ok {
			return int64(v), true
		}
	case 98:
		p.pos++
		if v, ok := p.uint(4); ok {
			return int64(int32(uint32(v))), true
		}
	case 110, 111:
		width := 1
		if p.peek() == 111 {
			width = 4
		}
		p.pos++
		n, ok := p.uint(width)
		if ok && n <= 8 {
			var sign []byte
			if sign, ok = p.take(1); ok {
				var digits []byte
				if digits, ok = p.take(n); ok {
					var u uint64
					for i := len(digits) - 1; i >= 0; i-- {
						u = u<<8 | uint64(digits[i])
					}
					switch {
					case sign[0] == 0 && u <= math.MaxInt64:
						return int64(u), true
					case sign[0] != 0 && u <= 1<<63:
						return int64(-u), true
					}
				}
			}
		}
	}
	p.pos = start
	return 0, false
}

// seq reads the header of a tuple or a proper list: both stand for a
// sequence (msgpack arrays arrive as tuples). list tells seqEnd whether a
// list tail follows the elements.
func (p *termParser) seq() (n int, list bool, ok bool) {
	start := p.pos
	var v uint64
	switch p.peek() {
	case 104:
		p.pos++
		v, ok = p.uint(1)
	case 105:
		p.pos++
		v, ok = p.uint(4)
	case 106:
		p.pos++
		return 0, false, true
	case 108:
		p.pos++
		v, ok = p.uint(4)
		list = true
	}
	// Every element takes at least one byte: a count the bytes left cannot
	// hold is refused before anything is sized from it.
	if !ok || v > uint64(len(p.b)-p.pos) {
		p.pos = start
		return 0, false, false
	}
	return int(v), list, true
}

func (p *termParser) seqEnd(list bool) bool {
	if !list {
		return true
	}
	if p.peek() == 106 {
		p.pos++
		return true
	}
	return false
}

// describe names the kind of the next term for an error message.
func (p *termParser) describe() string {
	switch p.peek() {
	case 100, 115, 118, 119:
		q := *p
		if a, ok := q.atom(); ok {
			return "atom " + truncate(string(a))
		}
		return "atom"
	case 97, 98, 110, 111:
		return "integer"
	case 70, 99:
		return "float"
	case 109, 77:
		return "binary"
	case 104, 105:
		return "tuple"
	case 106, 108:
		return "list"
	case 107:
		return "charlist"
	case 116:
		return "map"
	case 0:
		return "nothing"
	}
	return fmt.Sprintf("a term with tag %d", p.peek())
}

// request reads {Op, Args..., Opts?}.
func (p *termParser) request() (Request, error) {
	var r Request
	if !p.byte(131) {
		return r, Badf("a request starts with the version byte 131")
	}
	n, list, ok := p.seq()
	if !ok || n == 0 {
		return r, Badf("a request is a tuple {op, args...}, got %s", p.describeAt(1))
	}
	name, ok := p.atom()
	if !ok {
		return r, Badf("the op must be an atom, got %s", p.describe())
	}
	o, ok := opsByName[string(name)]
	if !ok {
		return r, Badf("unknown op %q", truncate(string(name)))
	}
	spec := specs[o]
	r.Op = o
	args := n - 1
	if args != len(spec.args) && !(spec.opts != 0 && args == len(spec.args)+1) {
		want := fmt.Sprint(len(spec.args) + 1)
		if spec.opts != 0 {
			want += " or " + fmt.Sprint(len(spec.args)+2)
		}
		return r, Badf("%s: wrong arity %d, want %s", spec.name, n, want)
	}
	for i, kind := range spec.args {
		if err := p.arg(&r, spec.name, i+1, kind); err != nil {
			return r, err
		}
	}
	r.Plain = true
	if args > len(spec.args) {
		if err := p.options(&r, spec); err != nil {
			return r, err
		}
	}
	if !p.seqEnd(list) {
		return r, Badf("a request is a tuple {op, args...}, got an improper list")
	}
	if p.pos != len(p.b) {
		return r, Badf("%d bytes after the request", len(p.b)-p.pos)
	}
	return r, nil
}

// describeAt describes the term at byte offset off.
func (p *termParser) describeAt(off int) string {
	q := termParser{b: p.b, pos: off}
	return q.describe()
}

func (p *termParser) byte(want byte) bool {
	if p.peek() == want && p.pos < len(p.b) {
		p.pos++
		return true
	}
	return false
}

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

// batch reads [{put, K, V} | {put, CF, K, V} | {delete, K} | {delete, CF, K}
// | {delete_range, S, E} | {delete_range, CF, S, E} | {merge, K, V} |
// {merge, CF, K, V}].
func (p *termParser) batch(r *Request, op string) error {
	n, list, ok := p.seq()
	if !ok {
		return Badf("%s: the batch must be a list, got %s", op, p.describe())
	}
	for i := 0; i < n; i++ {
		arity, _, ok := p.seq()
		if !ok || arity < 2 {
			return Badf("%s: entry %d must be {put, k, v}, {delete, k} or {delete_range, s, e}, got %s", op, i+1, p.describe())
		}
		kindName, _ := p.atom()
		var b kv.BatchOp
		var want int
		switch string(kindName) {
		case "put":
			b.Kind, want = kv.OpPut, 3
		case "delete":
			b.Kind, want = kv.OpDelete, 2
		case "delete_range":
			b.Kind, want = kv.OpDeleteRange, 3
		case "merge":
			b.Kind, want = kv.OpMerge, 3
		default:
			if kindName == nil {
				return Badf("%s: entry %d has unknown kind %s", op, i+1, p.describe())
			}
			return Badf("%s: entry %d has unknown kind atom %s", op, i+1, truncate(string(kindName)))
		}
		fields := arity - 1
		if arity == want+1 {
			cf, ok := p.text()
			if !ok {
				return Badf("%s: entry %d: the column family must be a binary, got %s", op, i+1, p.describe())
			}
			b.CF = cf
			fields--
		} else if arity != want {
			return Badf("%s: entry %d: %s takes %d or %d elements, got %d", op, i+1, kindName, want, want+1, arity)
		}
		for j := 0; j < fields; j++ {
			v, ok := p.binary()
			if !ok {
				return Badf("%s: entry %d: element %d must be a binary, got %s", op, i+1, arity-fields+j+1, p.describe())
			}
			if j == 0 {
				b.Key = v
			} else {
				b.Value = v
			}
		}
		r.Batch = append(r.Batch, b)
	}
	if !p.seqEnd(list) {
		return Badf("%s: the batch must be a proper list", op)
	}
	return nil
}

// options reads a proplist [{Key, Value}] or a map #{Key => Value}.
func (p *termParser) options(r *Request, spec opSpec) error {
	if p.peek() == 116 {
		p.pos++
		n, ok := p.uint(4)
		if !ok || n > uint64(len(p.b)-p.pos) {
			return Badf("%s: the options map is truncated", spec.name)
		}
		for i := uint64(0); i < n; i++ {
			if err := p.option(r, spec); err != nil {
				return err
			}
		}
		r.Plain = r.Plain && n == 0
		return nil
	}
	n, list, ok := p.seq()
	if !ok {
		return Badf("%s: options must be a list or a map, got %s", spec.name, p.describe())
	}
	for i := 0; i < n; i++ {
		if arity, _, ok := p.seq(); !ok || arity != 2 {
			return Badf("%s: each option must be {key, value}, got %s", spec.name, p.describe())
		}
		if err := p.option(r, spec); err != nil {
			return err
		}
	}
	if !p.seqEnd(list) {
		return Badf("%s: options must be a proper list", spec.name)
	}
	r.Plain = r.Plain && n == 0
	return nil
}

// option reads one Key, Value pair.
func (p *termParser) option(r *Request, spec opSpec) error {
	key, ok := p.atom()
	if !ok {
		return Badf("%s: option names are atoms, got %s", spec.name, p.describe())
	}
	name := string(key)
	bit := optionBits[name]
	if bit == 0 || spec.opts&bit == 0 {
		return Badf("%s: unknown option %q", spec.name, truncate(name))
	}
	switch bit {
	case optCF:
		cf, ok := p.text()
		if !ok || cf == "" {
			return Badf("%s: cf must be a non-empty binary, got %s", spec.name, p.describe())
		}
		r.CF = cf
	case optSync, optPacked, optFillCache, optTotalOrder, optPrefixSame, optFlush, optFlat:
		v, ok := p.bool()
		if !ok {
			return Badf("%s: %s must be true or false, got %s", spec.name, name, p.describe())
		}
		switch bit {
		case optSync:
			r.Sync = v
		case optPacked:
			r.Packed = v
		case optFillCache:
			r.NoFillCache = !v
		case optTotalOrder:
			r.TotalOrderSeek = v
		case optPrefixSame:
			r.PrefixSameAsStart = v
		case optFlush:
			r.Flush = v
		case optFlat:
			r.Flat = v
		}
	case optRateLimit, optProgressEvery:
		// A backup holds a worker and the engine open until it ends: a rate
		// of a few bytes a second, or a progress report per byte, would let
		// one request hold them (and a shutdown) for days.
		n, ok := p.int()
		if bit == optRateLimit && (!ok || (n != 0 && (n < MinBackupRate || n > MaxBackupRate))) {
			return Badf("%s: rate_limit_bytes_per_sec must be 0 (no limit) or %d .. %d, got %s",
				spec.name, MinBackupRate, MaxBackupRate, p.describeInt(ok, n))
		}
		if bit == optProgressEvery && (!ok || (n != 0 && n < MinProgressEvery)) {
			return Badf("%s: progress_every_bytes must be 0 (the default) or at least %d, got %s",
				spec.name, MinProgressEvery, p.describeInt(ok, n))
		}
		if bit == optRateLimit {
			r.RateLimit = uint64(n)
		} else {
			r.ProgressEvery = uint64(n)
		}
	case optBatchSize:
		n, ok := p.int()
		if !ok || n < 1 || n > kv.MaxBatchSize {
			return Badf("%s: batch_size must be an integer 1 .. %d, got %s", spec.name, kv.MaxBatchSize, p.describeInt(ok, n))
		}
		r.BatchSize = int(n)
	case optLimit:
		n, ok := p.int()
		if !ok || n < 0 {
			return Badf("%s: limit must be an integer 0 .. %d (0 = no limit), got %s", spec.name, int64(math.MaxInt64), p.describeInt(ok, n))
		}
		r.Limit = int(n)
	case optSnapshot:
		n, ok := p.int()
		if !ok || n < 1 {
			return Badf("%s: snapshot must be a snapshot id, got %s", spec.name, p.describeInt(ok, n))
		}
		r.Snapshot = uint64(n)
	case optLowerBound, optUpperBound:
		b, ok := p.binary()
		if !ok {
			return Badf("%s: %s must be a binary, got %s", spec.name, name, p.describe())
		}
		if b == nil {
			b = []byte{} // an empty bound is still a bound
		}
		if bit == optLowerBound {
			r.Lower = b
		} else {
			r.Upper = b
		}
	case optReadahead:
		n, ok := p.int()
		if !ok || n < 0 || n > math.MaxInt32 {
			return Badf("%s: readahead_size must be an integer 0 .. %d, got %s", spec.name, math.MaxInt32, p.describeInt(ok, n))
		}
		r.Readahead = int(n)
	case optAhead:
		n, ok := p.int()
		if !ok || n < 0 || n >= kv.MaxBatchSize {
			return Badf("%s: ahead must be an integer 0 .. %d, got %s", spec.name, kv.MaxBatchSize-1, p.describeInt(ok, n))
		}
		r.Ahead = int(n)
	}
	return nil
}

func (p *termParser) bool() (bool, bool) {
	start := p.pos
	if a, ok := p.atom(); ok {
		switch string(a) {
		case "true":
			return true, true
		case "false":
			return false, true
		}
	}
	p.pos = start
	return false, false
}

// describeInt names a term an integer option could not take: the value
// when it was an integer, else its kind.
func (p *termParser) describeInt(wasInt bool, n int64) string {
	if wasInt {
		return fmt.Sprint(n)
	}
	return p.describe()
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
