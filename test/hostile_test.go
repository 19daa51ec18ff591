package test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spiredb/spire-port/etf"
	"github.com/spiredb/spire-port/port/client"
	"github.com/spiredb/spire-port/port/client/clienttest"
	"github.com/spiredb/spire-port/port/wire/wiretest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// roundTrip sends one raw request body and returns its decoded reply.
func roundTrip(t *testing.T, s *sidecar, id uint64, body []byte) any {
	t.Helper()
	replies, done := clienttest.Register(s.Client, id)
	defer done()
	require.NoError(t, clienttest.WriteFrame(s.Client, wiretest.Frame(id, body)))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	reply, err := clienttest.Await(ctx, s.Client, replies)
	require.NoError(t, err)
	return reply
}

// reasonOf returns the reason atom of an {error, {Reason, Msg}} reply and
// its message.
func reasonOf(reply any) (string, string) {
	t, ok := reply.(etf.Tuple)
	if !ok || len(t) != 2 || t[0] != etf.Atom("error") {
		return "", fmt.Sprint(reply)
	}
	if r, ok := t[1].(etf.Tuple); ok && len(r) == 2 {
		return string(r[0].(etf.Atom)), client.Text(r[1])
	}
	return fmt.Sprint(t[1]), ""
}

func req(op string, args ...func([]byte) []byte) []byte {
	b := etf.AppendAtom(etf.AppendTupleHeader(etf.AppendVersion(nil), 1+len(args)), op)
	for _, a := range args {
		b = a(b)
	}
	return b
}

func binArg(s string) func([]byte) []byte { return func(b []byte) []byte { return bin(b, s) } }
func nilArg(b []byte) []byte              { return etf.AppendNil(b) }

func TestReversedRangesAreRefusedAndWritesGoOn(t *testing.T) {
	s := start(t, "", "etf")
	require.NoError(t, s.CreateColumnFamily(ctx, "other"))

	reason, msg := reasonOf(roundTrip(t, s, 1, req("delete_range", binArg("m9"), binArg("m1"), nilArg)))
	assert.Equal(t, "badarg", reason)
	assert.Contains(t, msg, "comes before")

	// A batch of 999 puts with a bad range as entry 501 applies nothing.
	for _, bad := range [][2]string{{"a", ""}, {"b", "a"}} {
		b := etf.AppendAtom(etf.AppendTupleHeader(etf.AppendVersion(nil), 3), "write_batch")
		b = etf.AppendListHeader(b, 999)
		for i := 0; i < 999; i++ {
			if i == 500 {
				b = bin(bin(etf.AppendAtom(etf.AppendTupleHeader(b, 3), "delete_range"), bad[0]), bad[1])
				continue
			}
			b = bin(bin(etf.AppendAtom(etf.AppendTupleHeader(b, 3), "put"), fmt.Sprintf("w%03d", i)), "v")
		}
		b = etf.AppendNil(etf.AppendNil(b))
		reason, _ := reasonOf(roundTrip(t, s, 2, b))
		assert.Equal(t, "badarg", reason, "range %q", bad)
		_, err := s.Get(ctx, []byte("w000"))
		assert.ErrorIs(t, err, client.ErrNotFound, "no entry of a refused batch is applied")
	}

	// Every kind of write still works afterwards, in every column family.
	require.NoError(t, s.Put(ctx, []byte("k"), []byte("v")))
	require.NoError(t, s.Put(ctx, []byte("k"), []byte("v"), client.Opts{CF: "other", Sync: true}))
	require.NoError(t, s.Delete(ctx, []byte("k")))
	require.NoError(t, s.DeleteRange(ctx, []byte("a"), []byte("b")))
	require.NoError(t, s.Flush(ctx))
	stats, err := s.Stats(ctx)
	require.NoError(t, err)
	assert.False(t, stats.Sidecar.WritesStopped)
	assert.Zero(t, stats.Sidecar.Recoveries)
}

