package port

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spiredb/spire-port/engine"
	"github.com/spiredb/spire-port/port/wire"
)

// rootedPath resolves a path a request names for a checkpoint, a backup
// directory or a restore target, and refuses any that would land outside
// every root (Options.CheckpointRoots). A relative path is taken under the
// first root. Nothing is created: the deepest directory of the path that
// exists is resolved through its symlinks and must stay inside the root,
// so a symlink under a root cannot lead a request outside it. (A symlink
// swapped in afterwards, by someone who can write under a root, is beyond
// what a path check can stop: docs/protocol.md.)
func (s *Server) rootedPath(what, name string) (string, error) {
	roots := s.opt.CheckpointRoots
	if len(roots) == 0 {
		return "", wire.Badf("%s: no root is configured (--checkpoint-root)", what)
	}
	if err := wire.CheckPath(what, name); err != nil {
		return "", err
	}
	dir := name
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(roots[0], dir)
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	for _, root := range roots {
		root, err := filepath.Abs(root)
		if err != nil || !within(root, dir) || dir == root {
			continue
		}
		realRoot, err := resolve(root)
		if err != nil {
			return "", fmt.Errorf("%s: root %s: %w", what, root, err)
		}
		real, err := resolve(dir)
		if err != nil {
			return "", fmt.Errorf("%s: %w", what, err)
		}
		if !within(realRoot, real) {
			return "", wire.Badf("%s: %q leads outside the root %s through a symlink", what, name, root)
		}
		if err := wire.CheckPath(what, dir); err != nil {
			return "", err // the path a relative name became
		}
		if live := s.eng.Path(); live != "" {
			if liveAbs, err := filepath.Abs(live); err == nil && (within(liveAbs, dir) || within(liveAbs, real)) {
				return "", wire.Badf("%s: %q is inside the database this sidecar serves (%s)", what, name, liveAbs)
			}
		}
		return dir, nil
	}
	return "", wire.Badf("%s: %q is not inside a root (%s); widen them with --checkpoint-root, SPIRE_CHECKPOINT_ROOTS or checkpoint_roots:",
		what, name, strings.Join(roots, ", "))
}

// resolve follows the symlinks of the part of an absolute path that
// exists and keeps the rest as it is: where the path would lead if its
// missing directories were made now.
func resolve(path string) (string, error) {
	existing := path
	for {
		if _, err := os.Lstat(existing); err == nil || existing == filepath.Dir(existing) {
			break
		}
		existing = filepath.Dir(existing)
	}
	real, err := filepath.EvalSymlinks(existing)
	if err != nil {
		return "", err
	}
	return filepath.Join(real, strings.TrimPrefix(path, existing)), nil
}

