package port

import (
	"bytes"
	"encoding/binary"
	"io"
	"log"
	"os"
	"path/filepath"
	"testing"

	"github.com/spiredb/spire-port/engine"
	"github.com/spiredb/spire-port/etf"
	"github.com/spiredb/spire-port/port/wire"
	"github.com/spiredb/spire-port/port/wire/wiretest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newFuzzServer(t testing.TB, codec wire.Codec) *Server {
	s := newServerIn(t.TempDir(), codec)
	t.Cleanup(s.Stop)
	return s
}

func newServerIn(dir string, codec wire.Codec) *Server {
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
		bytes.Join([][]byte{wiretest.Frame(3, etfPut("a", "1")), wiretest.Frame(4, etfKeyOp("get", "a"))}, nil), // a batch payload
		etf.AppendNil(etf.AppendBinary(etf.AppendBinary(etf.AppendAtom(etf.AppendTupleHeader(etf.AppendVersion(nil), 4), "scan"), nil), nil)),
		{0x92, 0xa3, 'g', 'e', 't', 0xc4, 1, 'k'},
		{0x91, 0xa5, 's', 't', 'a', 't', 's'},
		etf.AppendAtom(etf.AppendTupleHeader(etf.AppendVersion(nil), 1), "sync_wal"),
		etf.AppendAtom(etf.AppendTupleHeader(etf.AppendVersion(nil), 1), "latest_sequence_number"),
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
		if _, err := wire.Parse(body); err == nil {
			if err := etf.Check(body); err != nil {
				t.Fatalf("the parser took what the checker refuses: %v", err)
			}
		}
		useMsgpack := len(body) > 0 && body[0] != 131
		s := servers[useMsgpack]
		if s == nil {
			codec := wire.ETF
			if useMsgpack {
				codec = wire.Msgpack
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
		s.jobs <- job{id: 2, req: wire.Request{Op: wire.OpPing}} // queued after any slow op it started
		for s.out.frames.Load() < before+2 {
			runtimeGosched()
		}
	})
}

func TestServerAnswersEveryFrameOfAPipelinedStream(t *testing.T) {
	s := newFuzzServer(t, wire.ETF)
	var in bytes.Buffer
	for i := uint64(1); i <= 100; i++ {
		b := etf.AppendBinary(etf.AppendBinary(etf.AppendAtom(etf.AppendTupleHeader(etf.AppendVersion(nil), 3), "put"), []byte{byte(i)}), []byte("v"))
		in.Write(wiretest.Frame(i, b))
	}
	var out bytes.Buffer
	s.out.main.w = &out
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

// A bug that panics while serving a request must answer that request with
// {error, {internal, ...}} and leave the server serving. A server with no
// engine stands in for any such bug: every engine call dereferences nil.
func TestAPanicWhileServingBecomesAnInternalError(t *testing.T) {
	var out bytes.Buffer
	s := &Server{opt: Options{Codec: wire.ETF, Log: log.New(io.Discard, "", 0)}, codec: wire.ETF, out: newOutput(&out, nil)}
	s.opt.setDefaults()
	s.cursors = newHandles(1, func(*cursor) {})
	s.snapshots = newHandles(1, func(*engine.Snapshot) {})
	for id := uint64(1); id <= 2; id++ {
		s.exec(nil, id, &wire.Request{Op: wire.OpGet, Key: []byte("k")})
	}
	s.exec(nil, 3, &wire.Request{Op: wire.OpPing})
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
			if id == wire.BatchID {
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

// burstRecorder hands out one chunk of input per Read, as a pipe does when
// each write is read before the next, and records what Serve says of each
// burst before it waits.
type burstRecorder struct {
	chunks [][]byte
	bursts []int
}

func (r *burstRecorder) Read(p []byte) (int, error) {
	if len(r.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.chunks[0])
	r.chunks = r.chunks[1:]
	return n, nil
}

func (r *burstRecorder) Burst(requests int) { r.bursts = append(r.bursts, requests) }

// Before each wait for input, Serve tells its reader how many requests
// came since the last wait: a batch frame of three, a lone frame, two
// frames read at once. pipe.SpinReader spins less after more than one.
func TestServeTellsItsReaderTheSizeOfEachBurst(t *testing.T) {
	s := newFuzzServer(t, wire.ETF)
	s.out.main.w = io.Discard
	ping := []byte{131, 104, 1, 119, 4, 'p', 'i', 'n', 'g'}
	r := &burstRecorder{chunks: [][]byte{
		wiretest.BatchFrame(wiretest.Frame(1, ping), wiretest.Frame(2, ping), wiretest.Frame(3, ping)),
		wiretest.Frame(4, ping),
		append(wiretest.Frame(5, ping), wiretest.Frame(6, ping)...),
	}}
	require.NoError(t, s.Serve(r))
	assert.Equal(t, []int{0, 3, 1, 2}, r.bursts)
}
