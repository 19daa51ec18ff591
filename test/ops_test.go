package test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/spiredb/spire-port/engine/kv"
	"github.com/spiredb/spire-port/port/client"
	"github.com/spiredb/spire-port/port/wire"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEveryOpInBothCodecs(t *testing.T) {
	for _, codec := range codecs {
		t.Run(codec, func(t *testing.T) {
			s := start(t, "", codec)
			assert.Equal(t, filepath.Join(s.Path, "data"), s.Ready.Path)

			require.NoError(t, s.Ping(ctx))
			require.NoError(t, s.Put(ctx, []byte("user:1"), []byte("alice")))
			require.NoError(t, s.Put(ctx, []byte("empty"), []byte{}, client.Opts{Sync: true}))
			v, err := s.Get(ctx, []byte("user:1"))
			require.NoError(t, err)
			assert.Equal(t, "alice", string(v))
			v, err = s.Get(ctx, []byte("empty"))
			require.NoError(t, err)
			assert.Empty(t, v)
			_, err = s.Get(ctx, []byte("nobody"))
			assert.ErrorIs(t, err, client.ErrNotFound)

			vals, err := s.MultiGet(ctx, [][]byte{[]byte("user:1"), []byte("nobody")})
			require.NoError(t, err)
			assert.Equal(t, [][]byte{[]byte("alice"), nil}, vals)

			require.NoError(t, s.Delete(ctx, []byte("user:1")))
			_, err = s.Get(ctx, []byte("user:1"))
			assert.ErrorIs(t, err, client.ErrNotFound)

			var ops []kv.BatchOp
			for i := 0; i < 250; i++ {
				ops = append(ops, kv.BatchOp{Kind: kv.OpPut, Key: []byte(fmt.Sprintf("user:%04d", i)), Value: []byte(fmt.Sprint(i))})
			}
			ops = append(ops, kv.BatchOp{Kind: kv.OpDelete, Key: []byte("empty")})
			require.NoError(t, s.WriteBatch(ctx, ops))
			_, err = s.Get(ctx, []byte("empty"))
			assert.ErrorIs(t, err, client.ErrNotFound, "the batch's delete applied")

			batches, err := s.Scan(ctx, []byte("user:"), []byte("user:~"), client.Opts{BatchSize: 100})
			require.NoError(t, err)
			require.Len(t, batches, 3)
			assert.Len(t, batches[0].Rows, 100)
			assert.Len(t, batches[2].Rows, 50)
			assert.True(t, batches[2].Done)
			assert.Equal(t, int64(100), batches[0].Stats.RowsReturned)
			assert.Positive(t, batches[0].Stats.BytesRead)
			assert.GreaterOrEqual(t, batches[0].Stats.ScanTimeMs, 0.0)

			batches, err = s.Scan(ctx, []byte("user:0010"), []byte("user:0020"), client.Opts{Limit: 5})
			require.NoError(t, err)
			require.Len(t, batches, 1)
			assert.Len(t, batches[0].Rows, 5, "limit")
			batches, err = s.Scan(ctx, []byte("user:0240"), []byte("user:0249"))
			require.NoError(t, err)
			assert.Len(t, batches[0].Rows, 10, "end is inclusive")
			assert.Equal(t, "user:0249", string(batches[0].Rows[9].Key))
			batches, err = s.Scan(ctx, []byte("zzz"), nil)
			require.NoError(t, err)
			assert.Empty(t, batches, "empty range")

			cur, err := s.IterOpen(ctx, []byte("user:"), nil, client.Opts{BatchSize: 200})
			require.NoError(t, err)
			b1, err := s.IterNext(ctx, cur)
			require.NoError(t, err)
			assert.Len(t, b1.Rows, 200)
			assert.False(t, b1.Done)
			b2, err := s.IterNext(ctx, cur)
			require.NoError(t, err)
			assert.Len(t, b2.Rows, 50)
			assert.True(t, b2.Done)
			_, err = s.IterNext(ctx, cur)
			assert.Equal(t, "unknown_cursor", kind(err), "a finished cursor is closed")
			cur, err = s.IterOpen(ctx, nil, nil)
			require.NoError(t, err)
			require.NoError(t, s.IterClose(ctx, cur))
			require.NoError(t, s.IterClose(ctx, cur), "closing twice is fine")

			snap, err := s.SnapshotOpen(ctx)
			require.NoError(t, err)
			latest, err := s.LatestSequenceNumber(ctx)
			require.NoError(t, err)
			require.NoError(t, s.Put(ctx, []byte("user:0000"), []byte("changed")))
			seq, err := s.SnapshotSequence(ctx, snap)
			require.NoError(t, err)
			assert.Equal(t, latest, seq, "the snapshot sees up to the last write before it")
			v, err = s.Get(ctx, []byte("user:0000"), client.Opts{Snapshot: snap})
			require.NoError(t, err)
			assert.Equal(t, "0", string(v), "the snapshot does not see the later put")
			require.NoError(t, s.SnapshotClose(ctx, snap))
			_, err = s.Get(ctx, []byte("user:0000"), client.Opts{Snapshot: snap})
			assert.Equal(t, "unknown_snapshot", kind(err))
			_, err = s.SnapshotSequence(ctx, snap)
			assert.Equal(t, "unknown_snapshot", kind(err))

			require.NoError(t, s.DeleteRange(ctx, []byte("user:0100"), []byte("user:0200")))
			batches, err = s.Scan(ctx, []byte("user:"), []byte("user:~"))
			require.NoError(t, err)
			assert.Len(t, batches[0].Rows, 150)

			require.NoError(t, s.Flush(ctx))
			require.NoError(t, s.CompactRange(ctx))
			files, err := s.Property(ctx, "rocksdb.num-files-at-level0")
			require.NoError(t, err)
			assert.Equal(t, "0", files)
			_, err = s.Property(ctx, "rocksdb.nonsense")
			assert.ErrorIs(t, err, client.ErrNotFound)

			stats, err := s.Stats(ctx)
			require.NoError(t, err)
			assert.Positive(t, stats.Tickers["rocksdb.bytes.written"])
			assert.Positive(t, stats.Histograms["rocksdb.db.get.micros"].Count)
			assert.Contains(t, stats.Properties, "rocksdb.estimate-num-keys")
			assert.Contains(t, stats.ColumnFamilies, "default")
			assert.Equal(t, int64(0), stats.Sidecar.OpenIterators)

			info, err := s.CacheInfo(ctx)
			require.NoError(t, err)
			assert.Equal(t, uint64(16777216), info.Capacity)
			assert.False(t, info.StrictCapacity)

			require.NoError(t, s.CreateColumnFamily(ctx, "rows"))
			require.NoError(t, s.Put(ctx, []byte("k"), []byte("in-rows"), client.Opts{CF: "rows"}))
			v, err = s.Get(ctx, []byte("k"), client.Opts{CF: "rows"})
			require.NoError(t, err)
			assert.Equal(t, "in-rows", string(v))
			require.NoError(t, s.WriteBatch(ctx, []kv.BatchOp{
				{Kind: kv.OpPut, CF: "rows", Key: []byte("a"), Value: []byte("1")},
				{Kind: kv.OpPut, Key: []byte("a"), Value: []byte("2")},
			}))
			names, err := s.ColumnFamilies(ctx)
			require.NoError(t, err)
			assert.Equal(t, []string{"default", "rows"}, names)
			_, err = s.Get(ctx, []byte("k"), client.Opts{CF: "nope"})
			assert.Equal(t, "unknown_column_family", kind(err))
			require.NoError(t, s.DropColumnFamily(ctx, "rows"))

			require.NoError(t, s.Checkpoint(ctx, "cp1"))
			_, err = os.Stat(filepath.Join(s.Path, "checkpoints", "cp1", "data", "CURRENT"))
			require.NoError(t, err, "a checkpoint is an openable copy in the engine layout")
			assert.Equal(t, "badarg", kind(s.Checkpoint(ctx, "cp1")), "an existing target is refused")
			assert.Equal(t, "badarg", kind(s.Checkpoint(ctx, "../escape")))
			assert.Equal(t, "badarg", kind(s.Checkpoint(ctx, "/tmp/elsewhere")))

			require.NoError(t, s.Close())
		})
	}
}

