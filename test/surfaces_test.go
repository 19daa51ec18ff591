package test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spiredb/spire-port/etf"
	"github.com/spiredb/spire-port/port/client"
)

// These tests hold the surfaces added after the first hostile-input
// probe (read-only opens, backups and their commands, positioned
// iterators) to the same promise: a clear error, nothing lost, nothing
// deleted that is not theirs.

// tool runs a one-shot command and returns its exit status and the term
// it printed.
func tool(t *testing.T, args ...string) (int, any) {
	t.Helper()
	cmd := exec.Command(sidecarBinary, args...)
	out, err := cmd.Output()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	if len(out) == 0 {
		return code, nil
	}
	term, err := etf.DecodeReply(out)
	require.NoError(t, err, "stdout %q", out)
	return code, term
}

// names lists the names in dir.
func names(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []string
	for _, d := range des {
		out = append(out, d.Name())
	}
	return out
}

func writeFiles(t *testing.T, dir string, names ...string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(dir, 0o750))
	for _, n := range names {
		require.NoError(t, os.WriteFile(filepath.Join(dir, n), []byte("mine"), 0o640))
	}
}

func TestReadOnlySidecarRefusesSchemaChangesAndKeepsTheData(t *testing.T) {
	path := t.TempDir()
	w := start(t, path, "etf")
	require.NoError(t, w.CreateColumnFamily(ctx, "rocf"))
	for i := 0; i < 100; i++ {
		require.NoError(t, w.Put(ctx, []byte(fmt.Sprintf("k%03d", i)), []byte("v"), client.Opts{CF: "rocf"}))
	}
	reply := roundTrip(t, w, 1, req("flush", opts(opt("cf", binArg("rocf")))))
	require.Equal(t, etf.Atom("ok"), reply)
	require.NoError(t, w.Close())

	ro := start(t, path, "etf", "--read-only")
	for i, body := range [][]byte{req("cf_create", binArg("newcf")), req("cf_drop", binArg("rocf")),
		req("compact_range", atomArg("nil"), atomArg("nil"), opts())} {
		reason, msg := reasonOf(roundTrip(t, ro, uint64(i+1), body))
		assert.Equal(t, "rocksdb", reason)
		assert.Contains(t, msg, "read only mode")
	}
	require.NoError(t, ro.Close())

	w = start(t, path, "etf")
	families, err := w.ColumnFamilies(ctx)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"default", "rocf"}, families)
	batches, err := w.Scan(ctx, nil, nil, client.Opts{CF: "rocf"})
	require.NoError(t, err)
	rows := 0
	for _, b := range batches {
		rows += len(b.Rows)
	}
	assert.Equal(t, 100, rows, "the read-only sidecar dropped nothing")
}

func TestDestroyLeavesADirectoryWithoutADatabaseAlone(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, "notes.txt", "LOG", "000123.log")
	code, reply := tool(t, "destroy", dir)
	assert.Equal(t, 0, code, "%v", reply)
	assert.ElementsMatch(t, []string{"notes.txt", "LOG", "000123.log"}, names(t, dir))
}

func TestDestroyIsRefusedWhileAReadOnlySidecarHoldsTheDatabase(t *testing.T) {
	path := t.TempDir()
	w := start(t, path, "etf")
	require.NoError(t, w.Put(ctx, []byte("k"), []byte("v")))
	require.NoError(t, w.Close())
	ro := start(t, path, "etf", "--read-only")
	data := filepath.Join(path, "data")

	code, reply := tool(t, "destroy", data)
	assert.Equal(t, 1, code)
	reason, msg := reasonOf(reply)
	assert.Equal(t, "io_error", reason, msg)
	assert.FileExists(t, filepath.Join(data, "CURRENT"))
	code, _ = tool(t, "repair", data)
	assert.Equal(t, 1, code, "repair too")

	v, err := ro.Get(ctx, []byte("k"))
	require.NoError(t, err)
	assert.Equal(t, "v", string(v))
	require.NoError(t, ro.Close())
	code, reply = tool(t, "destroy", data)
	assert.Equal(t, 0, code, "%v", reply)
	assert.NoFileExists(t, filepath.Join(data, "CURRENT"))
}