// peakRSS is the sidecar's high-water mark of resident memory, in bytes.
func peakRSS(t *testing.T, pid int) int64 {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			require.NoError(t, err)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

// oneByteElements is {Op, [[], [], ...], []}: n one-byte elements.
func oneByteElements(op string, n int) []byte {
	b := etf.AppendAtom(etf.AppendTupleHeader(etf.AppendVersion(nil), 3), op)
	b = etf.AppendListHeader(b, n)
	b = append(b, bytes.Repeat([]byte{106}, n)...)
	return etf.AppendNil(etf.AppendNil(b))
}

func TestListsOfTinyElementsDoNotAmplifyMemory(t *testing.T) {
	s := start(t, "", "etf", "--max-frame", fmt.Sprint(80<<20))
	require.NoError(t, s.Put(ctx, []byte("k"), []byte("v")))
	base := peakRSS(t, s.Pid())
	for _, c := range []struct {
		op string
		n  int
	}{{"write_batch", 8 << 20}, {"multi_get", 8 << 20}, {"write_batch", 60 << 20}} {
		body := oneByteElements(c.op, c.n)
		replies, done := clienttest.Register(s.Client, 7)
		pingReplies, pingDone := clienttest.Register(s.Client, 8)
		began := time.Now()
		// The ping rides right behind the frame, in the same write.
		require.NoError(t, clienttest.WriteFrame(s.Client, append(wiretest.Frame(7, body), wiretest.Frame(8, req("ping"))...)))
		reply, err := clienttest.Await(context.Background(), s.Client, replies)
		require.NoError(t, err)
		refused := time.Since(began)
		pong, err := clienttest.Await(context.Background(), s.Client, pingReplies)
		require.NoError(t, err)
		pinged := time.Since(began)
		done()
		pingDone()
		reason, _ := reasonOf(reply)
		assert.Equal(t, "badarg", reason, "%s of %d elements", c.op, c.n)
		assert.Equal(t, etf.Atom("ok"), pong)
		peak := peakRSS(t, s.Pid())
		t.Logf("%s of %d one-byte elements (%d MiB): refused in %v, ping behind it in %v, peak RSS %d MiB (was %d)",
			c.op, c.n, len(body)>>20, refused, pinged, peak>>20, base>>20)
		// The frame itself is read into one buffer; decoding may add at
		// most a small multiple of it, never the gigabytes a term model of
		// n elements costs.
		assert.Less(t, peak-base, int64(3*len(body)+64<<20), "memory grew by %d MiB", (peak-base)>>20)
	}
	v, err := s.Get(ctx, []byte("k"))
	require.NoError(t, err)
	assert.Equal(t, "v", string(v))
}

func TestCloseIsAnsweredBeforeTheSidecarExits(t *testing.T) {
	s := start(t, "", "etf")
	require.NoError(t, s.Put(ctx, []byte("k"), []byte("v")))
	assert.Equal(t, etf.Atom("ok"), roundTrip(t, s, 3, req("close")))
	select {
	case <-s.Down():
	case <-time.After(10 * time.Second):
		t.Fatal("the sidecar did not exit after {close}")
	}
}

func TestColumnFamilyNamesWithNULAreRefused(t *testing.T) {
	s := start(t, "", "etf")
	reason, msg := reasonOf(roundTrip(t, s, 4, req("cf_create", binArg("a\x00b"))))
	assert.Equal(t, "badarg", reason)
	assert.Contains(t, msg, "NUL")
	names, err := s.ColumnFamilies(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"default"}, names)
}

func TestALockThatCannotBeOpenedFailsAtOnce(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run the sidecar as another user") // CI runs as root
	}
	// Every directory on the way must be open to nobody, the binary's too.
	require.NoError(t, os.Chmod(filepath.Dir(sidecarBinary), 0o755))
	path, err := os.MkdirTemp("", "spire-lock")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(path) })
	require.NoError(t, os.Chmod(path, 0o755))
	data := filepath.Join(path, "data")
	require.NoError(t, os.Mkdir(data, 0o777))
	require.NoError(t, os.Chmod(data, 0o777))                                 // past the umask: nobody may write all but LOCK
	require.NoError(t, os.WriteFile(filepath.Join(data, "LOCK"), nil, 0o600)) // root's, unreadable to nobody
	cmd := exec.Command(sidecarBinary, "--path", path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Env = append(os.Environ(), small...)
	err = cmd.Run()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "the sidecar ran and exited with an error")
	assert.Contains(t, stderr.String(), "Permission denied")
	assert.Contains(t, stderr.String(), "LOCK")
}