// within reports whether path is root or below it (both clean and absolute).
func within(root, path string) bool {
	rel, err := filepath.Rel(root, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// checkpoint writes a checkpoint that Store.KV.Engine opens as it is: the
// engine's layout, RocksDB's files in <dir>/data (with flat, in dir
// itself, as erlang-rocksdb's checkpoint/2 writes them). The target must
// not exist.
func (s *Server) checkpoint(r *wire.Request) error {
	dir, err := s.rootedPath("checkpoint", r.Name)
	if err != nil {
		return err
	}
	if _, err := os.Lstat(dir); err == nil {
		return wire.Badf("checkpoint: the target %s exists", dir)
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("checkpoint: %w", err)
	}
	target := dir
	if !r.Flat {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
		target = filepath.Join(dir, "data")
	} else if err := os.MkdirAll(filepath.Dir(dir), 0o750); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if err := s.eng.Checkpoint(target); err != nil {
		if !r.Flat {
			_ = os.Remove(dir) // leave nothing half-made behind
		}
		return err
	}
	return nil
}

// backup serves the backup ops. Every directory is under a root, as
// checkpoints are.
func (s *Server) backup(scratch []byte, id uint64, r *wire.Request) []byte {
	dir, err := s.rootedPath(r.Op.String(), r.Name)
	if err != nil {
		return s.replyError(scratch, id, err)
	}
	switch r.Op {
	case wire.OpBackup:
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return s.replyError(scratch, id, fmt.Errorf("backup: %w", err))
		}
		began := time.Now()
		info, err := s.eng.Backup(dir, engine.BackupOptions{Flush: r.Flush, RateLimitBytesPerSec: r.RateLimit,
			ProgressEvery: r.ProgressEvery, Progress: func(n uint64) {
				s.opt.Log.Printf("backup to %s: %d MiB copied", dir, n>>20)
				s.SendEvent(wire.BackupProgressEvent(dir, n))
			}})
		if err != nil {
			return s.replyError(scratch, id, err)
		}
		s.opt.Log.Printf("backup %d to %s: %d files, %d MiB, in %v", info.ID, dir, info.Files, info.Size>>20,
			time.Since(began).Round(time.Millisecond))
		return s.reply(scratch, id, func(c wire.Codec, b []byte) []byte {
			return appendBackupInfo(c, c.Atom(c.Tuple(b, 2), "ok"), info)
		})
	case wire.OpBackupList:
		infos, err := engine.ListBackups(dir)
		if err != nil {
			return s.replyError(scratch, id, err)
		}
		return s.reply(scratch, id, func(c wire.Codec, b []byte) []byte {
			return AppendBackupInfos(c, c.Atom(c.Tuple(b, 2), "ok"), infos)
		})
	case wire.OpBackupVerify:
		return s.replyResult(scratch, id, engine.VerifyBackup(dir, uint32(r.ID))) // 1 .. 2^32-1: wire.Parse
	case wire.OpBackupDelete:
		return s.replyResult(scratch, id, engine.DeleteBackup(dir, uint32(r.ID)))
	case wire.OpBackupPurge:
		return s.replyResult(scratch, id, engine.PurgeOldBackups(dir, uint32(r.ID)))
	}
	// wire.OpBackupRestore
	to, err := s.rootedPath("backup_restore", r.Target)
	if err == nil {
		err = RestoreInto(dir, uint32(r.ID), to, r.Flat, r.RateLimit, s.eng.Path())
	}
	return s.replyResult(scratch, id, err)
}

// RestoreInto restores backup id (0: the latest) of dir to path: in the
// engine's layout (<path>/data), or with flat in path itself. The
// database's directory must not exist or be empty: RocksDB's restore
// deletes every file it finds there, whoever's it is. It is never the
// database this sidecar serves (live).
func RestoreInto(dir string, id uint32, path string, flat bool, rateLimit uint64, live string) error {
	if err := wire.CheckPath("backup_restore", path); err != nil {
		return err
	}
	dbDir := path
	if !flat {
		dbDir = filepath.Join(path, "data")
	}
	if abs, err := filepath.Abs(dbDir); err == nil && live != "" {
		if liveAbs, err := filepath.Abs(live); err == nil && abs == liveAbs {
			return wire.Badf("backup_restore: %s is the database this sidecar serves", dbDir)
		}
	}
	if err := emptyOrAbsent(dbDir); err != nil {
		return err
	}
	if _, err := engine.ListBackups(dir); err != nil {
		return err // before anything is made at the target
	}
	if err := os.MkdirAll(filepath.Dir(dbDir), 0o750); err != nil {
		return fmt.Errorf("backup_restore: %w", err)
	}
	return engine.RestoreBackup(dir, id, dbDir, rateLimit)
}

// emptyOrAbsent refuses a restore target that is a file or a directory
// holding anything.
func emptyOrAbsent(dir string) error {
	st, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("backup_restore: %w", err)
	}
	if !st.IsDir() {
		return wire.Badf("backup_restore: the target %s is not a directory", dir)
	}
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("backup_restore: %w", err)
	}
	defer f.Close()
	if names, _ := f.Readdirnames(1); len(names) > 0 {
		return wire.Badf("backup_restore: the target %s is not empty (it holds %s): restore to a new or empty directory", dir, names[0])
	}
	return nil
}

// AppendBackupInfos appends infos as the list backup_list answers with
// (the backup-list command prints the same).
func AppendBackupInfos(c wire.Codec, b []byte, infos []engine.BackupInfo) []byte {
	b = c.List(b, len(infos))
	for _, info := range infos {
		b = appendBackupInfo(c, b, info)
	}
	return c.ListEnd(b, len(infos))
}

func appendBackupInfo(c wire.Codec, b []byte, info engine.BackupInfo) []byte {
	b = c.MapHeader(b, 4)
	b = c.Uint(c.Atom(b, "id"), uint64(info.ID))
	b = c.Int(c.Atom(b, "timestamp"), info.Timestamp.Unix())
	b = c.Uint(c.Atom(b, "size"), info.Size)
	return c.Uint(c.Atom(b, "files"), uint64(info.Files))
}