func TestRestoreNeverDeletesFilesAtItsTarget(t *testing.T) {
	path := t.TempDir()
	s := start(t, path, "etf")
	require.NoError(t, s.Put(ctx, []byte("k"), []byte("v")))
	_, err := s.Backup(ctx, "backups", client.BackupOpts{Flush: true})
	require.NoError(t, err)

	target := filepath.Join(path, "checkpoints", "target")
	writeFiles(t, target, "keep.txt", "notes.log", "000099.log")
	reply := roundTrip(t, s, 1, req("backup_restore", binArg("backups"), atomArg("latest"), binArg(target),
		opts(opt("flat", atomArg("true")))))
	reason, msg := reasonOf(reply)
	assert.Equal(t, "badarg", reason, "%v", reply)
	assert.Contains(t, msg, "not empty")
	assert.ElementsMatch(t, []string{"keep.txt", "notes.log", "000099.log"}, names(t, target))

	file := filepath.Join(path, "checkpoints", "a-file")
	require.NoError(t, os.WriteFile(file, nil, 0o640))
	reason, _ = reasonOf(roundTrip(t, s, 2, req("backup_restore", binArg("backups"), atomArg("latest"), binArg(file),
		opts(opt("flat", atomArg("true"))))))
	assert.Equal(t, "badarg", reason, "a target that is a file")
	reason, _ = reasonOf(roundTrip(t, s, 3, req("backup", binArg(filepath.Join(file, "sub")), opts())))
	assert.Contains(t, []string{"badarg", "io_error"}, reason, "a backup under a file")

	code, _ := tool(t, "backup-restore", filepath.Join(path, "checkpoints", "backups"), "latest", target, "flat")
	assert.Equal(t, 1, code)
	assert.ElementsMatch(t, []string{"keep.txt", "notes.log", "000099.log"}, names(t, target), "through the command too")

	empty := filepath.Join(path, "checkpoints", "empty")
	require.NoError(t, os.MkdirAll(empty, 0o750))
	require.NoError(t, s.RestoreBackup(ctx, "backups", 0, empty), "an empty directory is a fine target")
}

func TestBackupIdsOutsideThirtyTwoBitsAreRefused(t *testing.T) {
	path := t.TempDir()
	s := start(t, path, "etf")
	for i := 0; i < 2; i++ {
		require.NoError(t, s.Put(ctx, []byte("k"), []byte{byte(i)}))
		_, err := s.Backup(ctx, "backups", client.BackupOpts{Flush: true})
		require.NoError(t, err)
	}
	for i, body := range [][]byte{
		req("backup_verify", binArg("backups"), intArg(1<<32+1)),
		req("backup_delete", binArg("backups"), intArg(1<<32+1)),
		req("backup_delete", binArg("backups"), intArg(0)),
		req("backup_purge", binArg("backups"), intArg(1<<32)),
		req("backup_restore", binArg("backups"), intArg(0), binArg("r")),
	} {
		reason, msg := reasonOf(roundTrip(t, s, uint64(i+1), body))
		assert.Equal(t, "badarg", reason, "case %d: %s", i, msg)
	}
	infos, err := s.ListBackups(ctx, "backups")
	require.NoError(t, err)
	assert.Len(t, infos, 2, "no backup was touched")

	dir := filepath.Join(path, "checkpoints", "backups")
	for _, args := range [][]string{{"backup-verify", dir, "0"}, {"backup-delete", dir, "4294967297"},
		{"backup-purge", dir, "4294967296"}, {"backup-restore", dir, "0", t.TempDir() + "/r"}} {
		code, _ := tool(t, args...)
		assert.Equal(t, 2, code, "%v is a usage error", args)
	}
	code, _ := tool(t, "backup-restore", dir, "latest", filepath.Join(t.TempDir(), "r"))
	assert.Equal(t, 0, code, "latest is spelled latest")
}

