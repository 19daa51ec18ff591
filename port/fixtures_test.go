package port

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/spiredb/spire-port/etf"
	"github.com/spiredb/spire-port/port/wire"
	"github.com/spiredb/spire-port/port/wire/wiretest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fixtureDir holds bytes this server produced, which the Elixir side's
// pure wire functions are tested against (elixir/test/wire_test.exs).
// SPIRE_UPDATE_FIXTURES=1 writes them anew; otherwise a change of layout
// fails here first.
var fixtureDir = filepath.Join("..", "elixir", "test", "fixtures", "wire")

func checkFixture(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join(fixtureDir, name)
	if os.Getenv("SPIRE_UPDATE_FIXTURES") == "1" {
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "missing fixture: run with SPIRE_UPDATE_FIXTURES=1")
	assert.Equal(t, want, got, "%s: the wire layout changed; the Elixir side reads these bytes", name)
}

func opts(pairs ...[2]string) func([]byte) []byte {
	return func(b []byte) []byte {
		if len(pairs) == 0 {
			return etf.AppendNil(b)
		}
		b = etf.AppendListHeader(b, len(pairs))
		for _, p := range pairs {
			b = etf.AppendAtom(etf.AppendTupleHeader(b, 2), p[0])
			if n, err := strconv.Atoi(p[1]); err == nil {
				b = etf.AppendInt(b, int64(n))
			} else {
				b = etf.AppendAtom(b, p[1])
			}
		}
		return etf.AppendNil(b)
	}
}

func TestWireFixturesForTheElixirSide(t *testing.T) {
	s := newFuzzServer(t, wire.ETF)
	term := func(n int, build func(b []byte) []byte) []byte {
		return build(etf.AppendTupleHeader(etf.AppendVersion(nil), n))
	}
	put := func(k, v string) []byte {
		return term(4, func(b []byte) []byte {
			return opts()(etf.AppendBinary(etf.AppendBinary(etf.AppendAtom(b, "put"), []byte(k)), []byte(v)))
		})
	}
	scan := term(4, func(b []byte) []byte {
		b = etf.AppendBinary(etf.AppendBinary(etf.AppendAtom(b, "scan"), []byte("a")), []byte("z"))
		// A short scan runs on the reader: its reply keeps its place.
		return opts([2]string{"packed", "true"}, [2]string{"limit", "10"})(b)
	})
	iterator := term(2, func(b []byte) []byte { return opts()(etf.AppendAtom(b, "iterator")) })
	move := term(4, func(b []byte) []byte {
		b = etf.AppendAtom(etf.AppendInt(etf.AppendAtom(b, "iterator_move"), 1), "first")
		return opts([2]string{"ahead", "1"}, [2]string{"packed", "true"})(b)
	})
	get := func(k string) []byte {
		return term(3, func(b []byte) []byte { return opts()(etf.AppendBinary(etf.AppendAtom(b, "get"), []byte(k))) })
	}
	// Requests as Elixir's Wire.frames/1 sends two at once: a batch frame,
	// without the length the port adds.
	batch := wiretest.BatchFrame(wiretest.Frame(11, get("a")), wiretest.Frame(12, get("b")))
	var terms []byte
	for _, t := range [][]byte{get("a"), get("b")} {
		terms = binary.BigEndian.AppendUint32(terms, uint32(len(t)))
		terms = append(terms, t...)
	}
	checkFixture(t, "request_terms.bin", terms)
	checkFixture(t, "request_batch.bin", batch[wire.HeaderSize:])

	in := bytes.Join([][]byte{
		wiretest.Frame(1, put("a", "1")), wiretest.Frame(2, put("b", "2")),
		wiretest.Frame(3, scan), wiretest.Frame(4, iterator), wiretest.Frame(5, move),
		batch,
	}, nil)
	var out bytes.Buffer
	s.out.main.w = &out
	require.NoError(t, s.Serve(bytes.NewReader(in)))
	ids, _, batches := readReplies(t, out.Bytes())
	assert.ElementsMatch(t, []uint64{1, 2, 3, 4, 5, 11, 12}, ids)
	assert.Positive(t, batches, "some replies share a batch frame")
	// The scan's stats hold a time: zeroed, so the bytes are stable.
	checkFixture(t, "replies.bin", zeroScanTimes(out.Bytes()))
}

// zeroScanTimes overwrites the 8 bytes of every scan_time_ms float.
func zeroScanTimes(b []byte) []byte {
	b = append([]byte(nil), b...)
	key := []byte("scan_time_ms")
	for i := bytes.Index(b, key); i >= 0; {
		at := i + len(key)
		if at < len(b) && b[at] == 70 { // NEW_FLOAT_EXT
			copy(b[at+1:at+9], make([]byte, 8))
		}
		next := bytes.Index(b[at:], key)
		if next < 0 {
			break
		}
		i = at + next
	}
	return b
}
