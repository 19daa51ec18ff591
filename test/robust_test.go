package test

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/spiredb/spire-port/engine/kv"
	"github.com/spiredb/spire-port/etf"
	"github.com/spiredb/spire-port/port/client"
	"github.com/spiredb/spire-port/port/client/clienttest"
	"github.com/spiredb/spire-port/port/wire/wiretest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConcurrentClientsPipelining(t *testing.T) {
	s := start(t, "", "etf")
	const clients, perClient = 8, 1250
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(c)))
			written := map[string]string{}
			for i := 0; i < perClient; i++ {
				key := fmt.Sprintf("c%d:%04d", c, rng.Intn(200))
				switch rng.Intn(4) {
				case 0, 1:
					val := fmt.Sprintf("v%d-%d", c, i)
					if err := s.Put(ctx, []byte(key), []byte(val)); err != nil {
						errs <- err
						return
					}
					written[key] = val
				case 2:
					got, err := s.Get(ctx, []byte(key))
					want, ok := written[key]
					if (ok && (err != nil || string(got) != want)) || (!ok && err != client.ErrNotFound) {
						errs <- fmt.Errorf("get %s = %q, %v; want %q (written %v)", key, got, err, want, ok)
						return
					}
				case 3:
					batches, err := s.Scan(ctx, []byte(fmt.Sprintf("c%d:", c)), []byte(fmt.Sprintf("c%d:~", c)))
					n := 0
					for _, b := range batches {
						n += len(b.Rows)
					}
					if err != nil || n != len(written) {
						errs <- fmt.Errorf("scan of client %d: %d rows, %v; want %d", c, n, err, len(written))
						return
					}
				}
			}
		}(c)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	stats, err := s.Stats(ctx)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, stats.Sidecar.Requests, uint64(clients*perClient))
	// The client combined concurrent requests into batch frames, and the
	// sidecar served runs of them as groups.
	assert.Positive(t, stats.Sidecar.Groups)
}

func term(build func(b []byte) []byte) []byte { return build(etf.AppendVersion(nil)) }

func bin(b []byte, s string) []byte { return etf.AppendBinary(b, []byte(s)) }

