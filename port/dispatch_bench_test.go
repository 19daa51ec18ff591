package port

import (
	"fmt"
	"testing"

	"github.com/spiredb/spire-port/engine"
	"github.com/spiredb/spire-port/etf"
	"github.com/spiredb/spire-port/port/wire"
)

// The sidecar's own CPU per request, without pipes: decode, parse,
// execute and encode, next to engine.Get (target: at most 2x engine's Get
// plus the pipe's cost). group is how many requests arrive together: 1 is
// a lone request, 8 a full group served by one RocksDB call.
func benchDispatch(b *testing.B, body []byte, group int, prepare func(s *Server)) {
	s := newFuzzServer(b, wire.ETF)
	if prepare != nil {
		prepare(s)
	}
	scratch := make([]byte, 0, 4096)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.serving.Lock()
		scratch, _ = s.dispatch(scratch, 1, body)
		if (i+1)%group == 0 {
			scratch = s.runGroup(scratch)
		}
		s.serving.Unlock()
		if i%64 == 0 {
			s.out.flush()
		}
	}
}

func BenchmarkDispatchPing(b *testing.B) {
	benchDispatch(b, etf.AppendAtom(etf.AppendTupleHeader(etf.AppendVersion(nil), 1), "ping"), 1, nil)
}

func getBody(key string) []byte {
	b := etf.AppendTupleHeader(etf.AppendVersion(nil), 3)
	b = etf.AppendBinary(etf.AppendAtom(b, "get"), []byte(key))
	return etf.AppendNil(b)
}

func putKey42(s *Server) {
	_ = s.eng.Put([]byte("user:00000042"), make([]byte, 100), engine.WriteOptions{})
}

func BenchmarkDispatchGet(b *testing.B) { benchDispatch(b, getBody("user:00000042"), 1, putKey42) }

func BenchmarkDispatchGetGroupOf8(b *testing.B) {
	benchDispatch(b, getBody("user:00000042"), 8, putKey42)
}

func putBody() []byte {
	body := etf.AppendTupleHeader(etf.AppendVersion(nil), 4)
	body = etf.AppendBinary(etf.AppendAtom(body, "put"), []byte("user:00000042"))
	return etf.AppendNil(etf.AppendBinary(body, make([]byte, 100)))
}

func BenchmarkDispatchPut(b *testing.B) { benchDispatch(b, putBody(), 1, nil) }

func BenchmarkDispatchPutGroupOf8(b *testing.B) { benchDispatch(b, putBody(), 8, nil) }

func BenchmarkEngineGetSameKey(b *testing.B) {
	s := newFuzzServer(b, wire.ETF)
	_ = s.eng.Put([]byte("user:00000042"), make([]byte, 100), engine.WriteOptions{})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = s.eng.GetFunc([]byte("user:00000042"), engine.ReadOptions{}, func([]byte) {})
	}
}

func batchBody(n int) []byte {
	b := etf.AppendTupleHeader(etf.AppendVersion(nil), 3)
	b = etf.AppendListHeader(etf.AppendAtom(b, "write_batch"), n)
	value := make([]byte, 100)
	for i := 0; i < n; i++ {
		b = etf.AppendAtom(etf.AppendTupleHeader(b, 3), "put")
		b = etf.AppendBinary(etf.AppendBinary(b, []byte(fmt.Sprintf("user:%08d", i))), value)
	}
	return etf.AppendNil(etf.AppendNil(b))
}

// BenchmarkParseWriteBatch1000 is the parsing share of a 1000-row batch.
func BenchmarkParseWriteBatch1000(b *testing.B) {
	body := batchBody(1000)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := wire.Parse(body); err != nil {
			b.Fatal(err)
		}
	}
}

// seekBody is {iterator_move, 1, {seek, Key}, [{ahead, 2}, {packed, true}]}:
// the move of a held :rocksdb iterator that SpireDB's walks start with.
func seekBody(key string) []byte {
	b := etf.AppendTupleHeader(etf.AppendVersion(nil), 4)
	b = etf.AppendUint(etf.AppendAtom(b, "iterator_move"), 1)
	b = etf.AppendBinary(etf.AppendAtom(etf.AppendTupleHeader(b, 2), "seek"), []byte(key))
	b = etf.AppendListHeader(b, 2)
	b = etf.AppendUint(etf.AppendAtom(etf.AppendTupleHeader(b, 2), "ahead"), 2)
	b = etf.AppendAtom(etf.AppendAtom(etf.AppendTupleHeader(b, 2), "packed"), "true")
	return etf.AppendNil(b)
}

// iteratorOn42 loads keys around user:00000042 and opens iterator 1.
func iteratorOn42(s *Server) {
	for i := 40; i < 50; i++ {
		_ = s.eng.Put([]byte(fmt.Sprintf("user:%08d", i)), make([]byte, 100), engine.WriteOptions{})
	}
	body := etf.AppendNil(etf.AppendAtom(etf.AppendTupleHeader(etf.AppendVersion(nil), 2), "iterator"))
	s.serving.Lock()
	s.dispatch(nil, 1, body)
	s.serving.Unlock()
}

func BenchmarkDispatchIteratorSeek(b *testing.B) {
	benchDispatch(b, seekBody("user:00000042"), 1, iteratorOn42)
}

// BenchmarkEngineIteratorSeekSameKey is the engine's share of the above.
func BenchmarkEngineIteratorSeekSameKey(b *testing.B) {
	s := newFuzzServer(b, wire.ETF)
	iteratorOn42(s)
	cur, _ := s.cursors.get(1)
	key := []byte("user:00000042")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, _, _ = cur.it.Move(engine.Move{Kind: engine.MoveSeek, Key: key}, 2, maxAheadBytes, func(k, v []byte) {})
	}
}
