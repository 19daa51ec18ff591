package port

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"io"
	"log"
	"os"
	"path/filepath"
	"testing"

	"github.com/spiredb/spire-port/engine"
	"github.com/spiredb/spire-port/etf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"
)

func frameOf(id uint64, body []byte) []byte {
	b, start := beginFrame(nil, id)
	return endFrame(append(b, body...), start)
}

func TestReadFrame(t *testing.T) {
	var in bytes.Buffer
	in.Write(frameOf(7, []byte{131, 106}))
	in.Write([]byte{0, 0, 0, 3, 1, 2, 3})   // shorter than its id
	in.Write(frameOf(9, make([]byte, 100))) // over a 64-byte limit
	in.Write(frameOf(10, []byte{131, 106}))
	in.Write([]byte{0, 0, 0, 50, 1}) // cut short
	r := bufio.NewReader(&in)

	id, body, buf, err := readFrame(r, nil, 64)
	require.NoError(t, err)
	assert.Equal(t, uint64(7), id)
	assert.Equal(t, []byte{131, 106}, body)

	_, _, buf, err = readFrame(r, buf, 64)
	assert.ErrorIs(t, err, ErrShortPacket)

	id, _, buf, err = readFrame(r, buf, 64)
	assert.ErrorIs(t, err, ErrFrameTooLarge)
	assert.Equal(t, uint64(9), id, "the id of an oversized frame is still read")

	id, _, buf, err = readFrame(r, buf, 64)
	require.NoError(t, err, "the stream is in sync after skipping")
	assert.Equal(t, uint64(10), id)

	_, _, _, err = readFrame(r, buf, 64)
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
}