func TestHostileInputGetsAnErrorAndTheSidecarKeepsServing(t *testing.T) {
	s := start(t, "", "etf")
	require.NoError(t, s.Put(ctx, []byte("k"), []byte("v")))
	deep := etf.AppendVersion(nil)
	for i := 0; i < 100_000; i++ {
		deep = etf.AppendListHeader(deep, 1)
	}
	deep = etf.AppendNil(deep)
	for i := 0; i < 100_000; i++ {
		deep = etf.AppendNil(deep)
	}
	hugeKey := term(func(b []byte) []byte {
		return etf.AppendBinary(etf.AppendAtom(etf.AppendTupleHeader(b, 2), "get"), make([]byte, 64<<20))
	})
	type hostile struct {
		name  string
		body  []byte
		want  string // reply kind; "" means no reply (skipped, logged)
		inMsg string
	}
	cases := []hostile{
		{"non-ETF bytes", []byte("hello, world"), "badarg", "version byte"},
		{"version byte only", []byte{131}, "badarg", "tag"},
		{"empty term", nil, "badarg", "empty term"},
		{"atom cache ref", wiretest.Hex("834E01"), "badarg", "atom cache"},
		{"compressed", wiretest.Hex("835000000010789C"), "badarg", "compressed"},
		{"huge bignum", append(wiretest.Hex("836F00010000"), make([]byte, 65537)...), "badarg", "at most 64 bits"},
		{"list nested 100000 deep", deep, "badarg", "nested deeper"},
		{"binary declares 1 GB carries 10", append(wiretest.Hex("836D40000000"), make([]byte, 10)...), "badarg", "claims 1073741824"},
		{"tuple declares 4G elements", wiretest.Hex("8369FFFFFFFF"), "badarg", "tuple claims"},
		{"bit binary", wiretest.Hex("834D000000010380"), "badarg", "bit strings"},
		{"pid", wiretest.Hex("835864000D6E6F6E6F6465406E6F686F7374000000000000000000000000"), "badarg", "not accepted"},
		{"trailing bytes", wiretest.Hex("836A6A"), "badarg", "after the term"},
		{"improper list", wiretest.Hex("836C000000016400016164000162"), "badarg", "improper"},
		{"not a tuple", term(func(b []byte) []byte { return etf.AppendAtom(b, "get") }), "badarg", "a request is a tuple"},
		{"empty tuple", term(func(b []byte) []byte { return etf.AppendTupleHeader(b, 0) }), "badarg", "a request is a tuple"},
		{"op not an atom", term(func(b []byte) []byte { return bin(bin(etf.AppendTupleHeader(b, 2), "get"), "k") }), "badarg", "op must be an atom"},
		{"unknown op", term(func(b []byte) []byte { return etf.AppendAtom(etf.AppendTupleHeader(b, 1), "frobnicate") }), "badarg", "frobnicate"},
		{"wrong arity", term(func(b []byte) []byte { return etf.AppendAtom(etf.AppendTupleHeader(b, 1), "get") }), "badarg", "wrong arity"},
		{"non-binary key", term(func(b []byte) []byte { return etf.AppendInt(etf.AppendAtom(etf.AppendTupleHeader(b, 2), "get"), 42) }), "badarg", "must be a binary, got integer"},
		{"charlist key", wiretest.Hex("8368026400036765746B0003616263"), "badarg", "got charlist"},
		{"options not a list", term(func(b []byte) []byte {
			return etf.AppendInt(bin(etf.AppendAtom(etf.AppendTupleHeader(b, 3), "get"), "k"), 5)
		}), "badarg", "options must be a list"},
		{"unknown option", term(func(b []byte) []byte {
			b = bin(etf.AppendAtom(etf.AppendTupleHeader(b, 3), "get"), "k")
			return etf.AppendNil(etf.AppendInt(etf.AppendAtom(etf.AppendTupleHeader(etf.AppendListHeader(b, 1), 2), "frob"), 1))
		}), "badarg", "unknown option"},
		{"sync not a boolean", term(func(b []byte) []byte {
			b = bin(bin(etf.AppendAtom(etf.AppendTupleHeader(b, 4), "put"), "k"), "v")
			return etf.AppendNil(etf.AppendInt(etf.AppendAtom(etf.AppendTupleHeader(etf.AppendListHeader(b, 1), 2), "sync"), 1))
		}), "badarg", "sync must be true or false"},
		{"negative batch_size", scanWith("batch_size", func(b []byte) []byte { return etf.AppendInt(b, -1) }), "badarg", "batch_size must be"},
		{"float batch_size", scanWith("batch_size", func(b []byte) []byte { return etf.AppendFloat(b, 1.5) }), "badarg", "batch_size must be"},
		{"limit of 2^64", scanWith("limit", func(b []byte) []byte { return append(b, wiretest.Hex("6E0900000000000000000001")...) }), "badarg", "at most 64 bits"},
		{"limit of 2^64-1", scanWith("limit", func(b []byte) []byte { return etf.AppendUint(b, 1<<64-1) }), "badarg", "limit must be"},
		{"batch entry too short", term(func(b []byte) []byte {
			b = etf.AppendListHeader(etf.AppendAtom(etf.AppendTupleHeader(b, 2), "write_batch"), 1)
			return etf.AppendNil(bin(etf.AppendAtom(etf.AppendTupleHeader(b, 2), "put"), "k"))
		}), "badarg", "put takes 3 or 4"},
		{"batch entry unknown kind", term(func(b []byte) []byte {
			b = etf.AppendListHeader(etf.AppendAtom(etf.AppendTupleHeader(b, 2), "write_batch"), 1)
			return etf.AppendNil(bin(bin(etf.AppendAtom(etf.AppendTupleHeader(b, 3), "increment"), "k"), "v"))
		}), "badarg", "unknown kind"},
		{"multi_get with a non-binary", term(func(b []byte) []byte {
			b = etf.AppendListHeader(etf.AppendAtom(etf.AppendTupleHeader(b, 2), "multi_get"), 2)
			return etf.AppendNil(etf.AppendInt(bin(b, "a"), 7))
		}), "badarg", "key 2 must be a binary"},
		{"binary map key in options", term(func(b []byte) []byte {
			b = bin(etf.AppendAtom(etf.AppendTupleHeader(b, 3), "get"), "k")
			return etf.AppendInt(bin(etf.AppendMapHeader(b, 1), "cf"), 1)
		}), "badarg", "map key"},
		{"unknown cursor", term(func(b []byte) []byte {
			return etf.AppendInt(etf.AppendAtom(etf.AppendTupleHeader(b, 2), "iter_next"), 999)
		}), "unknown_cursor", ""},
		{"unknown snapshot", term(func(b []byte) []byte {
			b = bin(etf.AppendAtom(etf.AppendTupleHeader(b, 3), "get"), "k")
			return etf.AppendNil(etf.AppendInt(etf.AppendAtom(etf.AppendTupleHeader(etf.AppendListHeader(b, 1), 2), "snapshot"), 77))
		}), "unknown_snapshot", ""},
		{"key of 64 MiB (frame over --max-frame)", hugeKey, "badarg", "exceeds the limit"},
		{"checkpoint escaping its root", term(func(b []byte) []byte {
			return bin(etf.AppendAtom(etf.AppendTupleHeader(b, 2), "checkpoint"), "../../etc")
		}), "badarg", "not inside"},
	}
	require.GreaterOrEqual(t, len(cases)+3, 30)
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id := uint64(1_000_000 + i)
			replies, done := clienttest.Register(s.Client, id)
			defer done()
			require.NoError(t, clienttest.WriteFrame(s.Client, wiretest.Frame(id, c.body)))
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			reply, err := clienttest.Await(ctx, s.Client, replies)
			require.NoError(t, err)
			tup, ok := reply.(etf.Tuple)
			require.True(t, ok, "reply %v", reply)
			require.Equal(t, etf.Atom("error"), tup[0])
			re := &client.ReplyError{Reason: tup[1]}
			assert.Equal(t, c.want, re.Kind(), re.Error())
			assert.Contains(t, re.Error(), c.inMsg)
			v, err := s.Get(ctx, []byte("k"))
			require.NoError(t, err, "the next valid request is answered")
			assert.Equal(t, "v", string(v))
		})
	}

	// Frames without a readable id: skipped with a line on stderr.
	for _, packet := range [][]byte{{}, {1, 2, 3, 4, 5}} {
		f := make([]byte, 4, 4+len(packet))
		binary.BigEndian.PutUint32(f, uint32(len(packet)))
		require.NoError(t, clienttest.WriteFrame(s.Client, append(f, packet...)))
		require.NoError(t, s.Ping(ctx), "still serving after a %d-byte packet", len(packet))
	}
	// stderr reaches the buffer through a pipe: it may trail the replies.
	assert.Eventually(t, func() bool {
		out := s.Stderr.String()
		return strings.Contains(out, "packet shorter than its 8-byte id") && strings.Contains(out, "exceeds the limit")
	}, 5*time.Second, 10*time.Millisecond, "stderr: %s", s.Stderr.String())

	// Nothing above was allocated at its declared size: the 1 GB binary,
	// the 4G-element tuple and the 64 MiB frame all stayed small.
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.Pid()))
	require.NoError(t, err)
	var peakKiB int
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			fmt.Sscanf(strings.TrimPrefix(line, "VmHWM:"), "%d", &peakKiB)
		}
	}
	assert.Greater(t, peakKiB, 0)
	assert.Less(t, peakKiB, 256<<10, "peak RSS %d KiB: memory stayed bounded", peakKiB)
}

