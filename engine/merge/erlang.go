package merge

import (
	"encoding/binary"
	"math"

	"github.com/spiredb/spire-port/etf"
)

// Erlang merges Erlang terms (values written with term_to_binary): an
// integer takes {int_add, N}; a list takes {list_append, L},
// {list_substract, L}, {list_set, Pos, V}, {list_delete, Pos},
// {list_delete, Start, End} and {list_insert, Pos, L}; a binary takes
// {binary_append, B}, {binary_erase, Pos, Count}, {binary_insert, Pos, B}
// and {binary_replace, Pos, Count, B}. Positions count from 0; one past the
// end leaves the value as it is. Without a value, the first operand starts
// it: {int_add, N} is N, {binary_append, B} is B, a list operand applies
// to [].
type Erlang struct{}

// Name is the operator's name in RocksDB's OPTIONS file.
func (Erlang) Name() string { return "ErlangMergeOperator" }

// The ETF tags a merge reads and writes.
const (
	tagVersion  = 131
	tagSmallInt = 97
	tagInt      = 98
	tagSmallBig = 110
	tagSmallTup = 104
	tagNil      = 106
	tagString   = 107
	tagList     = 108
	tagBinary   = 109
	tagAtom     = 100
	tagSmallAt  = 115
	tagAtomUTF8 = 118
	tagSmallAU8 = 119
)

// FullMerge applies the operands in order.
func (Erlang) FullMerge(_, existing []byte, operands [][]byte) ([]byte, bool) {
	if existing != nil {
		body, ok := versioned(existing)
		if !ok {
			return nil, false
		}
		if n, ok := readInt(body); ok {
			return mergeInt(n, operands)
		}
		if elems, ok := readList(body); ok {
			return mergeList(elems, operands)
		}
		if b, ok := readBinary(body); ok {
			return mergeBinary(append([]byte(nil), b...), operands)
		}
		return nil, false
	}
	if len(operands) == 0 {
		return nil, false
	}
	op, ok := readOp(operands[0])
	if !ok || len(op.args) != 1 {
		return nil, false
	}
	switch op.name {
	case "int_add":
		if n, ok := readInt(op.args[0]); ok {
			return mergeInt(n, operands[1:])
		}
	case "list_append", "list_substract":
		if _, ok := readList(op.args[0]); ok {
			return mergeList(nil, operands)
		}
	case "binary_append":
		if b, ok := readBinary(op.args[0]); ok {
			return mergeBinary(append([]byte(nil), b...), operands[1:])
		}
	}
	return nil, false
}

func mergeInt(n int64, operands [][]byte) ([]byte, bool) {
	for _, raw := range operands {
		op, ok := readOp(raw)
		if !ok || op.name != "int_add" || len(op.args) != 1 {
			return nil, false
		}
		add, ok := readInt(op.args[0])
		if !ok {
			return nil, false
		}
		n += add
	}
	return etf.AppendInt([]byte{tagVersion}, n), true
}

func mergeList(elems [][]byte, operands [][]byte) ([]byte, bool) {
	for _, raw := range operands {
		op, ok := readOp(raw)
		if !ok {
			return nil, false
		}
		if elems, ok = applyListOp(elems, op); !ok {
			return nil, false
		}
	}
	out := []byte{tagVersion}
	if len(elems) == 0 {
		return append(out, tagNil), true
	}
	out = append(out, tagList)
	out = binary.BigEndian.AppendUint32(out, uint32(len(elems)))
	for _, e := range elems {
		out = append(out, e...)
	}
	return append(out, tagNil), true
}

