package wire

import (
	"bytes"
	"fmt"
	"math"
	"reflect"

	"github.com/spiredb/spire-port/etf"
	"github.com/vmihailenco/msgpack/v5"
)

// Codec encodes and decodes the term inside each packet. Requests in either
// codec reach the one request parser as ETF (see parse), so request
// parsing is written once.
type Codec interface {
	Name() string
	// requestTerm returns a request body as ETF bytes, refusing malformed
	// input; for ETF it is the body itself.
	RequestTerm(b []byte) ([]byte, error)
	// DecodeReply parses a reply term into Atom, []byte, int64, uint64,
	// float64, Tuple, []any and Map values (the Go client's view).
	DecodeReply(b []byte) (any, error)
	encoder
}

// encoder appends terms to a buffer. Atoms become msgpack strings and
// tuples msgpack arrays in the msgpack codec.
type encoder interface {
	Begin(dst []byte) []byte
	Atom(dst []byte, name string) []byte
	Binary(dst, b []byte) []byte
	Str(dst []byte, s string) []byte // text: a binary in ETF, a string in msgpack
	Int(dst []byte, n int64) []byte
	Uint(dst []byte, n uint64) []byte
	Float(dst []byte, f float64) []byte
	Tuple(dst []byte, n int) []byte
	List(dst []byte, n int) []byte // then n elements, then listEnd
	ListEnd(dst []byte, n int) []byte
	BeginList(dst []byte) ([]byte, int)
	EndList(dst []byte, mark, n int) []byte
	MapHeader(dst []byte, n int) []byte
}

// CodecByName returns "etf" or "msgpack".
func CodecByName(name string) (Codec, error) {
	switch name {
	case "etf", "":
		return ETF, nil
	case "msgpack":
		return Msgpack, nil
	}
	return nil, fmt.Errorf("port: unknown codec %q: want etf or msgpack", name)
}

// The two codecs.
var (
	ETF     Codec = etfCodec{}
	Msgpack Codec = msgpackCodec{}
)

type etfCodec struct{}

func (etfCodec) Name() string                         { return "etf" }
func (etfCodec) RequestTerm(b []byte) ([]byte, error) { return b, nil }
func (etfCodec) DecodeReply(b []byte) (any, error)    { return etf.DecodeReply(b) }
func (etfCodec) Begin(dst []byte) []byte              { return etf.AppendVersion(dst) }
func (etfCodec) Atom(dst []byte, name string) []byte  { return etf.AppendAtom(dst, name) }
func (etfCodec) Binary(dst, b []byte) []byte          { return etf.AppendBinary(dst, b) }
func (etfCodec) Str(dst []byte, s string) []byte      { return etf.AppendString(dst, s) }
func (etfCodec) Int(dst []byte, n int64) []byte       { return etf.AppendInt(dst, n) }
func (etfCodec) Uint(dst []byte, n uint64) []byte     { return etf.AppendUint(dst, n) }
func (etfCodec) Float(dst []byte, f float64) []byte   { return etf.AppendFloat(dst, f) }
func (etfCodec) Tuple(dst []byte, n int) []byte       { return etf.AppendTupleHeader(dst, n) }
func (etfCodec) MapHeader(dst []byte, n int) []byte   { return etf.AppendMapHeader(dst, n) }
func (etfCodec) BeginList(dst []byte) ([]byte, int)   { d, m := etf.BeginList(dst); return d, int(m) }
func (etfCodec) EndList(dst []byte, mark, n int) []byte {
	return etf.EndList(dst, etf.ListMark(mark), n)
}
func (etfCodec) List(dst []byte, n int) []byte {
	if n == 0 {
		return dst
	}
	return etf.AppendListHeader(dst, n)
}
func (etfCodec) ListEnd(dst []byte, n int) []byte { return etf.AppendNil(dst) }

type msgpackCodec struct{}

func (msgpackCodec) Name() string { return "msgpack" }

func (msgpackCodec) RequestTerm(b []byte) ([]byte, error) { return msgpackToETF(b) }

func (msgpackCodec) DecodeReply(b []byte) (any, error) {
	if err := CheckMsgpack(b); err != nil {
		return nil, err
	}
	dec := msgpack.NewDecoder(bytes.NewReader(b))
	dec.SetMapDecoder(func(d *msgpack.Decoder) (any, error) {
		n, err := d.DecodeMapLen()
		if err != nil {
			return nil, err
		}
		m := make(etf.Map, 0, max(n, 0))
		for i := 0; i < n; i++ {
			k, err := d.DecodeInterface()
			if err != nil {
				return nil, err
			}
			v, err := d.DecodeInterface()
			if err != nil {
				return nil, err
			}
			m = append(m, etf.Pair{Key: replyFromMsgpack(k), Value: replyFromMsgpack(v)})
		}
		return m, nil
	})
	v, err := dec.DecodeInterface()
	if err != nil {
		return nil, fmt.Errorf("%w: msgpack: %v", etf.ErrMalformed, err)
	}
	return replyFromMsgpack(v), nil
}