func scanWith(opt string, value func([]byte) []byte) []byte {
	return term(func(b []byte) []byte {
		b = bin(bin(etf.AppendAtom(etf.AppendTupleHeader(b, 4), "scan"), ""), "")
		return etf.AppendNil(value(etf.AppendAtom(etf.AppendTupleHeader(etf.AppendListHeader(b, 1), 2), opt)))
	})
}

func TestMsgpackHostileInput(t *testing.T) {
	s := start(t, "", "msgpack")
	deep := make([]byte, 0, 200_000)
	for i := 0; i < 100_000; i++ {
		deep = append(deep, 0x91) // fixarray of 1
	}
	deep = append(deep, 0xc0)
	cases := map[string][]byte{
		"nested 100000 deep": deep,
		"bin claims 4 GB":    {0xc6, 0xff, 0xff, 0xff, 0xff, 1},
		"array claims 4G":    {0xdd, 0xff, 0xff, 0xff, 0xff},
		"extension type":     {0xd4, 1, 1},
		"reserved byte":      {0xc1},
		"trailing bytes":     {0x91, 0xa4, 'p', 'i', 'n', 'g', 0xc0},
		"unknown op":         {0x91, 0xa3, 'f', 'o', 'o'},
	}
	id := uint64(500)
	for name, body := range cases {
		id++
		replies, done := clienttest.Register(s.Client, id)
		require.NoError(t, clienttest.WriteFrame(s.Client, wiretest.Frame(id, body)))
		reply, err := clienttest.Await(context.Background(), s.Client, replies)
		done()
		require.NoError(t, err, name)
		assert.Equal(t, etf.Atom("error"), reply.(etf.Tuple)[0], name)
		require.NoError(t, s.Ping(ctx), name)
	}
}

