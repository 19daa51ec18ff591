package wire_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/spiredb/spire-port/engine/kv"
	"github.com/spiredb/spire-port/etf"
	"github.com/spiredb/spire-port/port/wire"
	"github.com/spiredb/spire-port/port/wire/wiretest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"
)

func TestReadFrame(t *testing.T) {
	var in bytes.Buffer
	in.Write(wiretest.Frame(7, []byte{131, 106}))
	in.Write([]byte{0, 0, 0, 3, 1, 2, 3})          // shorter than its id
	in.Write(wiretest.Frame(9, make([]byte, 100))) // over a 64-byte limit
	in.Write(wiretest.Frame(10, []byte{131, 106}))
	in.Write([]byte{0, 0, 0, 50, 1}) // cut short
	r := bufio.NewReader(&in)

	id, body, buf, err := wire.ReadFrame(r, nil, 64)
	require.NoError(t, err)
	assert.Equal(t, uint64(7), id)
	assert.Equal(t, []byte{131, 106}, body)

	_, _, buf, err = wire.ReadFrame(r, buf, 64)
	assert.ErrorIs(t, err, wire.ErrShortPacket)

	id, _, buf, err = wire.ReadFrame(r, buf, 64)
	assert.ErrorIs(t, err, wire.ErrFrameTooLarge)
	assert.Equal(t, uint64(9), id, "the id of an oversized frame is still read")

	id, _, buf, err = wire.ReadFrame(r, buf, 64)
	require.NoError(t, err, "the stream is in sync after skipping")
	assert.Equal(t, uint64(10), id)

	_, _, _, err = wire.ReadFrame(r, buf, 64)
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
}

// An oversized batch frame is skipped whole by ReadFrame (a client's
// reader) but left for ReadBatchEntry by ReadRequestFrame (the sidecar's),
// which takes each entry within the limit and skips only one over it.
func TestAnOversizedBatchIsReadEntryByEntry(t *testing.T) {
	batch := wiretest.BatchFrame(
		wiretest.Frame(1, []byte{131, 106}),
		wiretest.Frame(2, make([]byte, 100)),
		wiretest.Frame(3, []byte{131, 106}),
	)
	after := wiretest.Frame(4, []byte{131, 106})

	r := bufio.NewReader(bytes.NewReader(append(append([]byte(nil), batch...), after...)))
	_, _, _, err := wire.ReadFrame(r, nil, 64)
	assert.ErrorIs(t, err, wire.ErrFrameTooLarge)
	id, _, _, err := wire.ReadFrame(r, nil, 64)
	require.NoError(t, err)
	assert.Equal(t, uint64(4), id)

	r = bufio.NewReader(bytes.NewReader(append(append([]byte(nil), batch...), after...)))
	id, _, _, err = wire.ReadRequestFrame(r, nil, 64)
	var big *wire.BatchTooLarge
	require.ErrorAs(t, err, &big)
	assert.Equal(t, wire.BatchID, id)
	lr := &io.LimitedReader{R: r, N: big.Remaining}
	var got []uint64
	for lr.N > 0 {
		id, body, err := wire.ReadBatchEntry(lr, 64)
		if err != nil {
			assert.ErrorIs(t, err, wire.ErrFrameTooLarge)
			assert.Equal(t, uint64(2), id)
			continue
		}
		assert.Equal(t, []byte{131, 106}, body)
		got = append(got, id)
	}
	assert.Equal(t, []uint64{1, 3}, got)
	id, _, _, err = wire.ReadRequestFrame(r, nil, 64)
	require.NoError(t, err, "the stream is in step after the batch")
	assert.Equal(t, uint64(4), id)
}

// Replies in the msgpack codec must be valid msgpack that any decoder reads.
func TestMsgpackRepliesDecodeWithTheLibrary(t *testing.T) {
	c := wire.Msgpack
	b := c.Tuple(nil, 3)
	b = c.Atom(b, "rows")
	b, mark := c.BeginList(b)
	b = c.Binary(c.Binary(c.Tuple(b, 2), []byte("k")), bytes.Repeat([]byte("v"), 70000))
	b = c.EndList(b, mark, 1)
	b = c.MapHeader(b, 4)
	b = c.Int(c.Str(b, "neg"), -70000)
	b = c.Uint(c.Str(b, "big"), 1<<64-1)
	b = c.Float(c.Str(b, "f"), 2.5)
	b = c.Int(c.Str(b, "small"), -3)
	var v []any
	require.NoError(t, msgpack.Unmarshal(b, &v))
	assert.Equal(t, "rows", v[0])
	row := v[1].([]any)[0].([]any)
	assert.Equal(t, []byte("k"), row[0])
	assert.Len(t, row[1], 70000)
	m := v[2].(map[string]any)
	assert.EqualValues(t, -70000, m["neg"])
	assert.EqualValues(t, uint64(1<<64-1), m["big"])
	assert.EqualValues(t, 2.5, m["f"])
	assert.EqualValues(t, -3, m["small"])

	got, err := c.DecodeReply(b)
	require.NoError(t, err)
	assert.Equal(t, etf.Atom("rows"), got.(etf.Tuple)[0])
}