func replyFromMsgpack(v any) any {
	switch t := v.(type) {
	case string:
		return etf.Atom(t)
	case []any:
		out := make(etf.Tuple, len(t))
		for i, e := range t {
			out[i] = replyFromMsgpack(e)
		}
		return out
	case uint64:
		if t <= math.MaxInt64 {
			return int64(t)
		}
		return t
	case float32:
		return float64(t)
	}
	if rv := reflect.ValueOf(v); rv.CanInt() {
		return rv.Int()
	} else if rv.CanUint() {
		return int64(rv.Uint()) // uint64 above MaxInt64 was kept above
	}
	return v
}

func (msgpackCodec) Begin(dst []byte) []byte { return dst }

func (msgpackCodec) Atom(dst []byte, name string) []byte { return msgpackStr(dst, name) }

// str writes text (names, messages) as a msgpack string; only user data
// (keys and values) travels as bin. Clients outside the BEAM expect text
// map keys.
func (msgpackCodec) Str(dst []byte, s string) []byte { return msgpackStr(dst, s) }

func (msgpackCodec) Binary(dst, b []byte) []byte {
	dst = msgpackLen(dst, 0xc4, len(b))
	return append(dst, b...)
}

// msgpackLen writes a bin8/16/32 (base 0xc4) or str8/16/32 (base 0xd9)
// header.
func msgpackLen(dst []byte, base byte, n int) []byte {
	switch {
	case n <= math.MaxUint8:
		return append(dst, base, byte(n))
	case n <= math.MaxUint16:
		return append(dst, base+1, byte(n>>8), byte(n))
	}
	return append(dst, base+2, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

func msgpackStr(dst []byte, s string) []byte {
	if len(s) < 32 {
		dst = append(dst, 0xa0|byte(len(s)))
	} else {
		dst = msgpackLen(dst, 0xd9, len(s))
	}
	return append(dst, s...)
}

func (msgpackCodec) Int(dst []byte, n int64) []byte {
	switch {
	case n >= 0 && n < 128:
		return append(dst, byte(n))
	case n >= -32 && n < 0:
		return append(dst, byte(n))
	}
	u := uint64(n)
	return append(dst, 0xd3, byte(u>>56), byte(u>>48), byte(u>>40), byte(u>>32), byte(u>>24), byte(u>>16), byte(u>>8), byte(u))
}

func (c msgpackCodec) Uint(dst []byte, n uint64) []byte {
	if n <= math.MaxInt64 {
		return c.Int(dst, int64(n))
	}
	return append(dst, 0xcf, byte(n>>56), byte(n>>48), byte(n>>40), byte(n>>32), byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

func (msgpackCodec) Float(dst []byte, f float64) []byte {
	u := math.Float64bits(f)
	return append(dst, 0xcb, byte(u>>56), byte(u>>48), byte(u>>40), byte(u>>32), byte(u>>24), byte(u>>16), byte(u>>8), byte(u))
}

func msgpackArray(dst []byte, n int) []byte {
	switch {
	case n < 16:
		return append(dst, 0x90|byte(n))
	case n <= math.MaxUint16:
		return append(dst, 0xdc, byte(n>>8), byte(n))
	}
	return append(dst, 0xdd, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

func (msgpackCodec) Tuple(dst []byte, n int) []byte   { return msgpackArray(dst, n) }
func (msgpackCodec) List(dst []byte, n int) []byte    { return msgpackArray(dst, n) }
func (msgpackCodec) ListEnd(dst []byte, n int) []byte { return dst }
func (msgpackCodec) BeginList(dst []byte) ([]byte, int) {
	return append(dst, 0xdd, 0, 0, 0, 0), len(dst)
}
func (msgpackCodec) EndList(dst []byte, mark, n int) []byte {
	dst[mark+1], dst[mark+2], dst[mark+3], dst[mark+4] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
	return dst
}

func (msgpackCodec) MapHeader(dst []byte, n int) []byte {
	switch {
	case n < 16:
		return append(dst, 0x80|byte(n))
	case n <= math.MaxUint16:
		return append(dst, 0xde, byte(n>>8), byte(n))
	}
	return append(dst, 0xdf, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}
