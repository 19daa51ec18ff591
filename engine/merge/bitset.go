package merge

import (
	"strconv"
)

// Bitset keeps a bitmap of Bits bits (bit 0 is the high bit of byte 0).
type Bitset struct{ Bits int }

// Name is the operator's name in RocksDB's OPTIONS file.
func (Bitset) Name() string { return "BitsetMergeOperator" }

// FullMerge applies "+N" (set), "-N" (clear) and "" (clear all) to the
// existing bitmap, or to an empty one of Bits bits when there is none.
func (s Bitset) FullMerge(_, existing []byte, operands [][]byte) ([]byte, bool) {
	size := s.Bits / 8
	var bits []byte
	if existing == nil {
		bits = make([]byte, size)
	} else {
		if len(existing) < size {
			return nil, false
		}
		bits = append([]byte(nil), existing...)
	}
	for _, op := range operands {
		if len(op) == 0 {
			clear(bits)
			continue
		}
		pos, err := strconv.Atoi(string(op[1:]))
		if err != nil || pos < 0 || pos>>3 >= len(bits) {
			return nil, false
		}
		mask := byte(0x80) >> (pos & 7)
		switch op[0] {
		case '+':
			bits[pos>>3] |= mask
		case '-':
			bits[pos>>3] &^= mask
		default:
			return nil, false
		}
	}
	return bits, true
}
