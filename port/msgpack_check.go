package port

import (
	"encoding/binary"
	"fmt"

	"github.com/spiredb/spire-port/etf"
)

// checkMsgpack validates one msgpack value before it is decoded, the way
// etf.Check does for ETF: declared lengths against the bytes left, nesting
// at most etf.MaxDepth deep, map keys that are strings or integers, no
// extension types, nothing after the value. It walks iteratively, so no
// input can exhaust the stack.
func checkMsgpack(b []byte) error {
	type level struct {
		left  uint64
		isMap bool
	}
	stack := []level{{left: 1}}
	pos := 0
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: msgpack: %s", etf.ErrMalformed, fmt.Sprintf(format, args...))
	}
	need := func(n uint64) error {
		if n > uint64(len(b)-pos) {
			return bad("value claims %d bytes, %d left at offset %d", n, len(b)-pos, pos)
		}
		return nil
	}
	size := func(width int) (uint64, error) {
		if err := need(uint64(width)); err != nil {
			return 0, err
		}
		var n uint64
		switch width {
		case 1:
			n = uint64(b[pos])
		case 2:
			n = uint64(binary.BigEndian.Uint16(b[pos:]))
		case 4:
			n = uint64(binary.BigEndian.Uint32(b[pos:]))
		}
		pos += width
		return n, nil
	}
	for len(stack) > 0 {
		top := &stack[len(stack)-1]
		if top.left == 0 {
			stack = stack[:len(stack)-1]
			continue
		}
		top.left--
		isKey := top.isMap && top.left%2 == 1
		if err := need(1); err != nil {
			return err
		}
		tag := b[pos]
		pos++
		var skip, items uint64
		var container, isMap, keyOK bool
		var err error
		switch {
		case tag <= 0x7f || tag >= 0xe0:
			keyOK = true
		case tag <= 0x8f:
			items, container, isMap = 2*uint64(tag&0x0f), true, true
		case tag <= 0x9f:
			items, container = uint64(tag&0x0f), true
		case tag <= 0xbf:
			skip, keyOK = uint64(tag&0x1f), true
		case tag == 0xc0 || tag == 0xc2 || tag == 0xc3:
		case tag >= 0xc4 && tag <= 0xc6:
			skip, err = size(1 << (tag - 0xc4))
		case tag == 0xca:
			skip = 4
		case tag == 0xcb:
			skip = 8
		case tag >= 0xcc && tag <= 0xcf:
			skip, keyOK = 1<<(tag-0xcc), true
		case tag >= 0xd0 && tag <= 0xd3:
			skip, keyOK = 1<<(tag-0xd0), true
		case tag >= 0xd9 && tag <= 0xdb:
			skip, err = size(1 << (tag - 0xd9))
			keyOK = true
		case tag == 0xdc || tag == 0xdd:
			items, err = size(2 << (tag - 0xdc))
			container = true
		case tag == 0xde || tag == 0xdf:
			items, err = size(2 << (tag - 0xde))
			items *= 2
			container, isMap = true, true
		default:
			return bad("type 0x%02x (extension or reserved) is not accepted", tag)
		}
		if err != nil {
			return err
		}
		if isKey && !keyOK {
			return bad("map key of type 0x%02x: only strings and integers are accepted", tag)
		}
		if err := need(skip); err != nil {
			return err
		}
		pos += int(skip)
		if container {
			if len(stack) > etf.MaxDepth {
				return bad("nested deeper than %d", etf.MaxDepth)
			}
			if err := need(items); err != nil {
				return err
			}
			stack = append(stack, level{left: items, isMap: isMap})
		}
	}
	if pos != len(b) {
		return bad("%d bytes after the value", len(b)-pos)
	}
	return nil
}