func TestKill9LosesNoAcknowledgedWrite(t *testing.T) {
	path := t.TempDir()
	s := start(t, path, "etf", "--column-family", "rows")
	var acked sync.Map
	var n atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				key := fmt.Sprintf("w%d:%06d", w, i)
				var err error
				if i%5 == 0 {
					err = s.WriteBatch(ctx, []kv.BatchOp{
						{Kind: kv.OpPut, Key: []byte(key), Value: []byte("batch")},
						{Kind: kv.OpPut, CF: "rows", Key: []byte(key + ":twin"), Value: []byte("batch")},
					})
				} else {
					err = s.Put(ctx, []byte(key), []byte("put"))
				}
				if err != nil {
					assert.ErrorIs(t, err, client.ErrEngineDown, "in-flight callers see engine down")
					return
				}
				acked.Store(key, i%5 == 0)
				n.Add(1)
			}
		}(w)
	}
	for n.Load() < 3000 {
		time.Sleep(5 * time.Millisecond)
	}
	require.NoError(t, syscall.Kill(s.Pid(), syscall.SIGKILL))
	wg.Wait()

	s2 := start(t, path, "etf")
	// No half batch either: every twin in "rows" has its key in "default".
	twins, err := s2.Scan(ctx, nil, nil, client.Opts{CF: "rows"})
	require.NoError(t, err)
	for _, b := range twins {
		for _, kv := range b.Rows {
			_, err := s2.Get(ctx, []byte(strings.TrimSuffix(string(kv.Key), ":twin")))
			require.NoError(t, err, "half a batch survived: %s", kv.Key)
		}
	}
	count := 0
	acked.Range(func(k, batch any) bool {
		count++
		v, err := s2.Get(ctx, []byte(k.(string)))
		if assert.NoError(t, err, "acknowledged write %s lost", k) && batch.(bool) {
			assert.Equal(t, "batch", string(v))
			_, err := s2.Get(ctx, []byte(k.(string)+":twin"), client.Opts{CF: "rows"})
			assert.NoError(t, err, "a batch is all or nothing, across column families")
		}
		return true
	})
	assert.GreaterOrEqual(t, count, 3000)
}

func TestEOFAndSIGTERMCloseCleanlyAndReleaseTheLock(t *testing.T) {
	path := t.TempDir()
	s := start(t, path, "etf")
	require.NoError(t, s.Put(ctx, []byte("k"), []byte("v")))
	require.NoError(t, s.CloseStdin(), "EOF on stdin exits 0")
	assert.Contains(t, s.Stderr.String(), "stdin closed")

	began := time.Now()
	s2 := start(t, path, "etf")
	assert.Less(t, time.Since(began), 5*time.Second, "the LOCK was released")
	v, err := s2.Get(ctx, []byte("k"))
	require.NoError(t, err)
	assert.Equal(t, "v", string(v))
	require.NoError(t, syscall.Kill(s2.Pid(), syscall.SIGTERM))
	<-s2.Down()
	require.NoError(t, s2.CloseStdin(), "SIGTERM exits 0")
	assert.Contains(t, s2.Stderr.String(), "terminated")

	s3 := start(t, path, "etf")
	_, err = s3.Get(ctx, []byte("k"))
	require.NoError(t, err)

	// stdin closed in the middle of a frame: clean shutdown as well.
	require.NoError(t, clienttest.WriteFrame(s3.Client, []byte{0, 0, 0, 100, 0, 0, 0, 0, 0, 0, 0, 1, 131}))
	require.NoError(t, s3.CloseStdin())
	assert.Contains(t, s3.Stderr.String(), "in the middle of a frame")
	start(t, path, "etf")
}

