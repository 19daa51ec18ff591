package port

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/spiredb/spire-port/etf"
	"github.com/spiredb/spire-port/port/wire"
	"github.com/spiredb/spire-port/port/wire/wiretest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"
)

func etfPut(k, v string) []byte {
	b := etf.AppendTupleHeader(etf.AppendVersion(nil), 4)
	b = etf.AppendBinary(etf.AppendBinary(etf.AppendAtom(b, "put"), []byte(k)), []byte(v))
	return etf.AppendNil(b)
}

func etfKeyOp(op, k string) []byte {
	b := etf.AppendTupleHeader(etf.AppendVersion(nil), 3)
	return etf.AppendNil(etf.AppendBinary(etf.AppendAtom(b, op), []byte(k)))
}

// batchFrameOf packs requests into one batch request frame.
func batchFrameOf(entries ...[]byte) []byte {
	// A batch entry is laid out like a frame: <<length:32, id:64, term>>.
	return wiretest.BatchFrame(entries...)
}

// serveAll runs a server over in and returns each reply term by id.
func serveAll(t *testing.T, s *Server, in []byte) map[uint64]any {
	t.Helper()
	var out bytes.Buffer
	s.out.main.w = &out
	require.NoError(t, s.Serve(bytes.NewReader(in)))
	ids, terms, _ := readReplies(t, out.Bytes())
	got := make(map[uint64]any, len(ids))
	for i, id := range ids {
		_, dup := got[id]
		require.False(t, dup, "one reply per request id (%d)", id)
		got[id] = terms[i]
	}
	return got
}

func TestBatchRequestFramesAndGroupsAnswerEveryRequestInOrder(t *testing.T) {
	s := newFuzzServer(t, wire.ETF)
	var in bytes.Buffer
	// One batch: puts and deletes interleaved, then gets of what they wrote.
	var entries [][]byte
	for i := 1; i <= 40; i++ {
		entries = append(entries, wiretest.Frame(uint64(i), etfPut(fmt.Sprintf("k%02d", i), fmt.Sprintf("v%d", i))))
	}
	entries = append(entries, wiretest.Frame(41, etfKeyOp("delete", "k07")))
	for i := 1; i <= 40; i++ {
		entries = append(entries, wiretest.Frame(uint64(100+i), etfKeyOp("get", fmt.Sprintf("k%02d", i))))
	}
	in.Write(batchFrameOf(entries...))
	// Plain frames right behind the batch join the same groups.
	in.Write(wiretest.Frame(200, etfKeyOp("get", "k01")))
	in.Write(wiretest.Frame(201, etfKeyOp("get", "nope")))
	in.Write(wiretest.Frame(202, etf.AppendAtom(etf.AppendTupleHeader(etf.AppendVersion(nil), 1), "ping")))

	got := serveAll(t, s, in.Bytes())
	require.Len(t, got, 84)
	for i := 1; i <= 41; i++ {
		assert.Equal(t, etf.Atom("ok"), got[uint64(i)], "write %d", i)
	}
	for i := 1; i <= 40; i++ {
		want := any(etf.Tuple{etf.Atom("ok"), []byte(fmt.Sprintf("v%d", i))})
		if i == 7 {
			want = etf.Tuple{etf.Atom("error"), etf.Atom("not_found")}
		}
		assert.Equal(t, want, got[uint64(100+i)], "a get sees every write sent before it (key %d)", i)
	}
	assert.Equal(t, etf.Tuple{etf.Atom("ok"), []byte("v1")}, got[200])
	assert.Equal(t, etf.Tuple{etf.Atom("error"), etf.Atom("not_found")}, got[201])
	assert.Equal(t, etf.Atom("ok"), got[202])
	assert.Positive(t, s.groups.Load(), "the puts and the gets ran as groups")
	assert.GreaterOrEqual(t, s.grouped.Load(), uint64(80))
}

func TestMalformedBatchFramesAreRefusedAndServingGoesOn(t *testing.T) {
	s := newFuzzServer(t, wire.ETF)
	ping := etf.AppendAtom(etf.AppendTupleHeader(etf.AppendVersion(nil), 1), "ping")
	short := make([]byte, wire.HeaderSize+4) // an entry shorter than its id
	binary.BigEndian.PutUint32(short, 4)
	overrun := make([]byte, wire.HeaderSize+wire.IDSize) // declares more than is left
	binary.BigEndian.PutUint32(overrun, 1000)
	var in bytes.Buffer
	in.Write(batchFrameOf(wiretest.Frame(1, ping), short, wiretest.Frame(2, ping)))
	in.Write(batchFrameOf(wiretest.Frame(3, ping), wiretest.Frame(wire.MoreFlag|4, ping), wiretest.Frame(5, []byte{131, 99})))
	in.Write(batchFrameOf(wiretest.Frame(6, ping), overrun, wiretest.Frame(7, ping)))
	in.Write(wiretest.Frame(wire.BatchID, []byte{0, 0})) // trailing bytes too short for a length
	in.Write(wiretest.Frame(8, ping))

	got := serveAll(t, s, in.Bytes())
	for _, id := range []uint64{1, 2, 3, 6, 8} {
		assert.Equal(t, etf.Atom("ok"), got[id], "request %d", id)
	}
	assert.Equal(t, "badarg", errorKind(got[4]), "an id with the top bit set")
	assert.Equal(t, "badarg", errorKind(got[5]), "malformed wire.ETF in a batch")
	assert.NotContains(t, got, uint64(7), "nothing after an overrunning entry can be found")
	assert.Equal(t, uint64(5), s.badFrames.Load())
}

