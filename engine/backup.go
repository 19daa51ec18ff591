package engine

/*
#cgo CXXFLAGS: -std=c++17 -O2
#cgo LDFLAGS: -lrocksdb -lstdc++
#include <stdlib.h>
#include "backup_shim.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// BackupInfo describes one backup in a backup directory.
type BackupInfo struct {
	ID        uint32 // RocksDB's, from 1
	Timestamp time.Time
	Size      uint64 // bytes of the files it needs, shared ones included
	Files     uint32 // files it needs, shared ones included
}

// BackupOptions shape one backup.
type BackupOptions struct {
	// Flush writes the memtables to SST files first, so the backup holds
	// no WAL to replay (RocksDB backs the WAL up otherwise).
	Flush bool
	// RateLimitBytesPerSec caps the copy; 0 means no cap, and at most
	// MaxBackupRate.
	RateLimitBytesPerSec uint64
	// Progress, when set, is called from another goroutine about every
	// ProgressEvery bytes copied (default 64 MiB) with the bytes so far.
	Progress      func(bytesCopied uint64)
	ProgressEvery uint64
}

// MaxBackupRate is the highest backup and restore rate limit (bytes/s):
// RocksDB's BackupEngine allocates a copy buffer of a tenth of the rate,
// so an unbounded rate is an unbounded allocation (std::bad_alloc aborts
// the process). A copy faster than this asks for no limit (0).
const MaxBackupRate = 1 << 30

// checkRate refuses a rate limit above MaxBackupRate.
func checkRate(rate uint64) error {
	if rate > MaxBackupRate {
		return fmt.Errorf("%w: rate_limit_bytes_per_sec %d is above the maximum %d (0 = no limit)", ErrInvalidArgument, rate, MaxBackupRate)
	}
	return nil
}

// ErrNoBackups marks a backup directory that does not exist or holds no
// backup.
var ErrNoBackups = errors.New("engine: no backups")

// backupLocks serializes the operations on one backup directory: RocksDB's
// BackupEngine may not be used by two writers at once.
var backupLocks sync.Map // absolute dir => *sync.Mutex

func lockBackupDir(dir string) (func(), error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("engine: backup dir: %w", err)
	}
	m, _ := backupLocks.LoadOrStore(abs, &sync.Mutex{})
	m.(*sync.Mutex).Lock()
	return m.(*sync.Mutex).Unlock, nil
}

func shimError(op string, cerr *C.char) error {
	if cerr == nil {
		return nil
	}
	return classify(op, cError(cerr))
}

func toBackupInfo(i C.spire_backup_info) BackupInfo {
	return BackupInfo{ID: uint32(i.id), Timestamp: time.Unix(int64(i.timestamp), 0),
		Size: uint64(i.size), Files: uint32(i.files)}
}

// Backup adds a backup of the database to dir (created if missing). SST
// files already in dir from earlier backups are shared, not copied again,
// so a backup after a few writes copies only the new files. Reads and
// writes go on while it runs; it holds what was in the database when it
// began (and, without Flush, the WAL up to then).
func (e *Engine) Backup(dir string, o BackupOptions) (BackupInfo, error) {
	if err := checkRate(o.RateLimitBytesPerSec); err != nil {
		return BackupInfo{}, err
	}
	if err := notADatabase(dir); err != nil {
		return BackupInfo{}, err
	}
	unlock, err := lockBackupDir(dir)
	if err != nil {
		return BackupInfo{}, err
	}
	defer unlock()
	if err := e.begin(); err != nil {
		return BackupInfo{}, err
	}
	defer e.mu.RUnlock()
	if err := e.guard.check(0); err != nil {
		return BackupInfo{}, err
	}
	every := o.ProgressEvery
	if every == 0 {
		every = 64 << 20
	}
	progress := (*C.uint64_t)(C.calloc(1, 8))
	defer C.free(unsafe.Pointer(progress))
	done := make(chan struct{})
	var reporter sync.WaitGroup
	if o.Progress != nil {
		reporter.Add(1)
		go func() {
			defer reporter.Done()
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			var last uint64
			for {
				select {
				case <-done:
					return
				case <-tick.C:
					if n := atomic.LoadUint64((*uint64)(unsafe.Pointer(progress))); n != last {
						last = n
						o.Progress(n * every)
					}
				}
			}
		}()
	}
	cdir := C.CString(dir)
	defer C.free(unsafe.Pointer(cdir))
	flush := C.int(0)
	if o.Flush {
		flush = 1
	}
	var info C.spire_backup_info
	cerr := C.spire_backup_create(nativeDB(e.db), cdir, flush, C.uint64_t(o.RateLimitBytesPerSec),
		C.uint64_t(every), progress, &info)
	close(done)
	reporter.Wait()
	if err := shimError("backup to "+dir, cerr); err != nil {
		return BackupInfo{}, err
	}
	return toBackupInfo(info), nil
}

// existingBackupDir refuses a directory that does not exist: opening a
// BackupEngine on it would create it.
func existingBackupDir(dir string) error {
	st, err := os.Stat(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%w in %s: the directory does not exist", ErrNoBackups, dir)
		}
		return fmt.Errorf("engine: backup dir: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("%w in %s: not a directory", ErrNoBackups, dir)
	}
	return notADatabase(dir)
}

// notADatabase refuses a backup directory that is a database's: a
// BackupEngine opened there would write its meta/, private/ and
// shared_checksum/ among the database's files.
func notADatabase(dir string) error {
	if ok, err := holdsDatabase(dir, true); err != nil {
		return err
	} else if ok {
		return fmt.Errorf("%w: %s holds a database, not backups", ErrInvalidArgument, dir)
	}
	return nil
}

// ListBackups lists the backups in dir, oldest first.
func ListBackups(dir string) ([]BackupInfo, error) {
	if err := existingBackupDir(dir); err != nil {
		return nil, err
	}
	unlock, err := lockBackupDir(dir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	cdir := C.CString(dir)
	defer C.free(unsafe.Pointer(cdir))
	var out *C.spire_backup_info
	var n C.int
	if err := shimError("list backups in "+dir, C.spire_backup_list(cdir, &out, &n)); err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(out))
	infos := make([]BackupInfo, int(n))
	for i, ci := range unsafe.Slice(out, int(n)) {
		infos[i] = toBackupInfo(ci)
	}
	return infos, nil
}

// backupOp runs one shim call on an existing backup dir.
func backupOp(op, dir string, call func(cdir *C.char) *C.char) error {
	if err := existingBackupDir(dir); err != nil {
		return err
	}
	unlock, err := lockBackupDir(dir)
	if err != nil {
		return err
	}
	defer unlock()
	cdir := C.CString(dir)
	defer C.free(unsafe.Pointer(cdir))
	return shimError(op, call(cdir))
}

// VerifyBackup checks that every file of backup id is there with its size
// and checksum.
func VerifyBackup(dir string, id uint32) error {
	return backupOp(fmt.Sprintf("verify backup %d in %s", id, dir), dir, func(cdir *C.char) *C.char {
		return C.spire_backup_verify(cdir, C.uint32_t(id))
	})
}

// DeleteBackup deletes backup id and the files no other backup needs.
func DeleteBackup(dir string, id uint32) error {
	return backupOp(fmt.Sprintf("delete backup %d in %s", id, dir), dir, func(cdir *C.char) *C.char {
		return C.spire_backup_delete(cdir, C.uint32_t(id))
	})
}

// PurgeOldBackups deletes all but the newest keep backups.
func PurgeOldBackups(dir string, keep uint32) error {
	return backupOp("purge backups in "+dir, dir, func(cdir *C.char) *C.char {
		return C.spire_backup_purge(cdir, C.uint32_t(keep))
	})
}

// RestoreBackup writes backup id (0: the latest) as a database in dbDir,
// which must hold no database: a restore replaces what is there, so it is
// never pointed at a live one. rateLimit caps the copy (0: none).
func RestoreBackup(dir string, id uint32, dbDir string, rateLimit uint64) error {
	if err := checkRate(rateLimit); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dbDir, "CURRENT")); err == nil {
		return fmt.Errorf("%w: restore target %s already holds a database", ErrInvalidArgument, dbDir)
	}
	if infos, err := ListBackups(dir); err != nil {
		return err
	} else if len(infos) == 0 {
		return fmt.Errorf("%w in %s", ErrNoBackups, dir)
	}
	cdb := C.CString(dbDir)
	defer C.free(unsafe.Pointer(cdb))
	return backupOp(fmt.Sprintf("restore backup %d from %s", id, dir), dir, func(cdir *C.char) *C.char {
		return C.spire_backup_restore(cdir, C.uint32_t(id), cdb, C.uint64_t(rateLimit))
	})
}
