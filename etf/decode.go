package etf

import (
	"fmt"
	"math"
	"math/big"

	"github.com/okeuday/erlang_go/v2/erlang"
)

// Decode checks b and decodes it with erlang_go. Atoms come back as
// erlang.OtpErlangAtom or erlang.OtpErlangAtomUTF8, except true and false
// (bool) and undefined (nil); integers as uint8, int32 or *big.Int.
func Decode(b []byte) (term any, err error) {
	if err := Check(b); err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			term, err = nil, malformed("decoder panic: %v", r)
		}
	}()
	term, err = erlang.BinaryToTerm(b)
	if err != nil {
		return nil, malformed("%v", err)
	}
	return term, nil
}

// AtomName returns the name of an atom as Decode returns it.
func AtomName(t any) (string, bool) {
	switch v := t.(type) {
	case erlang.OtpErlangAtom:
		return string(v), true
	case erlang.OtpErlangAtomUTF8:
		return string(v), true
	case bool:
		if v {
			return "true", true
		}
		return "false", true
	case nil:
		return "undefined", true
	}
	return "", false
}

// Int returns an integer that fits in int64.
func Int(t any) (int64, bool) {
	switch v := t.(type) {
	case uint8:
		return int64(v), true
	case int32:
		return int64(v), true
	case int64:
		return v, true
	case int:
		return int64(v), true
	case uint64:
		if v <= math.MaxInt64 {
			return int64(v), true
		}
	case *big.Int:
		if v.IsInt64() {
			return v.Int64(), true
		}
	}
	return 0, false
}

// Bytes returns the bytes of a binary.
func Bytes(t any) ([]byte, bool) {
	switch v := t.(type) {
	case erlang.OtpErlangBinary:
		return v.Value, v.Bits == 8
	case []byte:
		return v, true
	}
	return nil, false
}

// Seq returns the elements of a tuple or of a proper list.
func Seq(t any) ([]any, bool) {
	switch v := t.(type) {
	case erlang.OtpErlangTuple:
		return v, true
	case erlang.OtpErlangList:
		return v.Value, !v.Improper
	case []any:
		return v, true
	}
	return nil, false
}

// Describe names the type of a decoded term for error messages.
func Describe(t any) string {
	switch t.(type) {
	case erlang.OtpErlangAtom, erlang.OtpErlangAtomUTF8, bool, nil:
		name, _ := AtomName(t)
		return "atom " + name
	case uint8, int32, int64, int, uint64, *big.Int:
		return "integer"
	case float64:
		return "float"
	case erlang.OtpErlangBinary, []byte:
		return "binary"
	case erlang.OtpErlangTuple:
		return "tuple"
	case erlang.OtpErlangList:
		return "list"
	case erlang.OtpErlangMap:
		return "map"
	case string:
		return "charlist"
	}
	return fmt.Sprintf("%T", t)
}