func errorKind(term any) string {
	if t, ok := term.(etf.Tuple); ok && len(t) == 2 && t[0] == etf.Atom("error") {
		if r, ok := t[1].(etf.Tuple); ok {
			return string(r[0].(etf.Atom))
		}
	}
	return ""
}

func TestPackedScanFramesCarryRowsAsOneBinary(t *testing.T) {
	s := newFuzzServer(t, wire.ETF)
	rows := [][2]string{{"a", ""}, {"b\x00\xff", "2"}, {"c", string(bytes.Repeat([]byte("v"), 300))}}
	var in bytes.Buffer
	for i, r := range rows {
		in.Write(wiretest.Frame(uint64(i+1), etfPut(r[0], r[1])))
	}
	scan := func(op string) []byte {
		b := etf.AppendTupleHeader(etf.AppendVersion(nil), 4)
		b = etf.AppendBinary(etf.AppendBinary(etf.AppendAtom(b, op), nil), nil)
		b = etf.AppendListHeader(b, 2)
		b = etf.AppendInt(etf.AppendAtom(etf.AppendTupleHeader(b, 2), "batch_size"), 2)
		b = etf.AppendAtom(etf.AppendAtom(etf.AppendTupleHeader(b, 2), "packed"), "true")
		return etf.AppendNil(b)
	}
	in.Write(wiretest.Frame(10, scan("scan")))
	var out bytes.Buffer
	s.out.main.w = &out
	require.NoError(t, s.Serve(&in))

	// Walk the frames of id 10 by hand: {Tag, Count, <<rows>>, Stats}.
	var got [][2]string
	var tags []string
	walkFrames(t, out.Bytes(), func(id uint64, body []byte) {
		if id&^wire.MoreFlag != 10 {
			return
		}
		require.Equal(t, []byte{131, 104, 4, 119, 4}, body[:5])
		tags = append(tags, string(body[5:9]))
		require.Equal(t, byte(98), body[9])
		count := int(binary.BigEndian.Uint32(body[10:]))
		require.Equal(t, byte(109), body[14])
		n := int(binary.BigEndian.Uint32(body[15:]))
		packed := body[19 : 19+n]
		for i := 0; i < count; i++ {
			kl := int(binary.BigEndian.Uint32(packed))
			k := string(packed[4 : 4+kl])
			packed = packed[4+kl:]
			vl := int(binary.BigEndian.Uint32(packed))
			got = append(got, [2]string{k, string(packed[4 : 4+vl])})
			packed = packed[4+vl:]
		}
		assert.Empty(t, packed, "the count matches the rows")
		stats, err := etf.DecodeReply(append([]byte{131}, body[19+n:]...))
		require.NoError(t, err)
		returned, ok := stats.(etf.Map).Get("rows_returned")
		require.True(t, ok)
		assert.EqualValues(t, count, returned)
	})
	assert.Equal(t, rows, got)
	assert.Equal(t, []string{"rows", "done"}, tags)
}

func TestPackedRowsAreRefusedInMsgpack(t *testing.T) {
	s := newFuzzServer(t, wire.Msgpack)
	body := []byte{0x94, 0xa4, 's', 'c', 'a', 'n', 0xc4, 0, 0xc4, 0, 0x81, 0xa6, 'p', 'a', 'c', 'k', 'e', 'd', 0xc3}
	var out bytes.Buffer
	s.out.main.w = &out
	require.NoError(t, s.Serve(bytes.NewReader(wiretest.Frame(1, body))))
	var reply []any
	walkFrames(t, out.Bytes(), func(id uint64, b []byte) {
		require.NoError(t, msgpack.Unmarshal(b, &reply))
	})
	require.Len(t, reply, 2)
	assert.Equal(t, "error", reply[0])
	assert.Contains(t, fmt.Sprint(reply[1]), "packed rows are for the etf codec")
}

// walkFrames calls fn for every reply frame in out, batch frames unpacked.
func walkFrames(t *testing.T, out []byte, fn func(id uint64, body []byte)) {
	t.Helper()
	for len(out) > 0 {
		require.GreaterOrEqual(t, len(out), wire.HeaderSize+wire.IDSize)
		n := int(binary.BigEndian.Uint32(out))
		id := binary.BigEndian.Uint64(out[wire.HeaderSize:])
		body := out[wire.HeaderSize+wire.IDSize : wire.HeaderSize+n]
		if id == wire.BatchID {
			walkFrames(t, body, fn)
		} else {
			fn(id, body)
		}
		out = out[wire.HeaderSize+n:]
	}
}
