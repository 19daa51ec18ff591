package port

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/spiredb/spire-port/etf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
	return frameOf(BatchID, bytes.Join(entries, nil))
}

// serveAll runs a server over in and returns each reply term by id.
func serveAll(t *testing.T, s *Server, in []byte) map[uint64]any {
	t.Helper()
	var out bytes.Buffer
	s.out.w = &out
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
	s := newFuzzServer(t, ETF)
	var in bytes.Buffer
	// One batch: puts and deletes interleaved, then gets of what they wrote.
	var entries [][]byte
	for i := 1; i <= 40; i++ {
		entries = append(entries, frameOf(uint64(i), etfPut(fmt.Sprintf("k%02d", i), fmt.Sprintf("v%d", i))))
	}
	entries = append(entries, frameOf(41, etfKeyOp("delete", "k07")))
	for i := 1; i <= 40; i++ {
		entries = append(entries, frameOf(uint64(100+i), etfKeyOp("get", fmt.Sprintf("k%02d", i))))
	}
	in.Write(batchFrameOf(entries...))
	// Plain frames right behind the batch join the same groups.
	in.Write(frameOf(200, etfKeyOp("get", "k01")))
	in.Write(frameOf(201, etfKeyOp("get", "nope")))
	in.Write(frameOf(202, etf.AppendAtom(etf.AppendTupleHeader(etf.AppendVersion(nil), 1), "ping")))

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
	s := newFuzzServer(t, ETF)
	ping := etf.AppendAtom(etf.AppendTupleHeader(etf.AppendVersion(nil), 1), "ping")
	short := make([]byte, headerSize+4) // an entry shorter than its id
	binary.BigEndian.PutUint32(short, 4)
	overrun := make([]byte, headerSize+idSize) // declares more than is left
	binary.BigEndian.PutUint32(overrun, 1000)
	var in bytes.Buffer
	in.Write(batchFrameOf(frameOf(1, ping), short, frameOf(2, ping)))
	in.Write(batchFrameOf(frameOf(3, ping), frameOf(MoreFlag|4, ping), frameOf(5, []byte{131, 99})))
	in.Write(batchFrameOf(frameOf(6, ping), overrun, frameOf(7, ping)))
	in.Write(frameOf(BatchID, []byte{0, 0})) // trailing bytes too short for a length
	in.Write(frameOf(8, ping))

	got := serveAll(t, s, in.Bytes())
	for _, id := range []uint64{1, 2, 3, 6, 8} {
		assert.Equal(t, etf.Atom("ok"), got[id], "request %d", id)
	}
	assert.Equal(t, "badarg", errorKind(got[4]), "an id with the top bit set")
	assert.Equal(t, "badarg", errorKind(got[5]), "malformed ETF in a batch")
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