func TestCheckMsgpack(t *testing.T) {
	good, err := msgpack.Marshal([]any{"put", []byte("k"), []byte("v"), map[string]any{"sync": true}})
	require.NoError(t, err)
	require.NoError(t, wire.CheckMsgpack(good))
	term, err := wire.Msgpack.RequestTerm(good)
	require.NoError(t, err)
	r, err := wire.Parse(term)
	require.NoError(t, err)
	assert.Equal(t, wire.OpPut, r.Op)
	assert.True(t, r.Sync)

	for name, b := range map[string][]byte{
		"empty":          {},
		"truncated str":  {0xa5, 'a'},
		"array claims 3": {0x93, 1},
		"map binary key": {0x81, 0xc4, 1, 'k', 1},
		"ext":            {0xc7, 1, 1, 1},
	} {
		assert.ErrorIs(t, wire.CheckMsgpack(b), etf.ErrMalformed, name)
	}
}

func TestParseRequestOptions(t *testing.T) {
	b := etf.AppendVersion(nil)
	b = etf.AppendTupleHeader(b, 4)
	b = etf.AppendAtom(b, "scan")
	b = etf.AppendBinary(b, []byte("a"))
	b = etf.AppendBinary(b, []byte("z"))
	b = etf.AppendMapHeader(b, 3)
	b = etf.AppendInt(etf.AppendAtom(b, "batch_size"), 7)
	b = etf.AppendInt(etf.AppendAtom(b, "limit"), 70000)
	b = etf.AppendBinary(etf.AppendAtom(b, "cf"), []byte("rows"))
	r, err := wire.Parse(b)
	require.NoError(t, err)
	assert.Equal(t, 7, r.BatchSize)
	assert.Equal(t, 70000, r.Limit)
	assert.Equal(t, "rows", r.CF)
	assert.Equal(t, []byte("z"), r.End)
}

func TestParseReadsEveryEncodingOfTheHotRequests(t *testing.T) {
	r, err := wire.Parse([]byte{131, 104, 1, 119, 4, 'p', 'i', 'n', 'g'})
	require.NoError(t, err)
	assert.Equal(t, wire.OpPing, r.Op)

	r, err = wire.Parse(wiretest.Hex("8368036400036765746D000000016B6A")) // OTP 25's ATOM_EXT
	require.NoError(t, err)
	assert.Equal(t, wire.OpGet, r.Op)
	assert.Equal(t, "k", string(r.Key))
	assert.True(t, r.Plain, "a get with [] options may join a group")

	r, err = wire.Parse(putBatch(3))
	require.NoError(t, err)
	require.Len(t, r.Batch, 3)
	assert.Equal(t, kv.OpPut, r.Batch[2].Kind)
	assert.Equal(t, "user:00000002", string(r.Batch[2].Key))

	r, err = wire.Parse(etf.AppendNil(etf.AppendNil(etf.AppendAtom(etf.AppendTupleHeader(etf.AppendVersion(nil), 3), "multi_get"))))
	require.NoError(t, err)
	assert.Empty(t, r.Keys)

	for _, body := range [][]byte{
		append(getBody("k"), 0),                        // trailing byte
		getBody("k")[:10],                              // truncated
		wiretest.Hex("8368036400036765746D400000006A"), // binary claims 1 GiB
	} {
		_, err := wire.Parse(body)
		assert.ErrorIs(t, err, etf.ErrMalformed, "%x", body)
	}
}

// getBody is {get, Key, []}.
func getBody(key string) []byte {
	b := etf.AppendAtom(etf.AppendTupleHeader(etf.AppendVersion(nil), 3), "get")
	return etf.AppendNil(etf.AppendBinary(b, []byte(key)))
}

// putBatch is {write_batch, [{put, user:N, 100 bytes} x n], []}.
func putBatch(n int) []byte {
	b := etf.AppendAtom(etf.AppendTupleHeader(etf.AppendVersion(nil), 3), "write_batch")
	b = etf.AppendListHeader(b, n)
	for i := 0; i < n; i++ {
		b = etf.AppendAtom(etf.AppendTupleHeader(b, 3), "put")
		b = etf.AppendBinary(etf.AppendBinary(b, []byte(fmt.Sprintf("user:%08d", i))), make([]byte, 100))
	}
	return etf.AppendNil(etf.AppendNil(b))
}
