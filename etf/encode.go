package etf

import (
	"encoding/binary"
	"math"
)

// AppendVersion starts a term.
func AppendVersion(dst []byte) []byte { return append(dst, tagVersion) }

// AppendAtom appends an atom as SMALL_ATOM_UTF8_EXT (names < 256 bytes) or
// ATOM_UTF8_EXT.
func AppendAtom(dst []byte, name string) []byte {
	if len(name) <= math.MaxUint8 {
		dst = append(dst, tagSmallAtomUTF8, byte(len(name)))
	} else {
		dst = append(dst, tagAtomUTF8, byte(len(name)>>8), byte(len(name)))
	}
	return append(dst, name...)
}

// AppendBinary appends a binary.
func AppendBinary(dst []byte, b []byte) []byte {
	dst = append(dst, tagBinary, 0, 0, 0, 0)
	binary.BigEndian.PutUint32(dst[len(dst)-4:], uint32(len(b)))
	return append(dst, b...)
}

// AppendString appends s as a binary.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, tagBinary, 0, 0, 0, 0)
	binary.BigEndian.PutUint32(dst[len(dst)-4:], uint32(len(s)))
	return append(dst, s...)
}

// AppendInt appends an integer in the smallest encoding, as erlang_go does.
func AppendInt(dst []byte, n int64) []byte {
	switch {
	case n >= 0 && n <= math.MaxUint8:
		return append(dst, tagSmallInteger, byte(n))
	case n >= math.MinInt32 && n <= math.MaxInt32:
		dst = append(dst, tagInteger, 0, 0, 0, 0)
		binary.BigEndian.PutUint32(dst[len(dst)-4:], uint32(int32(n)))
		return dst
	}
	sign := byte(0)
	u := uint64(n)
	if n < 0 {
		sign, u = 1, uint64(-n)
	}
	return appendBig(dst, sign, u)
}

// AppendUint appends an unsigned integer.
func AppendUint(dst []byte, n uint64) []byte {
	if n <= math.MaxInt64 {
		return AppendInt(dst, int64(n))
	}
	return appendBig(dst, 0, n)
}

func appendBig(dst []byte, sign byte, u uint64) []byte {
	lenAt := len(dst) + 1
	dst = append(dst, tagSmallBig, 0, sign)
	n := 0
	for ; u > 0; u >>= 8 {
		dst = append(dst, byte(u))
		n++
	}
	dst[lenAt] = byte(n)
	return dst
}

// AppendFloat appends a float as NEW_FLOAT_EXT.
func AppendFloat(dst []byte, f float64) []byte {
	dst = append(dst, tagNewFloat, 0, 0, 0, 0, 0, 0, 0, 0)
	binary.BigEndian.PutUint64(dst[len(dst)-8:], math.Float64bits(f))
	return dst
}

// AppendTupleHeader starts a tuple of n elements.
func AppendTupleHeader(dst []byte, n int) []byte {
	if n <= math.MaxUint8 {
		return append(dst, tagSmallTuple, byte(n))
	}
	dst = append(dst, tagLargeTuple, 0, 0, 0, 0)
	binary.BigEndian.PutUint32(dst[len(dst)-4:], uint32(n))
	return dst
}

// AppendListHeader starts a proper list of n > 0 elements; end it with
// AppendNil. An empty list is AppendNil alone.
func AppendListHeader(dst []byte, n int) []byte {
	dst = append(dst, tagList, 0, 0, 0, 0)
	binary.BigEndian.PutUint32(dst[len(dst)-4:], uint32(n))
	return dst
}

// AppendNil appends [] (or ends a list).
func AppendNil(dst []byte) []byte { return append(dst, tagNil) }

// AppendMapHeader starts a map of n key/value pairs.
func AppendMapHeader(dst []byte, n int) []byte {
	dst = append(dst, tagMap, 0, 0, 0, 0)
	binary.BigEndian.PutUint32(dst[len(dst)-4:], uint32(n))
	return dst
}

// ListMark is where a list whose length is not known yet begins.
type ListMark int

// BeginList reserves a list header to be completed by EndList.
func BeginList(dst []byte) ([]byte, ListMark) {
	mark := ListMark(len(dst))
	return append(dst, tagList, 0, 0, 0, 0), mark
}

// EndList completes a list begun at mark with n elements appended since.
func EndList(dst []byte, mark ListMark, n int) []byte {
	if n == 0 {
		// An empty list is NIL_EXT alone; nothing was written after the header.
		return append(dst[:mark], tagNil)
	}
	binary.BigEndian.PutUint32(dst[int(mark)+1:], uint32(n))
	return append(dst, tagNil)
}
