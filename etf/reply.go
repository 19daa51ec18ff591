package etf

import (
	"encoding/binary"
	"math"
)

// Atom is an atom in a decoded reply.
type Atom string

// Tuple is a tuple in a decoded reply.
type Tuple []any

// Pair is one entry of a decoded map.
type Pair struct{ Key, Value any }

// Map is a decoded map, in wire order. Replies key maps by binaries, which
// Go cannot hash as []byte, so a map is a list of pairs.
type Map []Pair

// Get returns the value under an atom or binary key.
func (m Map) Get(key string) (any, bool) {
	for _, p := range m {
		switch k := p.Key.(type) {
		case Atom:
			if string(k) == key {
				return p.Value, true
			}
		case []byte:
			if string(k) == key {
				return p.Value, true
			}
		}
	}
	return nil, false
}

// DecodeReply decodes a reply term, as the Go client reads them: Atom,
// []byte (copied), int64 or uint64, float64, Tuple, []any (proper lists)
// and Map. It checks the term first, as Decode does.
func DecodeReply(b []byte) (any, error) {
	if err := check(b, true); err != nil {
		return nil, err
	}
	d := replyDecoder{b: b, pos: 1}
	return d.term(), nil
}

// replyDecoder reads terms that check has already validated, so it need
// not test lengths again.
type replyDecoder struct {
	b   []byte
	pos int
}

func (d *replyDecoder) u8() int {
	d.pos++
	return int(d.b[d.pos-1])
}

func (d *replyDecoder) u16() int {
	d.pos += 2
	return int(binary.BigEndian.Uint16(d.b[d.pos-2:]))
}

func (d *replyDecoder) u32() int {
	d.pos += 4
	return int(binary.BigEndian.Uint32(d.b[d.pos-4:]))
}

func (d *replyDecoder) bytes(n int) []byte {
	d.pos += n
	return append([]byte{}, d.b[d.pos-n:d.pos]...)
}

func (d *replyDecoder) term() any {
	switch tag := d.u8(); tag {
	case tagSmallInteger:
		return int64(d.u8())
	case tagInteger:
		return int64(int32(d.u32()))
	case tagNewFloat:
		d.pos += 8
		return math.Float64frombits(binary.BigEndian.Uint64(d.b[d.pos-8:]))
	case tagSmallBig, tagLargeBig:
		n := 0
		if tag == tagSmallBig {
			n = d.u8()
		} else {
			n = d.u32()
		}
		sign := d.u8()
		var u uint64
		for i := n - 1; i >= 0; i-- {
			u = u<<8 | uint64(d.b[d.pos+i])
		}
		d.pos += n
		switch {
		case sign == 1:
			return -int64(u)
		case u > math.MaxInt64:
			return u
		}
		return int64(u)
	case tagAtom, tagAtomUTF8:
		return Atom(d.bytes(d.u16()))
	case tagSmallAtom, tagSmallAtomUTF8:
		return Atom(d.bytes(d.u8()))
	case tagBinary:
		return d.bytes(d.u32())
	case tagString:
		s := d.bytes(d.u16())
		out := make([]any, len(s))
		for i, c := range s {
			out[i] = int64(c)
		}
		return out
	case tagNil:
		return []any{}
	case tagSmallTuple, tagLargeTuple:
		n := 0
		if tag == tagSmallTuple {
			n = d.u8()
		} else {
			n = d.u32()
		}
		t := make(Tuple, n)
		for i := range t {
			t[i] = d.term()
		}
		return t
	case tagList:
		l := make([]any, d.u32())
		for i := range l {
			l[i] = d.term()
		}
		d.pos++ // the NIL tail; check refused improper lists
		return l
	case tagMap:
		m := make(Map, d.u32())
		for i := range m {
			m[i].Key = d.term()
			m[i].Value = d.term()
		}
		return m
	}
	return nil // unreachable: check refused every other tag
}