func TestOpenFailuresAreReported(t *testing.T) {
	path := t.TempDir()
	start(t, path, "etf")
	_, err := client.Start(client.StartOptions{Binary: sidecarBinary, Path: path, Env: small})
	require.Error(t, err, "a second sidecar on a held path")
	assert.Equal(t, "open_failed", kind(err))
	assert.Contains(t, err.Error(), "LOCK")

	_, err = client.Start(client.StartOptions{Binary: sidecarBinary, Path: t.TempDir(), Env: []string{"SPIRE_ROCKSDB_COMPRESSION=gzip"}})
	assert.Equal(t, "bad_config", kind(err))
	assert.Contains(t, err.Error(), "SPIRE_ROCKSDB_COMPRESSION")

	if os.Geteuid() != 0 { // root writes anywhere
		ro := t.TempDir()
		require.NoError(t, os.Chmod(ro, 0o500))
		_, err = client.Start(client.StartOptions{Binary: sidecarBinary, Path: ro})
		assert.Equal(t, "open_failed", kind(err))
	}
	file := filepath.Join(t.TempDir(), "a-file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	_, err = client.Start(client.StartOptions{Binary: sidecarBinary, Path: file})
	assert.Equal(t, "open_failed", kind(err), "a data dir that cannot be created")
}

func TestIdleCursorsAndSnapshotsAreClosed(t *testing.T) {
	s := start(t, "", "etf", "--idle-timeout", "200ms")
	require.NoError(t, s.Put(ctx, []byte("a"), []byte("1")))
	cur, err := s.IterOpen(ctx, nil, nil)
	require.NoError(t, err)
	_, err = s.SnapshotOpen(ctx)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		stats, err := s.Stats(ctx)
		require.NoError(t, err)
		return stats.Sidecar.OpenIterators == 0 && stats.Sidecar.OpenSnapshots == 0
	}, 5*time.Second, 50*time.Millisecond)
	_, err = s.IterNext(ctx, cur)
	assert.Equal(t, "unknown_cursor", kind(err))
	assert.True(t, strings.Contains(s.Stderr.String(), "idle"))
}

// --idle-timeout 0 (what the :rocksdb app runs with) never reaps: its
// handles live until they are closed, as the NIF's. The reaper would have
// run many times in the wait (it ticks every 50 ms at least).
func TestIdleTimeoutZeroNeverCloses(t *testing.T) {
	s := start(t, "", "etf", "--idle-timeout", "0")
	require.NoError(t, s.Put(ctx, []byte("a"), []byte("1")))
	cur, err := s.IterOpen(ctx, nil, nil)
	require.NoError(t, err)
	snap, err := s.SnapshotOpen(ctx)
	require.NoError(t, err)
	time.Sleep(400 * time.Millisecond)
	v, err := s.Get(ctx, []byte("a"), client.Opts{Snapshot: snap})
	require.NoError(t, err)
	assert.Equal(t, "1", string(v))
	_, err = s.IterNext(ctx, cur)
	require.NoError(t, err)
	assert.NotContains(t, s.Stderr.String(), "idle")
}

func TestSnapshotLimit(t *testing.T) {
	s := start(t, "", "etf", "--max-snapshots", "2")
	for i := 0; i < 2; i++ {
		_, err := s.SnapshotOpen(ctx)
		require.NoError(t, err)
	}
	_, err := s.SnapshotOpen(ctx)
	assert.Equal(t, "too_many_snapshots", kind(err))
}

func TestIteratorLimit(t *testing.T) {
	s := start(t, "", "etf", "--max-iterators", "2")
	_, err := s.IterOpen(ctx, nil, nil)
	require.NoError(t, err)
	_, err = s.IterOpen(ctx, nil, nil)
	require.NoError(t, err)
	_, err = s.IterOpen(ctx, nil, nil)
	assert.Equal(t, "too_many_iterators", kind(err))
}
