package engine

import (
	"fmt"
	"math"
	"sync/atomic"
	"syscall"
	"time"
)

// diskGuard refuses writes that would leave the data dir's file system
// with less free space than the reserve (Config.MinFreeDiskBytes), and all
// writes once the data dir was removed or turned read-only. A refused write
// is a *RocksDBError of KindIO, so it reaches the wire as
// {error, {rocksdb, "IO error: No space left ..."}}.
//
// Why refuse instead of letting RocksDB fail: Debian's librocksdb 7.8.3 is
// built with assertions, and a WAL write that hits ENOSPC aborts the whole
// process. So the guard counts what each write will add (its bytes and the
// WAL's framing) against the free space less the reserve: a 40 MiB batch
// with 20 MiB free is refused before it reaches the WAL. Keeping a reserve
// also leaves room for the flushes and compactions already in flight, and
// lets writes resume by themselves once space returns, with no reopen.
type diskGuard struct {
	dir     string
	reserve uint64
	ino     uint64
	// off: the database lives in memory (Config.InMemory), no disk to guard.
	off bool

	// checked is when the last probe began (UnixNano); state holds its
	// result. Writes read both without a lock; the one write that moves
	// checked forward runs the probe, the others use the previous state.
	checked atomic.Int64
	state   atomic.Pointer[guardState]
	// admitted counts the bytes of writes let through since the last probe:
	// the free space the probe saw, less these, is what is left for them.
	admitted atomic.Uint64
}

type guardState struct {
	err  error  // set when every write is refused (dir gone, read-only)
	free uint64 // bytes free at the probe; math.MaxUint64 when unknown
}

const diskCheckEvery = 100 * time.Millisecond

// walOverhead is what the WAL adds to a batch beyond its keys and values:
// a record header per 32 KiB block, the batch header, and a tag and
// varint lengths per entry (counted by the caller per entry).
const (
	walBatchOverhead = 64
	walEntryOverhead = 16
)

func newDiskGuard(dir string, reserve uint64) (*diskGuard, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(dir, &st); err != nil {
		return nil, err
	}
	g := &diskGuard{dir: dir, reserve: reserve, ino: st.Ino}
	g.state.Store(&guardState{free: math.MaxUint64})
	return g, nil
}

// check returns nil when a write of about n bytes may proceed. The free
// space is at most diskCheckEvery old, less every write admitted since:
// one write in each interval pays for the stat and statfs, and no write
// waits for another's probe.
func (g *diskGuard) check(n uint64) error {
	if g.off {
		return nil
	}
	now := time.Now().UnixNano()
	last := g.checked.Load()
	if now-last >= int64(diskCheckEvery) && g.checked.CompareAndSwap(last, now) {
		g.state.Store(g.probe())
		g.admitted.Store(0)
	}
	st := g.state.Load()
	if st.err != nil {
		return st.err
	}
	if st.free == math.MaxUint64 {
		return nil // cannot tell: let RocksDB decide
	}
	n += walBatchOverhead
	used := g.admitted.Add(n)
	if st.free < g.reserve || st.free-g.reserve < used {
		g.admitted.Add(-n)
		avail := uint64(0)
		if st.free > g.reserve+used-n {
			avail = st.free - g.reserve - (used - n)
		}
		return &RocksDBError{Op: "write", Kind: KindIO,
			Msg: fmt.Sprintf("IO error: No space left on device: a write of %d bytes with %d bytes free under %s, %d of them above the reserve of %d (SPIRE_ROCKSDB_MIN_FREE_DISK_BYTES); writes resume when space returns", n, st.free, g.dir, avail, g.reserve)}
	}
	return nil
}

func (g *diskGuard) probe() *guardState {
	var st syscall.Stat_t
	if err := syscall.Stat(g.dir, &st); err != nil || st.Ino != g.ino {
		return &guardState{err: &RocksDBError{Op: "write", Kind: KindIO,
			Msg: fmt.Sprintf("IO error: the data dir %s was removed or replaced; writes are refused, reads still work", g.dir)}}
	}
	var fs syscall.Statfs_t
	if err := syscall.Statfs(g.dir, &fs); err != nil {
		return &guardState{free: math.MaxUint64}
	}
	const stRdonly = 1 // ST_RDONLY in statfs(2) flags
	if fs.Flags&stRdonly != 0 {
		return &guardState{err: &RocksDBError{Op: "write", Kind: KindIO,
			Msg: fmt.Sprintf("IO error: Read-only file system under %s; writes are refused until it is writable again", g.dir)}}
	}
	return &guardState{free: fs.Bavail * uint64(fs.Bsize)}
}

// reserveFor is the default reserve: room to flush every memtable plus
// 64 MiB of compaction headroom.
func reserveFor(cfg Config) uint64 {
	if cfg.MinFreeDiskBytes > 0 {
		return cfg.MinFreeDiskBytes
	}
	return cfg.WriteBufferSize*uint64(cfg.MaxWriteBufferNumber) + 64*mib
}
