package engine

import (
	"fmt"
	"sync/atomic"
	"syscall"
	"time"
)

// ErrNoSpace marks writes refused because the data dir's file system has
// less free space than the reserve (Config.MinFreeDiskBytes), or because
// the data dir was removed. It is a *RocksDBError of KindIO, so it reaches
// the wire as {error, {rocksdb, "IO error: No space left ..."}}.
//
// Why refuse instead of letting RocksDB fail: Debian's librocksdb 7.8.3 is
// built with assertions, and a WAL write that hits ENOSPC aborts the whole
// process. Keeping a reserve also leaves room for the flushes and
// compactions already in flight, and lets writes resume by themselves once
// space returns, with no reopen.
type diskGuard struct {
	dir     string
	reserve uint64
	ino     uint64

	// checked is when the last probe began (UnixNano); verdict holds its
	// result. Writes read both without a lock; the one write that moves
	// checked forward runs the probe, the others use the previous verdict.
	checked atomic.Int64
	verdict atomic.Pointer[guardVerdict]
}

type guardVerdict struct{ err error }

const diskCheckEvery = 100 * time.Millisecond

func newDiskGuard(dir string, reserve uint64) (*diskGuard, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(dir, &st); err != nil {
		return nil, err
	}
	g := &diskGuard{dir: dir, reserve: reserve, ino: st.Ino}
	g.verdict.Store(&guardVerdict{})
	return g, nil
}

// check returns nil when a write may proceed. The answer is at most
// diskCheckEvery old: one write in each interval pays for the stat and
// statfs, and no write waits for another's probe.
func (g *diskGuard) check() error {
	now := time.Now().UnixNano()
	last := g.checked.Load()
	if now-last >= int64(diskCheckEvery) && g.checked.CompareAndSwap(last, now) {
		g.verdict.Store(&guardVerdict{err: g.probe()})
	}
	return g.verdict.Load().err
}

func (g *diskGuard) probe() error {
	var st syscall.Stat_t
	if err := syscall.Stat(g.dir, &st); err != nil || st.Ino != g.ino {
		return &RocksDBError{Op: "write", Kind: KindIO,
			Msg: fmt.Sprintf("IO error: the data dir %s was removed or replaced; writes are refused, reads still work", g.dir)}
	}
	var fs syscall.Statfs_t
	if err := syscall.Statfs(g.dir, &fs); err != nil {
		return nil // cannot tell: let RocksDB decide
	}
	const stRdonly = 1 // ST_RDONLY in statfs(2) flags
	if fs.Flags&stRdonly != 0 {
		return &RocksDBError{Op: "write", Kind: KindIO,
			Msg: fmt.Sprintf("IO error: Read-only file system under %s; writes are refused until it is writable again", g.dir)}
	}
	free := fs.Bavail * uint64(fs.Bsize)
	if free < g.reserve {
		return &RocksDBError{Op: "write", Kind: KindIO,
			Msg: fmt.Sprintf("IO error: No space left on device: %d bytes free under %s, below the reserve of %d (SPIRE_ROCKSDB_MIN_FREE_DISK_BYTES); writes resume when space returns", free, g.dir, g.reserve)}
	}
	return nil
}

// reserveFor is the default reserve: room to flush every memtable plus
// 64 MiB of compaction headroom.
func reserveFor(cfg Config) uint64 {
	if cfg.MinFreeDiskBytes > 0 {
		return cfg.MinFreeDiskBytes
	}
	return cfg.WriteBufferSize*uint64(cfg.MaxWriteBufferNumber) + 64*mib
}