// kind is the tag of an error reply, "" for any other error.
func kind(err error) string {
	if re, ok := err.(*client.ReplyError); ok {
		return re.Kind()
	}
	return ""
}

func TestSequenceNumbersAndSyncWAL(t *testing.T) {
	for _, codec := range codecs {
		t.Run(codec, func(t *testing.T) {
			s := start(t, "", codec)
			seq0, err := s.LatestSequenceNumber(ctx)
			require.NoError(t, err)
			require.NoError(t, s.Put(ctx, []byte("a"), []byte("1")))
			require.NoError(t, s.Delete(ctx, []byte("a")))
			require.NoError(t, s.WriteBatch(ctx, []kv.BatchOp{
				{Kind: kv.OpPut, Key: []byte("b"), Value: []byte("2")},
				{Kind: kv.OpPut, Key: []byte("c"), Value: []byte("3")},
				{Kind: kv.OpDeleteRange, Key: []byte("x"), Value: []byte("y")},
			}))
			seq, err := s.LatestSequenceNumber(ctx)
			require.NoError(t, err)
			assert.Equal(t, seq0+5, seq, "one per put and delete, one per operation of a batch")
			_, err = s.Get(ctx, []byte("b"))
			require.NoError(t, err)
			seq2, err := s.LatestSequenceNumber(ctx)
			require.NoError(t, err)
			assert.Equal(t, seq, seq2, "reads take none")

			require.NoError(t, s.SyncWAL(ctx))
			require.NoError(t, s.Put(ctx, []byte("d"), []byte("4")))
			require.NoError(t, s.SyncWAL(ctx))
		})
	}
}

