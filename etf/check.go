package etf

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Term tags of the external term format used here.
const (
	tagVersion       = 131
	tagNewFloat      = 70
	tagBitBinary     = 77
	tagAtomCacheRef  = 78
	tagCompressed    = 80
	tagSmallInteger  = 97
	tagInteger       = 98
	tagFloat         = 99
	tagAtom          = 100
	tagSmallTuple    = 104
	tagLargeTuple    = 105
	tagNil           = 106
	tagString        = 107
	tagList          = 108
	tagBinary        = 109
	tagSmallBig      = 110
	tagLargeBig      = 111
	tagMap           = 116
	tagSmallAtom     = 115
	tagAtomUTF8      = 118
	tagSmallAtomUTF8 = 119
)

// MaxDepth bounds how deeply tuples, lists and maps may nest in a request.
const MaxDepth = 64

// ErrMalformed marks every decoding failure; errors.Is(err, ErrMalformed)
// tells a bad request from any other failure.
var ErrMalformed = errors.New("etf: malformed term")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// Check validates b (starting with the version byte 131) without
// allocating: every length against the bytes left, the nesting depth, and
// the tags the sidecar accepts. It also requires that b holds exactly one
// term.
func Check(b []byte) error { return check(b, false) }

// check validates b; anyMapKey lifts the restriction on map keys, for
// replies read by DecodeReply rather than by erlang_go.
func check(b []byte, anyMapKey bool) error {
	if len(b) == 0 {
		return malformed("empty term")
	}
	if b[0] != tagVersion {
		return malformed("version byte is %d, want 131", b[0])
	}
	c := checker{b: b, pos: 1, anyMapKey: anyMapKey}
	if err := c.term(0, false); err != nil {
		return err
	}
	if c.pos != len(b) {
		return malformed("%d bytes after the term", len(b)-c.pos)
	}
	return nil
}

type checker struct {
	b         []byte
	pos       int
	anyMapKey bool
}

func (c *checker) need(n uint64, what string) error {
	if n > uint64(len(c.b)-c.pos) {
		return malformed("%s claims %d bytes, %d left at offset %d", what, n, len(c.b)-c.pos, c.pos)
	}
	return nil
}

func (c *checker) u8(what string) (int, error) {
	if err := c.need(1, what); err != nil {
		return 0, err
	}
	c.pos++
	return int(c.b[c.pos-1]), nil
}

func (c *checker) u16(what string) (int, error) {
	if err := c.need(2, what); err != nil {
		return 0, err
	}
	c.pos += 2
	return int(binary.BigEndian.Uint16(c.b[c.pos-2:])), nil
}

func (c *checker) u32(what string) (uint64, error) {
	if err := c.need(4, what); err != nil {
		return 0, err
	}
	c.pos += 4
	return uint64(binary.BigEndian.Uint32(c.b[c.pos-4:])), nil
}

func (c *checker) skip(n uint64, what string) error {
	if err := c.need(n, what); err != nil {
		return err
	}
	c.pos += int(n)
	return nil
}

// term checks one term. mapKey is set for map keys, which erlang_go can
// only decode when they are hashable in Go (atoms and integers).
func (c *checker) term(depth int, mapKey bool) error {
	if depth > MaxDepth {
		return malformed("nested deeper than %d", MaxDepth)
	}
	tag, err := c.u8("tag")
	if err != nil {
		return err
	}
	if mapKey && !c.anyMapKey {
		switch tag {
		case tagAtom, tagSmallAtom, tagAtomUTF8, tagSmallAtomUTF8, tagSmallInteger, tagInteger:
		default:
			return malformed("map key with tag %d: only atoms and small integers are accepted", tag)
		}
	}
	switch tag {
	case tagSmallInteger:
		return c.skip(1, "small integer")
	case tagInteger:
		return c.skip(4, "integer")
	case tagNewFloat:
		return c.skip(8, "float")
	case tagSmallBig, tagLargeBig:
		var n uint64
		if tag == tagSmallBig {
			v, err := c.u8("big integer length")
			if err != nil {
				return err
			}
			n = uint64(v)
		} else if n, err = c.u32("big integer length"); err != nil {
			return err
		}
		if n > 8 {
			return malformed("integer of %d bytes: at most 64 bits are accepted", n)
		}
		return c.skip(n+1, "big integer")
	case tagAtom, tagAtomUTF8:
		n, err := c.u16("atom length")
		if err != nil {
			return err
		}
		return c.skip(uint64(n), "atom")
	case tagSmallAtom, tagSmallAtomUTF8:
		n, err := c.u8("atom length")
		if err != nil {
			return err
		}
		return c.skip(uint64(n), "atom")
	case tagBinary:
		n, err := c.u32("binary length")
		if err != nil {
			return err
		}
		return c.skip(n, "binary")
	case tagString:
		n, err := c.u16("string length")
		if err != nil {
			return err
		}
		return c.skip(uint64(n), "string")
	case tagNil:
		return nil
	case tagSmallTuple, tagLargeTuple:
		var n uint64
		if tag == tagSmallTuple {
			v, err := c.u8("tuple arity")
			if err != nil {
				return err
			}
			n = uint64(v)
		} else if n, err = c.u32("tuple arity"); err != nil {
			return err
		}
		// Every element takes at least one byte.
		if err := c.need(n, "tuple"); err != nil {
			return err
		}
		for i := uint64(0); i < n; i++ {
			if err := c.term(depth+1, false); err != nil {
				return err
			}
		}
		return nil
	case tagList:
		n, err := c.u32("list length")
		if err != nil {
			return err
		}
		if err := c.need(n+1, "list"); err != nil {
			return err
		}
		for i := uint64(0); i < n; i++ {
			if err := c.term(depth+1, false); err != nil {
				return err
			}
		}
		if c.pos < len(c.b) && c.b[c.pos] == tagNil {
			c.pos++
			return nil
		}
		return malformed("improper list at offset %d", c.pos)
	case tagMap:
		n, err := c.u32("map size")
		if err != nil {
			return err
		}
		if err := c.need(2*n, "map"); err != nil {
			return err
		}
		for i := uint64(0); i < n; i++ {
			if err := c.term(depth+1, true); err != nil {
				return err
			}
			if err := c.term(depth+1, false); err != nil {
				return err
			}
		}
		return nil
	case tagAtomCacheRef:
		return malformed("atom cache references are not accepted")
	case tagCompressed:
		return malformed("compressed terms are not accepted")
	case tagBitBinary:
		return malformed("bit strings are not accepted; send whole bytes")
	case tagFloat:
		return malformed("old FLOAT_EXT is not accepted; send NEW_FLOAT_EXT")
	default:
		return malformed("tag %d (pid, port, reference, fun or unknown) is not accepted", tag)
	}
}

// TermSize returns the length of the one term b starts with (no version
// byte), checked as Check checks it: how a caller walks the elements of
// a list or tuple without decoding them.
func TermSize(b []byte) (int, error) {
	c := checker{b: b, anyMapKey: true}
	if err := c.term(0, false); err != nil {
		return 0, err
	}
	return c.pos, nil
}
