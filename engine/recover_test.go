package engine

import (
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReversedRangesAreRefusedAndApplyNothing(t *testing.T) {
	e := newTestEngine(t, nil)
	require.NoError(t, e.CreateColumnFamily("other"))

	err := e.DeleteRange([]byte("m9"), []byte("m1"), WriteOptions{})
	assert.ErrorIs(t, err, ErrInvalidArgument)
	assert.ErrorIs(t, e.DeleteRange([]byte("a"), nil, WriteOptions{}), ErrInvalidArgument)

	ops := make([]BatchOp, 0, 999)
	for i := 0; i < 999; i++ {
		ops = append(ops, BatchOp{Kind: OpPut, Key: []byte(fmt.Sprintf("k%03d", i)), Value: []byte("v")})
	}
	ops[500] = BatchOp{Kind: OpDeleteRange, CF: "other", Key: []byte("a"), Value: []byte("")}
	assert.ErrorIs(t, e.Write(ops, false), ErrInvalidArgument)
	ops[500] = BatchOp{Kind: OpDeleteRange, Key: []byte("b"), Value: []byte("a")}
	assert.ErrorIs(t, e.Write(ops, false), ErrInvalidArgument)
	_, err = e.Get([]byte("k000"), ReadOptions{})
	assert.ErrorIs(t, err, ErrNotFound, "no entry of a refused batch is applied")

	assert.ErrorIs(t, e.CompactRange("", []byte("z"), []byte("a")), ErrInvalidArgument)
	_, err = e.NewIterator(IteratorOptions{LowerBound: []byte("z"), UpperBound: []byte("a")})
	assert.ErrorIs(t, err, ErrInvalidArgument)

	// Every later write still works, in every column family.
	require.NoError(t, e.Put([]byte("k"), []byte("v"), WriteOptions{}))
	require.NoError(t, e.Put([]byte("k"), []byte("v"), WriteOptions{CF: "other", Sync: true}))
	require.NoError(t, e.DeleteRange([]byte("a"), []byte("a"), WriteOptions{}), "an empty range is no error")
	require.NoError(t, e.DeleteRange([]byte("a"), []byte("b"), WriteOptions{}))
	require.NoError(t, e.Flush(""))
	assert.False(t, e.Health().WritesStopped)
}

func TestWritesComeBackAfterRocksDBStopsTakingThem(t *testing.T) {
	e := newTestEngine(t, nil)
	var logs []string
	e.SetLogf(func(f string, a ...any) { logs = append(logs, fmt.Sprintf(f, a...)) })
	require.NoError(t, e.Put([]byte("before"), []byte("1"), WriteOptions{Sync: true}))

	require.Error(t, e.faultWrites())
	require.True(t, e.writesStopped(), "the fault leaves RocksDB refusing writes")

	// The first write to meet the state names it and starts the reopen.
	err := e.Put([]byte("x"), []byte("y"), WriteOptions{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "stopped taking writes")

	require.Eventually(t, func() bool {
		return e.Put([]byte("after"), []byte("2"), WriteOptions{}) == nil
	}, 10*time.Second, 10*time.Millisecond, "writes work again without a restart")
	h := e.Health()
	assert.False(t, h.WritesStopped)
	assert.EqualValues(t, 1, h.Recoveries)
	assert.Contains(t, h.LastError, "end key comes before start key")

	v, err := e.Get([]byte("before"), ReadOptions{})
	require.NoError(t, err)
	assert.Equal(t, "1", string(v), "an acknowledged write survives the reopen")
	v, err = e.Get([]byte("after"), ReadOptions{})
	require.NoError(t, err)
	assert.Equal(t, "2", string(v))
	assert.NotEmpty(t, logs, "the state and the recovery are logged")
}

func TestDiskGuardCountsTheSizeOfTheWrite(t *testing.T) {
	g := &diskGuard{dir: t.TempDir(), reserve: 8 << 20}
	g.checked.Store(time.Now().Add(time.Hour).UnixNano()) // no probe: the state below holds
	g.state.Store(&guardState{free: 28 << 20})
	err := g.check(40 << 20)
	require.Error(t, err, "40 MiB do not fit in 20 MiB above the reserve")
	assert.Contains(t, err.Error(), "No space left on device")
	require.NoError(t, g.check(10<<20))
	require.Error(t, g.check(10<<20+1), "admitted writes count against what is left")
	require.NoError(t, g.check(1<<20))
}

// Fourteen busy column families stay within the total write buffer budget,
// where each alone would keep its data in memtables.
func TestColumnFamiliesShareOneWriteBufferBudget(t *testing.T) {
	const budget = 24 << 20
	families := make([]string, 14)
	for i := range families {
		families[i] = fmt.Sprintf("cf%02d", i)
	}
	e := newTestEngine(t, func(c *Config) {
		c.WriteBufferSize = 16 << 20 // 6 MiB per family never fills one
		c.DBWriteBufferSize = budget
		c.ColumnFamilies = families
	})
	value := make([]byte, 4096)
	for _, cf := range families {
		ops := make([]BatchOp, 0, 256)
		for i := 0; i < 6<<20/len(value); i++ {
			ops = append(ops, BatchOp{Kind: OpPut, CF: cf, Key: []byte(fmt.Sprintf("k%06d", i)), Value: value})
			if len(ops) == cap(ops) {
				require.NoError(t, e.Write(ops, false))
				ops = ops[:0]
			}
		}
		require.NoError(t, e.Write(ops, false))
	}
	memtables := func() uint64 {
		var total uint64
		for _, cf := range append(families, DefaultColumnFamily) {
			v, ok, err := e.Property("rocksdb.cur-size-all-mem-tables", cf)
			require.NoError(t, err)
			require.True(t, ok)
			n, err := strconv.ParseUint(v, 10, 64)
			require.NoError(t, err)
			total += n
		}
		return total
	}
	// The flushes the budget triggers run in the background: on a busy
	// machine the memtables may be over it for a moment. Without a budget
	// nothing would ever flush (6 MiB per family is below one memtable).
	require.Eventually(t, func() bool { return memtables() <= uint64(budget)*3/2 }, 10*time.Second, 20*time.Millisecond,
		"the families' memtables come back near the budget")
	t.Logf("memtables of 14 families after 84 MiB of writes: %d MiB (budget %d MiB)", memtables()>>20, budget>>20)
	assert.Equal(t, uint64(budget), e.Config().TotalWriteBufferSize())
}

func TestDestroyAndRepairOnlyADatabaseNobodyHolds(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	e, err := Open(dir, smallConfig())
	require.NoError(t, err)
	require.NoError(t, e.Put([]byte("k"), []byte("v"), WriteOptions{}))

	err = Destroy(dir)
	require.ErrorIs(t, err, ErrDatabaseInUse, "the LOCK is held")
	require.Error(t, Repair(dir))
	require.NoError(t, e.Close())

	require.NoError(t, Repair(dir))
	e, err = Open(dir, smallConfig())
	require.NoError(t, err)
	v, err := e.Get([]byte("k"), ReadOptions{})
	require.NoError(t, err)
	assert.Equal(t, "v", string(v))
	require.NoError(t, e.Close())

	require.NoError(t, Destroy(dir))
	assert.NoFileExists(t, filepath.Join(dir, "CURRENT"))
	require.NoError(t, Destroy(filepath.Join(t.TempDir(), "never-a-database")))
}

func TestReadOnlyOpenSeesTheDatabaseAndRefusesWrites(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	_, err := Open(dir, func() Config { c := smallConfig(); c.ReadOnly = true; return c }())
	require.Error(t, err, "a read-only open needs a database")
	assert.NoFileExists(t, filepath.Join(dir, "CURRENT"), "and makes none")

	rw, err := Open(dir, smallConfig())
	require.NoError(t, err)
	defer func() { require.NoError(t, rw.Close()) }()
	require.NoError(t, rw.Put([]byte("k"), []byte("v"), WriteOptions{}))

	cfg := smallConfig()
	cfg.ReadOnly = true
	ro, err := Open(dir, cfg)
	require.NoError(t, err, "the writer's LOCK does not stop a reader")
	defer func() { require.NoError(t, ro.Close()) }()
	v, err := ro.Get([]byte("k"), ReadOptions{})
	require.NoError(t, err)
	assert.Equal(t, "v", string(v))

	err = ro.Put([]byte("k2"), []byte("v"), WriteOptions{})
	require.Error(t, err)
	assert.Equal(t, KindNotSupported, KindOf(err), "%v", err)
	assert.NotContains(t, err.Error(), "reopening", "a refused write is not RocksDB stopping")
	require.Error(t, ro.Flush(""))

	require.NoError(t, rw.Put([]byte("later"), []byte("x"), WriteOptions{}))
	_, err = ro.Get([]byte("later"), ReadOptions{})
	assert.ErrorIs(t, err, ErrNotFound, "it sees the database as it was at open")
	v, err = rw.Get([]byte("k2"), ReadOptions{})
	assert.ErrorIs(t, err, ErrNotFound, "the refused write left nothing: %q", v)
}
