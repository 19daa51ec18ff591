package merge

import (
	"strconv"
)

// Counter adds signed decimal integers kept as ASCII.
type Counter struct{}

// Name is the operator's name in RocksDB's OPTIONS file.
func (Counter) Name() string { return "CounterMergeOperator" }

// FullMerge adds every operand to the existing value (0 when none).
func (Counter) FullMerge(_, existing []byte, operands [][]byte) ([]byte, bool) {
	var sum int64
	if existing != nil {
		n, ok := parseCount(existing)
		if !ok {
			return nil, false
		}
		sum = n
	}
	for _, op := range operands {
		n, ok := parseCount(op)
		if !ok {
			return nil, false
		}
		sum += n
	}
	return strconv.AppendInt(nil, sum, 10), true
}

// parseCount reads a counter as the NIF's operator does (std::stoi): an
// optional sign and digits, leading blanks allowed, trailing bytes ignored.
func parseCount(b []byte) (int64, bool) {
	i := 0
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n') {
		i++
	}
	start := i
	if i < len(b) && (b[i] == '+' || b[i] == '-') {
		i++
	}
	digits := i
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	if i == digits {
		return 0, false
	}
	n, err := strconv.ParseInt(string(b[start:i]), 10, 32)
	return n, err == nil
}
