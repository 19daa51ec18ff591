package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
)

// RocksDB's LOCK is an fcntl record lock taken by writers only: a
// read-only open takes none, so DestroyDB and RepairDB cannot see it.
// Read-only opens therefore hold a shared flock on the same file, and
// Destroy and Repair take it exclusively. On Linux flock and fcntl locks
// are independent, so this neither disturbs RocksDB's lock nor depends on
// it, with one care: closing any descriptor of a file drops every fcntl
// lock the process holds on it. So this process keeps one descriptor per
// database directory, closed only once no Engine here has the directory
// open, and Destroy and Repair refuse a directory open here before they
// touch its LOCK.

// ErrDatabaseInUse is returned by Destroy and Repair while a process holds
// the database open, read-only openers included.
var ErrDatabaseInUse = errors.New("engine: the database is in use")

// dirUse counts this process's engines on one database directory.
type dirUse struct {
	readers, writers int
	lock             *os.File // the flocked LOCK, once a reader opened it
}

var inUse = struct {
	sync.Mutex
	dirs map[string]*dirUse
}{dirs: make(map[string]*dirUse)}

func dirKey(dir string) string {
	if abs, err := filepath.Abs(dir); err == nil {
		return abs
	}
	return filepath.Clean(dir)
}

// useDir records an engine on dir and returns its release. A reader also
// takes the shared flock (once per process: flock locks belong to the
// open file, so a second descriptor would contend with the first).
func useDir(dir string, reader bool) (func(), error) {
	key := dirKey(dir)
	inUse.Lock()
	defer inUse.Unlock()
	u := inUse.dirs[key]
	if u == nil {
		u = &dirUse{}
	}
	if reader && u.lock == nil {
		f, err := os.Open(filepath.Join(dir, "LOCK"))
		switch {
		case errors.Is(err, os.ErrNotExist):
			// Never opened for writing: nothing to guard.
		case err != nil:
			return nil, fmt.Errorf("engine: read-only open of %s: %w", dir, err)
		default:
			if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
				f.Close()
				return nil, fmt.Errorf("%w: %s is being destroyed or repaired", ErrDatabaseInUse, dir)
			}
			u.lock = f
		}
	}
	if reader {
		u.readers++
	} else {
		u.writers++
	}
	inUse.dirs[key] = u
	var once sync.Once
	return func() { once.Do(func() { releaseDir(key, reader) }) }, nil
}

func releaseDir(key string, reader bool) {
	inUse.Lock()
	defer inUse.Unlock()
	u := inUse.dirs[key]
	if u == nil {
		return
	}
	if reader {
		u.readers--
	} else {
		u.writers--
	}
	if u.readers > 0 || u.writers > 0 {
		return
	}
	if u.lock != nil {
		u.lock.Close() // every engine here is closed: RocksDB holds no fcntl lock on it
	}
	delete(inUse.dirs, key)
}

// holdExclusive takes dir's LOCK file exclusively against read-only
// openers, for Destroy and Repair; RocksDB's own lock then keeps writers
// out. It never opens the LOCK of a directory open in this process.
func holdExclusive(op, dir string) (func(), error) {
	inUse.Lock()
	_, open := inUse.dirs[dirKey(dir)]
	inUse.Unlock()
	if open {
		return nil, fmt.Errorf("%w: %s %s: an engine in this process has it open", ErrDatabaseInUse, op, dir)
	}
	f, err := os.Open(filepath.Join(dir, "LOCK"))
	if errors.Is(err, os.ErrNotExist) {
		return func() {}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("engine: %s %s: %w", op, dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("%w: %s %s: a read-only opener holds it", ErrDatabaseInUse, op, dir)
	}
	return func() { f.Close() }, nil
}

// holdsDatabase reports whether dir holds a RocksDB database: its CURRENT
// file names the live MANIFEST, and DestroyDB would take the other files
// there for the database's. damaged also counts a database that lost its
// CURRENT but kept its IDENTITY or a MANIFEST, which RepairDB rebuilds.
func holdsDatabase(dir string, damaged bool) (bool, error) {
	regular := func(name string) bool {
		st, err := os.Stat(filepath.Join(dir, name))
		return err == nil && st.Mode().IsRegular()
	}
	if regular("CURRENT") {
		return true, nil
	}
	if !damaged {
		return false, nil
	}
	if regular("IDENTITY") {
		return true, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return false, nil
		}
		return false, fmt.Errorf("engine: %s: %w", dir, err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "MANIFEST-") && e.Type().IsRegular() {
			return true, nil
		}
	}
	return false, nil
}

// isLockHeld reports whether err is RocksDB failing to take a LOCK that
// another process, or this one, holds.
func isLockHeld(err error) bool {
	var re *RocksDBError
	return errors.As(err, &re) && re.Kind == KindIO && (strings.Contains(re.Msg, "lock hold") || strings.Contains(re.Msg, "While lock file"))
}
