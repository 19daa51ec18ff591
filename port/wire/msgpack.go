package wire

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/spiredb/spire-port/etf"
)

// checkMsgpack validates one msgpack value before it is decoded, the way
// etf.Check does for ETF: declared lengths against the bytes left, nesting
// at most etf.MaxDepth deep, map keys that are strings or integers, no
// extension types, nothing after the value. It walks iteratively, so no
// input can exhaust the stack.
func CheckMsgpack(b []byte) error {
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

// msgpackToETF rewrites one checked msgpack value as the ETF term the
// request parser reads: strings become atoms (names), bin binaries, arrays
// tuples (the parser takes a tuple wherever it takes a list), maps maps,
// nil the atom undefined, booleans atoms. The output is at most a few
// bytes per input byte, so it cannot amplify a frame.
func msgpackToETF(b []byte) ([]byte, error) {
	if err := CheckMsgpack(b); err != nil {
		return nil, err
	}
	out := etf.AppendVersion(make([]byte, 0, len(b)+len(b)/2+16))
	pos := 0
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: msgpack: %s", etf.ErrMalformed, fmt.Sprintf(format, args...))
	}
	// checkMsgpack has verified every length, so reads below stay in b.
	u := func(width int) uint64 {
		var n uint64
		for i := 0; i < width; i++ {
			n = n<<8 | uint64(b[pos+i])
		}
		pos += width
		return n
	}
	for pos < len(b) {
		tag := b[pos]
		pos++
		switch {
		case tag <= 0x7f:
			out = etf.AppendInt(out, int64(tag))
		case tag >= 0xe0:
			out = etf.AppendInt(out, int64(int8(tag)))
		case tag <= 0x8f:
			out = etf.AppendMapHeader(out, int(tag&0x0f))
		case tag <= 0x9f:
			out = etf.AppendTupleHeader(out, int(tag&0x0f))
		case tag <= 0xbf, tag >= 0xd9 && tag <= 0xdb:
			n := uint64(tag & 0x1f)
			if tag >= 0xd9 {
				n = u(1 << (tag - 0xd9))
			}
			if n > 0xffff {
				return nil, bad("a string of %d bytes: names are at most 65535", n)
			}
			out = append(out, 118, byte(n>>8), byte(n))
			out = append(out, b[pos:pos+int(n)]...)
			pos += int(n)
		case tag == 0xc0:
			out = etf.AppendAtom(out, "undefined")
		case tag == 0xc2:
			out = etf.AppendAtom(out, "false")
		case tag == 0xc3:
			out = etf.AppendAtom(out, "true")
		case tag >= 0xc4 && tag <= 0xc6:
			n := u(1 << (tag - 0xc4))
			out = etf.AppendBinary(out, b[pos:pos+int(n)])
			pos += int(n)
		case tag == 0xca:
			out = etf.AppendFloat(out, float64(math.Float32frombits(uint32(u(4)))))
		case tag == 0xcb:
			out = etf.AppendFloat(out, math.Float64frombits(u(8)))
		case tag >= 0xcc && tag <= 0xcf:
			out = etf.AppendUint(out, u(1<<(tag-0xcc)))
		case tag >= 0xd0 && tag <= 0xd3:
			width := 1 << (tag - 0xd0)
			v := u(width)
			shift := 64 - 8*width
			out = etf.AppendInt(out, int64(v<<shift)>>shift)
		case tag == 0xdc || tag == 0xdd:
			out = etf.AppendTupleHeader(out, int(u(2<<(tag-0xdc))))
		case tag == 0xde || tag == 0xdf:
			out = etf.AppendMapHeader(out, int(u(2<<(tag-0xde))))
		default:
			return nil, bad("type 0x%02x is not accepted", tag)
		}
	}
	return out, nil
}