func TestReadOnlySidecarBesideAWriter(t *testing.T) {
	path := t.TempDir()
	w := start(t, path, "etf")
	require.NoError(t, w.Put(ctx, []byte("k"), []byte("v")))

	r := start(t, path, "etf", "--read-only")
	v, err := r.Get(ctx, []byte("k"))
	require.NoError(t, err)
	assert.Equal(t, "v", string(v))
	err = r.Put(ctx, []byte("k"), []byte("other"))
	assert.Equal(t, "rocksdb", kind(err), "%v", err)
	assert.Contains(t, err.Error(), "read only mode")
	require.NoError(t, r.Ping(ctx), "the sidecar keeps serving")
	v, err = w.Get(ctx, []byte("k"))
	require.NoError(t, err)
	assert.Equal(t, "v", string(v))
	require.NoError(t, w.Put(ctx, []byte("k2"), []byte("v2")), "the writer keeps writing")
}

// RocksDB starts a pool's threads when it is resized: the sidecar's thread
// count shows set_background_threads reached its env.
func TestSetBackgroundThreads(t *testing.T) {
	s := start(t, "", "etf")
	threads := func() int {
		entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", s.Pid()))
		require.NoError(t, err)
		return len(entries)
	}
	before := threads()
	require.NoError(t, s.SetBackgroundThreads(ctx, 24, false))
	require.NoError(t, s.SetBackgroundThreads(ctx, 12, true))
	assert.GreaterOrEqual(t, threads(), before+24, "the pools grew")

	for _, bad := range []int{-1, wire.MaxBackgroundThreads + 1} {
		err := s.SetBackgroundThreads(ctx, bad, false)
		assert.Equal(t, "badarg", kind(err), "%d threads", bad)
	}
	_, err := s.Call(ctx, func(c wire.Codec, b []byte) []byte {
		return c.Atom(c.Int(c.Atom(c.Tuple(b, 3), "set_background_threads"), 2), "priority_bottom")
	})
	assert.Equal(t, "badarg", kind(err))
	require.NoError(t, s.Put(ctx, []byte("k"), []byte("v")), "still serving")
}