func applyListOp(elems [][]byte, op operand) ([][]byte, bool) {
	switch {
	case op.name == "list_append" && len(op.args) == 1:
		more, ok := readList(op.args[0])
		return append(elems, more...), ok
	case op.name == "list_substract" && len(op.args) == 1:
		drop, ok := readList(op.args[0])
		if !ok {
			return nil, false
		}
		for _, d := range drop {
			for i, e := range elems {
				if sameTerm(e, d) {
					elems = append(elems[:i:i], elems[i+1:]...)
					break
				}
			}
		}
		return elems, true
	case op.name == "list_delete" && len(op.args) == 1:
		pos, ok := readPos(op.args[0])
		if ok && pos < len(elems) {
			elems = append(elems[:pos:pos], elems[pos+1:]...)
		}
		return elems, ok
	case op.name == "list_delete" && len(op.args) == 2:
		start, ok1 := readPos(op.args[0])
		end, ok2 := readPos(op.args[1])
		if !ok1 || !ok2 || start >= end {
			return nil, false
		}
		if end < len(elems) {
			elems = append(elems[:start:start], elems[end+1:]...)
		}
		return elems, true
	case op.name == "list_set" && len(op.args) == 2:
		pos, ok := readPos(op.args[0])
		if ok && pos < len(elems) {
			elems = append([][]byte(nil), elems...)
			elems[pos] = op.args[1]
		}
		return elems, ok
	case op.name == "list_insert" && len(op.args) == 2:
		pos, ok := readPos(op.args[0])
		more, ok2 := readList(op.args[1])
		if !ok || !ok2 {
			return nil, false
		}
		if pos < len(elems) {
			out := make([][]byte, 0, len(elems)+len(more))
			out = append(append(append(out, elems[:pos]...), more...), elems[pos:]...)
			elems = out
		}
		return elems, true
	}
	return nil, false
}

func mergeBinary(b []byte, operands [][]byte) ([]byte, bool) {
	for _, raw := range operands {
		op, ok := readOp(raw)
		if !ok {
			return nil, false
		}
		if b, ok = applyBinaryOp(b, op); !ok {
			return nil, false
		}
	}
	out := append([]byte{tagVersion, tagBinary}, 0, 0, 0, 0)
	binary.BigEndian.PutUint32(out[2:], uint32(len(b)))
	return append(out, b...), true
}

func applyBinaryOp(b []byte, op operand) ([]byte, bool) {
	switch {
	case op.name == "binary_append" && len(op.args) == 1:
		more, ok := readBinary(op.args[0])
		return append(b, more...), ok
	case op.name == "binary_erase" && len(op.args) == 2:
		pos, ok1 := readPos(op.args[0])
		count, ok2 := readPos(op.args[1])
		if !ok1 || !ok2 {
			return nil, false
		}
		if pos < len(b) {
			end := min(pos+count, len(b))
			b = append(b[:pos:pos], b[end:]...)
		}
		return b, true
	case op.name == "binary_insert" && len(op.args) == 2:
		pos, ok1 := readPos(op.args[0])
		chunk, ok2 := readBinary(op.args[1])
		if !ok1 || !ok2 {
			return nil, false
		}
		if pos <= len(b) {
			b = append(append(append([]byte(nil), b[:pos]...), chunk...), b[pos:]...)
		}
		return b, true
	case op.name == "binary_replace" && len(op.args) == 3:
		pos, ok1 := readPos(op.args[0])
		count, ok2 := readPos(op.args[1])
		chunk, ok3 := readBinary(op.args[2])
		if !ok1 || !ok2 || !ok3 {
			return nil, false
		}
		if pos+count < len(b) {
			b = append(append(append([]byte(nil), b[:pos]...), chunk...), b[pos+count:]...)
		}
		return b, true
	}
	return nil, false
}

// operand is a decoded {Name, Args...} tuple; args are raw terms.
type operand struct {
	name string
	args [][]byte
}

func readOp(raw []byte) (operand, bool) {
	body, ok := versioned(raw)
	if !ok || len(body) < 2 || body[0] != tagSmallTup || body[1] < 2 {
		return operand{}, false
	}
	parts, ok := splitTerms(body[2:], int(body[1]))
	if !ok {
		return operand{}, false
	}
	name, ok := readAtom(parts[0])
	return operand{name: name, args: parts[1:]}, ok
}

