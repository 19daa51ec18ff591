package wire

import (
	"encoding/binary"
	"fmt"
	"math"

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

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