func TestACheckpointThroughAnOutsideSymlinkCreatesNothing(t *testing.T) {
	s := start(t, "", "etf")
	outside := t.TempDir()
	root := filepath.Join(s.Path, "checkpoints")
	require.NoError(t, os.MkdirAll(root, 0o750))
	require.NoError(t, os.Symlink(outside, filepath.Join(root, "evil")))
	err := s.Checkpoint(ctx, "evil/sub/cp")
	assert.Equal(t, "badarg", kind(err))
	entries, err := os.ReadDir(outside)
	require.NoError(t, err)
	assert.Empty(t, entries, "nothing is created outside the root")
	require.NoError(t, s.Checkpoint(ctx, "fine/cp"), "a path inside the root still works")
}

// Requests of one stream take effect in the order they arrive, whichever
// path serves them: a read after a write of the same key sees it.
func TestOneStreamKeepsItsOrder(t *testing.T) {
	s := start(t, "", "etf")
	require.NoError(t, s.CreateColumnFamily(ctx, "cf"))
	cfOpt := func(b []byte) []byte {
		return bin(etf.AppendAtom(etf.AppendTupleHeader(etf.AppendListHeader(b, 1), 2), "cf"), "cf")
	}
	syncOpt := func(b []byte) []byte {
		return etf.AppendAtom(etf.AppendAtom(etf.AppendTupleHeader(etf.AppendListHeader(b, 1), 2), "sync"), "true")
	}
	list := func(opt func([]byte) []byte) func([]byte) []byte {
		return func(b []byte) []byte { return etf.AppendNil(opt(b)) }
	}
	for i := 0; i < 300; i++ {
		key, val := fmt.Sprintf("k%d", i%7), fmt.Sprintf("v%d", i)
		var write, read []byte
		switch i % 4 {
		case 0: // a sync put, then a plain get
			write = req("put", binArg(key), binArg(val), list(syncOpt))
			read = req("get", binArg(key), nilArg)
		case 1: // a column family
			write = req("put", binArg(key), binArg(val), list(cfOpt))
			read = req("get", binArg(key), list(cfOpt))
		case 2: // a batch with a sync option
			b := etf.AppendAtom(etf.AppendTupleHeader(etf.AppendVersion(nil), 3), "write_batch")
			b = bin(bin(etf.AppendAtom(etf.AppendTupleHeader(etf.AppendListHeader(b, 1), 3), "put"), key), val)
			write = list(syncOpt)(etf.AppendNil(b))
			read = req("multi_get", func(b []byte) []byte { return etf.AppendNil(bin(etf.AppendListHeader(b, 1), key)) }, nilArg)
		case 3: // a delete, then a scan
			write = req("delete", binArg(key), list(syncOpt))
			read = req("scan", binArg(key), binArg(key), nilArg)
		}
		id := uint64(100 + 2*i)
		wr, wdone := clienttest.Register(s.Client, id)
		rr, rdone := clienttest.Register(s.Client, id+1)
		require.NoError(t, clienttest.WriteFrame(s.Client, append(wiretest.Frame(id, write), wiretest.Frame(id+1, read)...)))
		w, err := clienttest.Await(context.Background(), s.Client, wr)
		require.NoError(t, err)
		require.Equal(t, etf.Atom("ok"), w)
		r, err := clienttest.Await(context.Background(), s.Client, rr)
		require.NoError(t, err)
		wdone()
		rdone()
		switch i % 4 {
		case 0, 1:
			require.Equal(t, etf.Tuple{etf.Atom("ok"), []byte(val)}, r, "run %d", i)
		case 2:
			require.Equal(t, etf.Tuple{etf.Atom("ok"), etf.Tuple{[]byte(val)}}, normalize(r), "run %d", i)
		case 3:
			rows := r.(etf.Tuple)
			require.Equal(t, etf.Atom("done"), rows[0], "run %d", i)
			require.Empty(t, rows[1], "run %d: the scan saw the key deleted before it", i)
		}
	}
}

// normalize turns {ok, [V]} lists into tuples for comparison.
func normalize(r any) any {
	t := r.(etf.Tuple)
	if l, ok := t[1].([]any); ok {
		return etf.Tuple{t[0], etf.Tuple(l)}
	}
	return r
}