// versioned strips the version byte of a whole term.
func versioned(b []byte) ([]byte, bool) {
	if len(b) < 2 || b[0] != tagVersion {
		return nil, false
	}
	if n, err := etf.TermSize(b[1:]); err != nil || n != len(b)-1 {
		return nil, false
	}
	return b[1:], true
}

// splitTerms cuts b into exactly n terms.
func splitTerms(b []byte, n int) ([][]byte, bool) {
	out := make([][]byte, 0, n)
	for i := 0; i < n; i++ {
		size, err := etf.TermSize(b)
		if err != nil {
			return nil, false
		}
		out = append(out, b[:size])
		b = b[size:]
	}
	return out, len(b) == 0
}

func readInt(t []byte) (int64, bool) {
	switch {
	case len(t) == 2 && t[0] == tagSmallInt:
		return int64(t[1]), true
	case len(t) == 5 && t[0] == tagInt:
		return int64(int32(binary.BigEndian.Uint32(t[1:]))), true
	case len(t) >= 3 && t[0] == tagSmallBig && int(t[1]) == len(t)-3 && t[1] <= 8:
		var u uint64
		for i := int(t[1]) - 1; i >= 0; i-- {
			u = u<<8 | uint64(t[3+i])
		}
		if t[2] == 0 && u <= math.MaxInt64 {
			return int64(u), true
		}
		if t[2] == 1 && u <= 1<<63 {
			return int64(-u), true // -(1<<63) wraps to itself: MinInt64
		}
	}
	return 0, false
}

// readPos reads a position or count as the NIF's enif_get_uint does.
func readPos(t []byte) (int, bool) {
	n, ok := readInt(t)
	if !ok || n < 0 || n > math.MaxUint32 {
		return 0, false
	}
	return int(n), true
}

func readBinary(t []byte) ([]byte, bool) {
	if len(t) < 5 || t[0] != tagBinary || int(binary.BigEndian.Uint32(t[1:])) != len(t)-5 {
		return nil, false
	}
	return t[5:], true
}

func readAtom(t []byte) (string, bool) {
	switch {
	case len(t) >= 3 && (t[0] == tagAtom || t[0] == tagAtomUTF8):
		return string(t[3:]), int(binary.BigEndian.Uint16(t[1:])) == len(t)-3
	case len(t) >= 2 && (t[0] == tagSmallAt || t[0] == tagSmallAU8):
		return string(t[2:]), int(t[1]) == len(t)-2
	}
	return "", false
}

// readList reads a proper list's elements (a string of bytes gives small
// integers, as binary_to_term reads it).
func readList(t []byte) ([][]byte, bool) {
	switch {
	case len(t) == 1 && t[0] == tagNil:
		return nil, true
	case len(t) >= 3 && t[0] == tagString:
		n := int(binary.BigEndian.Uint16(t[1:]))
		if n != len(t)-3 {
			return nil, false
		}
		out := make([][]byte, n)
		for i := range out {
			out[i] = []byte{tagSmallInt, t[3+i]}
		}
		return out, true
	case len(t) >= 6 && t[0] == tagList:
		n := int(binary.BigEndian.Uint32(t[1:]))
		if n > len(t) {
			return nil, false
		}
		parts, ok := splitTerms(t[5:], n+1)
		if !ok || len(parts[n]) != 1 || parts[n][0] != tagNil {
			return nil, false // an improper list
		}
		return parts[:n], true
	}
	return nil, false
}

// sameTerm compares two encoded terms as Erlang's == would for the terms
// lists usually hold: byte for byte, with atoms compared by name whichever
// of the four atom encodings each came in.
func sameTerm(a, b []byte) bool {
	if na, ok := readAtom(a); ok {
		nb, ok := readAtom(b)
		return ok && na == nb
	}
	return string(a) == string(b)
}
