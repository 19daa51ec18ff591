package client

import (
	"context"
	"time"

	"github.com/spiredb/spire-port/etf"
	"github.com/spiredb/spire-port/port/wire"
)

// BackupInfo describes one backup, as the backup ops report it.
type BackupInfo struct {
	ID        uint32
	Timestamp time.Time
	Size      uint64 // bytes of the files it needs, shared ones included
	Files     uint32
}

// BackupOpts shape a backup.
type BackupOpts struct {
	Flush                bool   // write the memtables to SST files first
	RateLimitBytesPerSec uint64 // 0: no cap
	ProgressEveryBytes   uint64 // 0: every 64 MiB
}

func toBackupInfo(v any) BackupInfo {
	m, _ := v.(etf.Map)
	get := func(k string) uint64 { x, _ := m.Get(k); return toUint(x) }
	return BackupInfo{ID: uint32(get("id")), Timestamp: time.Unix(int64(get("timestamp")), 0),
		Size: get("size"), Files: uint32(get("files"))}
}

// Backup adds an incremental backup of the database to dir, which must be
// under one of the sidecar's checkpoint roots.
func (c *Client) Backup(ctx context.Context, dir string, o BackupOpts) (BackupInfo, error) {
	v, err := c.Call(ctx, func(c wire.Codec, b []byte) []byte {
		b = c.Str(c.Atom(c.Tuple(b, 3), "backup"), dir)
		b = c.List(b, 3)
		b = c.Atom(c.Atom(c.Tuple(b, 2), "flush"), boolAtom(o.Flush))
		b = c.Uint(c.Atom(c.Tuple(b, 2), "rate_limit_bytes_per_sec"), o.RateLimitBytesPerSec)
		b = c.Uint(c.Atom(c.Tuple(b, 2), "progress_every_bytes"), o.ProgressEveryBytes)
		return c.ListEnd(b, 3)
	})
	if err != nil {
		return BackupInfo{}, err
	}
	return toBackupInfo(v), nil
}

func boolAtom(v bool) string {
	if v {
		return "true"
	}
	return "false"
}

// ListBackups lists the backups in dir, oldest first.
func (c *Client) ListBackups(ctx context.Context, dir string) ([]BackupInfo, error) {
	v, err := c.simple(ctx, "backup_list", dir)
	var infos []BackupInfo
	for _, i := range asSeq(v) {
		infos = append(infos, toBackupInfo(i))
	}
	return infos, err
}

func (c *Client) backupOp(ctx context.Context, op, dir string, n uint64) error {
	_, err := c.Call(ctx, func(c wire.Codec, b []byte) []byte {
		return c.Uint(c.Str(c.Atom(c.Tuple(b, 3), op), dir), n)
	})
	return err
}

// VerifyBackup checks every file of backup id: present, its size, its checksum.
func (c *Client) VerifyBackup(ctx context.Context, dir string, id uint32) error {
	return c.backupOp(ctx, "backup_verify", dir, uint64(id))
}

// DeleteBackup deletes backup id.
func (c *Client) DeleteBackup(ctx context.Context, dir string, id uint32) error {
	return c.backupOp(ctx, "backup_delete", dir, uint64(id))
}

// PurgeOldBackups keeps the newest keep backups and deletes the others.
func (c *Client) PurgeOldBackups(ctx context.Context, dir string, keep uint32) error {
	return c.backupOp(ctx, "backup_purge", dir, uint64(keep))
}

// RestoreBackup writes backup id (0: the latest) to path in the engine's
// layout (<path>/data), whose directory must not exist or be empty.
func (c *Client) RestoreBackup(ctx context.Context, dir string, id uint32, path string) error {
	_, err := c.Call(ctx, func(c wire.Codec, b []byte) []byte {
		b = c.Str(c.Atom(c.Tuple(b, 4), "backup_restore"), dir)
		if id == 0 {
			b = c.Atom(b, "latest")
		} else {
			b = c.Uint(b, uint64(id))
		}
		return c.Str(b, path)
	})
	return err
}
