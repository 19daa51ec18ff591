package engine

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// RocksDB's write-batch record tags that a batch from outside may hold.
const (
	recDeletion         = 0x0
	recValue            = 0x1
	recMerge            = 0x2
	recLogData          = 0x3
	recCFDeletion       = 0x4
	recCFValue          = 0x5
	recCFMerge          = 0x6
	recSingleDeletion   = 0x7
	recCFSingleDeletion = 0x8
	recCFRangeDeletion  = 0xE
	recRangeDeletion    = 0xF
)

// checkBatch walks a serialized write batch (12-byte header: sequence and
// count, then records) and refuses what RocksDB would write to its WAL
// before finding it wrong: a truncated record, an unknown or unsupported
// tag, a column family this database does not have, a reversed range, a
// merge without a merge operator, or a count that does not match. e.mu is
// held.
func (e *Engine) checkBatch(data []byte) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: write batch: %s", ErrInvalidArgument, fmt.Sprintf(format, args...))
	}
	if len(data) < 12 {
		return bad("%d bytes, shorter than its header", len(data))
	}
	ids := map[uint32]bool{0: true}
	for _, h := range e.cfs {
		ids[h.ID()] = true
	}
	want := binary.LittleEndian.Uint32(data[8:12])
	b := data[12:]
	slice := func() ([]byte, bool) {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return nil, false
		}
		s := b[k : k+int(n)]
		b = b[k+int(n):]
		return s, true
	}
	var count uint32
	for i := 1; len(b) > 0; i++ {
		tag := b[0]
		b = b[1:]
		switch tag {
		case recCFDeletion, recCFValue, recCFMerge, recCFSingleDeletion, recCFRangeDeletion:
			id, k := binary.Uvarint(b)
			if k <= 0 || id > 1<<32-1 || !ids[uint32(id)] {
				return bad("record %d names no column family of this database", i)
			}
			b = b[k:]
		}
		key, ok := slice()
		if !ok {
			return bad("record %d is truncated", i)
		}
		switch tag {
		case recValue, recCFValue, recMerge, recCFMerge, recRangeDeletion, recCFRangeDeletion:
			value, ok := slice()
			if !ok {
				return bad("record %d is truncated", i)
			}
			if (tag == recMerge || tag == recCFMerge) && !e.hasMerge {
				return bad("record %d is a merge, and the database has no merge operator", i)
			}
			if (tag == recRangeDeletion || tag == recCFRangeDeletion) && (len(value) == 0 || bytes.Compare(key, value) > 0) {
				return bad("record %d is a range whose end is empty or before its start", i)
			}
		case recDeletion, recCFDeletion, recSingleDeletion, recCFSingleDeletion:
		case recLogData:
			continue // a blob for the WAL only: not counted
		default:
			return bad("record %d has tag %#x, which this sidecar does not take", i, tag)
		}
		count++
	}
	if count != want {
		return bad("its header counts %d records, it holds %d", want, count)
	}
	return nil
}