func TestHugeBackupRatesAreRefusedNotAllocated(t *testing.T) {
	s := start(t, "", "etf")
	require.NoError(t, s.Put(ctx, []byte("k"), []byte("v")))
	for i, rate := range []int64{1 << 40, 1<<63 - 1} {
		reason, msg := reasonOf(roundTrip(t, s, uint64(i+1), req("backup", binArg("b"),
			opts(opt("rate_limit_bytes_per_sec", intArg(rate))))))
		assert.Equal(t, "badarg", reason)
		assert.Contains(t, msg, "rate_limit_bytes_per_sec")
		reason, _ = reasonOf(roundTrip(t, s, uint64(i+10), req("backup_restore", binArg("b"), atomArg("latest"),
			binArg("r"), opts(opt("rate_limit_bytes_per_sec", intArg(rate))))))
		assert.Equal(t, "badarg", reason)
	}
	require.NoError(t, s.Ping(ctx), "the sidecar is alive")
}

func TestAnEmptyUpperBoundMeansAnEmptyIterator(t *testing.T) {
	s := start(t, "", "etf")
	require.NoError(t, s.Put(ctx, []byte("a"), []byte("1")))
	require.NoError(t, s.Put(ctx, []byte("b"), []byte("2")))
	reply := roundTrip(t, s, 1, req("iterator", opts(opt("iterate_upper_bound", binArg("")))))
	itr := reply.(etf.Tuple)[1]
	n, _ := etf.Int(itr)
	for i, move := range []func([]byte) []byte{atomArg("first"), atomArg("last"), keyed("seek", "a")} {
		keys, more := moveRows(t, s, uint64(i+2), n, move, opts())
		assert.Empty(t, keys)
		assert.False(t, more)
	}
}

func TestPathsWithNulOrOverlongPartsAreBadArgs(t *testing.T) {
	s := start(t, "", "etf")
	for i, name := range []string{"a\x00b", strings.Repeat("x", 300), strings.Repeat("d/", 2600)} {
		for j, body := range [][]byte{req("checkpoint", binArg(name), opts()), req("backup", binArg(name), opts())} {
			reason, msg := reasonOf(roundTrip(t, s, uint64(10*i+j+1), body))
			assert.Equal(t, "badarg", reason, "%q: %s", name[:min(len(name), 20)], msg)
		}
	}
	assert.Empty(t, entries(t, filepath.Join(s.Path, "checkpoints")), "nothing half-made")
}

func TestBackupsStayOutOfTheLiveDatabase(t *testing.T) {
	path := t.TempDir()
	s := start(t, path, "etf", "--checkpoint-root", path)
	reason, _ := reasonOf(roundTrip(t, s, 1, req("backup", binArg(filepath.Join(path, "data", "b")), opts())))
	assert.Equal(t, "badarg", reason)
	reason, _ = reasonOf(roundTrip(t, s, 2, req("backup_list", binArg(filepath.Join(path, "data")))))
	assert.Equal(t, "badarg", reason)
	code, _ := tool(t, "backup-list", filepath.Join(path, "data"))
	assert.Equal(t, 1, code)
	code, _ = tool(t, "backup-purge", filepath.Join(path, "data"), "0")
	assert.Equal(t, 1, code)
	for _, d := range []string{"meta", "private", "shared_checksum"} {
		assert.NoDirExists(t, filepath.Join(path, "data", d))
	}
}