// Sync writes are applied in order on the reader and acknowledged once an
// fsync of the WAL covers them: concurrent ones share fsyncs, and every
// acknowledged one is there.
func TestSyncWritesShareFsyncs(t *testing.T) {
	s := start(t, "", "etf")
	before, err := s.Stats(ctx)
	require.NoError(t, err)
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				assert.NoError(t, s.Put(ctx, []byte(fmt.Sprintf("g%d:%d", g, i)), []byte("v"), client.Opts{Sync: true}))
			}
		}(g)
	}
	wg.Wait()
	after, err := s.Stats(ctx)
	require.NoError(t, err)
	synced := after.Tickers["rocksdb.wal.synced"] - before.Tickers["rocksdb.wal.synced"]
	t.Logf("800 sync puts from 16 callers: %d WAL fsyncs", synced)
	assert.Positive(t, synced, "sync puts are fsynced")
	assert.Less(t, synced, uint64(800), "concurrent sync puts share fsyncs")
	for g := 0; g < 16; g++ {
		v, err := s.Get(ctx, []byte(fmt.Sprintf("g%d:49", g)))
		require.NoError(t, err)
		assert.Equal(t, "v", string(v))
	}
}

// A port owner batches whatever its callers have waiting, so one request
// over --max-frame can make the whole batch frame too large. Every other
// request in it is still answered, in order; only the oversized one is
// refused, and the sidecar keeps serving.
func TestAnOversizedBatchAnswersEveryRequestInIt(t *testing.T) {
	s := start(t, "", "etf", "--max-frame", "4096")
	require.NoError(t, s.Put(ctx, []byte("k"), []byte("v")))
	huge := string(make([]byte, 8192))
	frames := [][]byte{
		wiretest.Frame(11, req("get", binArg("k"), nilArg)),
		wiretest.Frame(12, req("get", binArg(huge), nilArg)),
		wiretest.Frame(13, req("put", binArg("k2"), binArg("v2"), nilArg)),
		wiretest.Frame(14, req("get", binArg("k2"), nilArg)),
	}
	batch := wiretest.BatchFrame(frames...)
	require.Greater(t, len(batch), 4096)
	var replies []<-chan []byte
	for id := uint64(11); id <= 14; id++ {
		ch, done := clienttest.Register(s.Client, id)
		defer done()
		replies = append(replies, ch)
	}
	require.NoError(t, clienttest.WriteFrame(s.Client, batch))
	wait, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got := make([]any, len(replies))
	for i, ch := range replies {
		var err error
		got[i], err = clienttest.Await(wait, s.Client, ch)
		require.NoError(t, err, "reply %d", 11+i)
	}
	assert.Equal(t, etf.Tuple{etf.Atom("ok"), []byte("v")}, got[0])
	reason, msg := reasonOf(got[1])
	assert.Equal(t, "badarg", reason)
	assert.Contains(t, msg, "exceeds the limit of 4096")
	assert.Equal(t, etf.Atom("ok"), got[2])
	assert.Equal(t, etf.Tuple{etf.Atom("ok"), []byte("v2")}, got[3])
	v, err := s.Get(ctx, []byte("k2"))
	require.NoError(t, err)
	assert.Equal(t, []byte("v2"), v)
}

// An oversized batch whose entries lie about their lengths loses only what
// follows the lie: the stream stays in step and the next frame is served.
func TestAnOversizedBatchWithABadEntryKeepsTheStreamInStep(t *testing.T) {
	s := start(t, "", "etf", "--max-frame", "4096")
	require.NoError(t, s.Put(ctx, []byte("k"), []byte("v")))
	first := wiretest.Frame(21, req("get", binArg("k"), nilArg))
	liar := wiretest.Frame(22, req("get", binArg(string(make([]byte, 6000))), nilArg))
	binary.BigEndian.PutUint32(liar, 1<<20) // more than the batch holds
	batch := wiretest.BatchFrame(first, liar)
	firstReply, done1 := clienttest.Register(s.Client, 21)
	defer done1()
	pong, done2 := clienttest.Register(s.Client, 23)
	defer done2()
	require.NoError(t, clienttest.WriteFrame(s.Client, append(batch, wiretest.Frame(23, req("ping"))...)))
	wait, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := clienttest.Await(wait, s.Client, firstReply)
	require.NoError(t, err)
	assert.Equal(t, etf.Tuple{etf.Atom("ok"), []byte("v")}, got)
	got, err = clienttest.Await(wait, s.Client, pong)
	require.NoError(t, err)
	assert.Equal(t, etf.Atom("ok"), got)
	assert.Contains(t, s.Stderr.String(), "the rest of the batch dropped")
}