// Replies in the msgpack codec must be valid msgpack that any decoder reads.
func TestMsgpackRepliesDecodeWithTheLibrary(t *testing.T) {
	c := Msgpack
	b := c.tuple(nil, 3)
	b = c.atom(b, "rows")
	b, mark := c.beginList(b)
	b = c.binary(c.binary(c.tuple(b, 2), []byte("k")), bytes.Repeat([]byte("v"), 70000))
	b = c.endList(b, mark, 1)
	b = c.mapHeader(b, 4)
	b = c.int(c.str(b, "neg"), -70000)
	b = c.uint(c.str(b, "big"), 1<<64-1)
	b = c.float(c.str(b, "f"), 2.5)
	b = c.int(c.str(b, "small"), -3)
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
	require.NoError(t, checkMsgpack(good))
	term, err := Msgpack.requestTerm(good)
	require.NoError(t, err)
	r, err := parse(term)
	require.NoError(t, err)
	assert.Equal(t, opPut, r.op)
	assert.True(t, r.sync)

	for name, b := range map[string][]byte{
		"empty":          {},
		"truncated str":  {0xa5, 'a'},
		"array claims 3": {0x93, 1},
		"map binary key": {0x81, 0xc4, 1, 'k', 1},
		"ext":            {0xc7, 1, 1, 1},
	} {
		assert.ErrorIs(t, checkMsgpack(b), etf.ErrMalformed, name)
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
	r, err := parse(b)
	require.NoError(t, err)
	assert.Equal(t, 7, r.batchSize)
	assert.Equal(t, 70000, r.limit)
	assert.Equal(t, "rows", r.cf)
	assert.Equal(t, []byte("z"), r.end)
}

func newFuzzServer(t testing.TB, codec Codec) *Server {
	s := newServerIn(t.TempDir(), codec)
	t.Cleanup(s.Stop)
	return s
}

func newServerIn(dir string, codec Codec) *Server {
	cfg := engine.DefaultConfig()
	cfg.BlockCacheSize, cfg.WriteBufferSize = 8<<20, 1<<20
	eng, err := engine.Open(filepath.Join(dir, "data"), cfg)
	if err != nil {
		panic(err)
	}
	return NewServer(eng, io.Discard, Options{Codec: codec, CheckpointRoots: []string{filepath.Join(dir, "cp")},
		Log: log.New(io.Discard, "", 0)})
}

// FuzzRequest sends arbitrary packets through the whole dispatch path of a
// server on a real engine: decoding, parsing and execution must answer
// every one of them without a panic escaping.
func FuzzRequest(f *testing.F) {
	seeds := [][]byte{
		{131, 104, 1, 119, 4, 'p', 'i', 'n', 'g'},
		etf.AppendBinary(etf.AppendAtom(etf.AppendTupleHeader(etf.AppendVersion(nil), 2), "get"), []byte("k")),
		etf.AppendBinary(etf.AppendBinary(etf.AppendAtom(etf.AppendTupleHeader(etf.AppendVersion(nil), 3), "put"), []byte("k")), []byte("v")),
		etfPut("k", "v"),     // fast path: joins a group
		etfKeyOp("get", "k"), // fast path: joins a group
		bytes.Join([][]byte{frameOf(3, etfPut("a", "1")), frameOf(4, etfKeyOp("get", "a"))}, nil), // a batch payload
		etf.AppendNil(etf.AppendBinary(etf.AppendBinary(etf.AppendAtom(etf.AppendTupleHeader(etf.AppendVersion(nil), 4), "scan"), nil), nil)),
		{0x92, 0xa3, 'g', 'e', 't', 0xc4, 1, 'k'},
		{0x91, 0xa5, 's', 't', 'a', 't', 's'},
	}
	for _, s := range seeds {
		f.Add(s)
	}
	// Servers live across inputs; the fuzz target may not use f.TempDir.
	servers := map[bool]*Server{}
	root := f.TempDir()
	f.Cleanup(func() {
		for _, s := range servers {
			s.Stop()
		}
	})
	f.Fuzz(func(t *testing.T, body []byte) {
		if _, err := parse(body); err == nil {
			if err := etf.Check(body); err != nil {
				t.Fatalf("the parser took what the checker refuses: %v", err)
			}
		}
		useMsgpack := len(body) > 0 && body[0] != 131
		s := servers[useMsgpack]
		if s == nil {
			codec := ETF
			if useMsgpack {
				codec = Msgpack
			}
			dir, err := os.MkdirTemp(root, "fuzz")
			if err != nil {
				t.Fatal(err)
			}
			s = newServerIn(dir, codec)
			servers[useMsgpack] = s
		}
		before := s.out.frames.Load()
		s.serving.Lock()
		scratch, closing := s.dispatch(nil, 1, body)
		if !closing {
			// The same bytes as the payload of a batch request frame.
			scratch, closing = s.dispatchBatch(scratch, body)
		}
		if !closing {
			s.runGroup(scratch) // as the reader does before it waits for input
		}
		s.serving.Unlock()
		if closing {
			delete(servers, useMsgpack) // {close} stopped it; start another next time
			return
		}
		s.jobs <- job{id: 2, req: request{op: opPing}} // queued after any slow op it started
		for s.out.frames.Load() < before+2 {
			runtimeGosched()
		}
	})
}

func TestServerAnswersEveryFrameOfAPipelinedStream(t *testing.T) {
	s := newFuzzServer(t, ETF)
	var in bytes.Buffer
	for i := uint64(1); i <= 100; i++ {
		b := etf.AppendBinary(etf.AppendBinary(etf.AppendAtom(etf.AppendTupleHeader(etf.AppendVersion(nil), 3), "put"), []byte{byte(i)}), []byte("v"))
		in.Write(frameOf(i, b))
	}
	var out bytes.Buffer
	s.out.w = &out
	require.NoError(t, s.Serve(&in))
	ids, terms, batches := readReplies(t, out.Bytes())
	for _, term := range terms {
		assert.Equal(t, etf.Atom("ok"), term)
	}
	unique := map[uint64]bool{}
	for _, id := range ids {
		unique[id] = true
	}
	assert.Len(t, unique, 100)
	assert.Greater(t, batches, 0, "pipelined replies share batch frames")
}

func TestParseReadsEveryEncodingOfTheHotRequests(t *testing.T) {
	r, err := parse([]byte{131, 104, 1, 119, 4, 'p', 'i', 'n', 'g'})
	require.NoError(t, err)
	assert.Equal(t, opPing, r.op)

	r, err = parse(hexOf("8368036400036765746D000000016B6A")) // OTP 25's ATOM_EXT
	require.NoError(t, err)
	assert.Equal(t, opGet, r.op)
	assert.Equal(t, "k", string(r.key))
	assert.NotZero(t, groupable(&r), "a get with [] options joins a group")

	r, err = parse(batchBody(3))
	require.NoError(t, err)
	require.Len(t, r.batch, 3)
	assert.Equal(t, engine.OpPut, r.batch[2].Kind)
	assert.Equal(t, "user:00000002", string(r.batch[2].Key))

	r, err = parse(etf.AppendNil(etf.AppendNil(etf.AppendAtom(etf.AppendTupleHeader(etf.AppendVersion(nil), 3), "multi_get"))))
	require.NoError(t, err)
	assert.Empty(t, r.keys)

	for _, body := range [][]byte{
		append(getBody("k"), 0),                 // trailing byte
		getBody("k")[:10],                       // truncated
		hexOf("8368036400036765746D400000006A"), // binary claims 1 GiB
	} {
		_, err := parse(body)
		assert.ErrorIs(t, err, etf.ErrMalformed, "%x", body)
	}
}

func hexOf(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// A bug that panics while serving a request must answer that request with
// {error, {internal, ...}} and leave the server serving. A server with no
// engine stands in for any such bug: every engine call dereferences nil.
func TestAPanicWhileServingBecomesAnInternalError(t *testing.T) {
	var out bytes.Buffer
	s := &Server{opt: Options{Codec: ETF, Log: log.New(io.Discard, "", 0)}, codec: ETF, out: newOutput(&out)}
	s.opt.setDefaults()
	s.cursors = newHandles(1, func(*cursor) {})
	s.snapshots = newHandles(1, func(*engine.Snapshot) {})
	for id := uint64(1); id <= 2; id++ {
		s.exec(nil, id, &request{op: opGet, key: []byte("k")})
	}
	s.exec(nil, 3, &request{op: opPing})
	s.out.flush()

	_, replies, _ := readReplies(t, out.Bytes())
	require.Len(t, replies, 3)
	for _, reply := range replies[:2] {
		reason := reply.(etf.Tuple)[1].(etf.Tuple)
		assert.Equal(t, etf.Atom("internal"), reason[0])
		assert.Contains(t, string(reason[1].([]byte)), "panic")
	}
	assert.Equal(t, etf.Atom("ok"), replies[2], "still serving after the panics")
}

// readReplies walks a server's output: every reply frame's id and term,
// batch frames unpacked, and how many batch frames there were.
func readReplies(t *testing.T, out []byte) (ids []uint64, terms []any, batches int) {
	t.Helper()
	var walk func(r *bytes.Reader)
	walk = func(r *bytes.Reader) {
		for r.Len() > 0 {
			var hdr [12]byte
			_, err := io.ReadFull(r, hdr[:])
			require.NoError(t, err)
			body := make([]byte, binary.BigEndian.Uint32(hdr[:])-8)
			_, err = io.ReadFull(r, body)
			require.NoError(t, err)
			id := binary.BigEndian.Uint64(hdr[4:])
			if id == BatchID {
				batches++
				walk(bytes.NewReader(body))
				continue
			}
			term, err := etf.DecodeReply(body)
			require.NoError(t, err)
			ids, terms = append(ids, id), append(terms, term)
		}
	}
	walk(bytes.NewReader(out))
	return ids, terms, batches
}