func TestCloseOpsCloseOnlyTheirOwnKind(t *testing.T) {
	s := start(t, "", "etf")
	require.NoError(t, s.Put(ctx, []byte("a"), []byte("1")))
	cursor, _ := etf.Int(roundTrip(t, s, 1, req("iter_open", binArg(""), binArg(""), opts())).(etf.Tuple)[1])
	itr, _ := etf.Int(roundTrip(t, s, 2, req("iterator", opts())).(etf.Tuple)[1])

	reason, _ := reasonOf(roundTrip(t, s, 3, req("iterator_close", intArg(cursor))))
	assert.Equal(t, "unknown_iterator", reason)
	reason, _ = reasonOf(roundTrip(t, s, 4, req("iter_close", intArg(itr))))
	assert.Equal(t, "unknown_cursor", reason)
	keys, _ := moveRows(t, s, 5, itr, atomArg("first"), opts())
	assert.Equal(t, []string{"a"}, keys, "the iterator is still open")
	reply := roundTrip(t, s, 6, req("iter_next", intArg(cursor)))
	assert.Equal(t, etf.Atom("done"), reply.(etf.Tuple)[0], "the cursor is still open")
}

func TestDisableWALWritesAndTheirRefusalWithSync(t *testing.T) {
	s := start(t, "", "etf")
	reply := roundTrip(t, s, 1, req("put", binArg("k"), binArg("v"), opts(opt("disable_wal", atomArg("true")))))
	assert.Equal(t, etf.Atom("ok"), reply)
	reason, msg := reasonOf(roundTrip(t, s, 2, req("put", binArg("k2"), binArg("v"),
		opts(opt("disable_wal", atomArg("true")), opt("sync", atomArg("true"))))))
	assert.Equal(t, "rocksdb", reason)
	assert.Contains(t, msg, "Sync writes has to enable WAL")
	v, err := s.Get(ctx, []byte("k"))
	require.NoError(t, err)
	assert.Equal(t, "v", string(v))
	_, err = s.Get(ctx, []byte("k2"))
	assert.ErrorIs(t, err, client.ErrNotFound, "the refused write applied nothing")
}

func TestApproximateSizesAndMemtableStats(t *testing.T) {
	s := start(t, "", "etf")
	for i := 0; i < 100; i++ {
		require.NoError(t, s.Put(ctx, []byte(fmt.Sprintf("k%03d", i)), []byte(strings.Repeat("v", 1000))))
	}
	rng := func(a, b string) func([]byte) []byte {
		return func(buf []byte) []byte { return bin(bin(etf.AppendTupleHeader(buf, 2), a), b) }
	}
	list := func(items ...func([]byte) []byte) func([]byte) []byte {
		return func(b []byte) []byte {
			b = etf.AppendListHeader(b, len(items))
			for _, it := range items {
				b = it(b)
			}
			return etf.AppendNil(b)
		}
	}
	reply := roundTrip(t, s, 1, req("approximate_sizes", list(rng("k010", "k050"), rng("x", "y")), atomArg("include_both"), opts()))
	sizes := asList(reply.(etf.Tuple)[1])
	require.Len(t, sizes, 2)
	n, _ := etf.Int(sizes[0])
	assert.Positive(t, n, "the memtable holds the range")
	n, _ = etf.Int(sizes[1])
	assert.Zero(t, n)
	reply = roundTrip(t, s, 2, req("approximate_memtable_stats", binArg("k010"), binArg("k050"), opts()))
	stats := reply.(etf.Tuple)[1].(etf.Tuple)
	count, _ := etf.Int(stats[0])
	assert.Positive(t, count)

	// A reversed range would trip an assertion in RocksDB: refused first.
	for i, body := range [][]byte{
		req("approximate_sizes", list(rng("z", "a")), atomArg("include_files"), opts()),
		req("approximate_memtable_stats", binArg("z"), binArg("a"), opts()),
		req("approximate_sizes", list(rng("a", "z")), atomArg("include_nothing"), opts()),
	} {
		reason, _ := reasonOf(roundTrip(t, s, uint64(10+i), body))
		assert.Equal(t, "badarg", reason)
	}
	require.NoError(t, s.Ping(ctx))
}
