package client

import (
	"context"

	"github.com/spiredb/spire-port/etf"
	"github.com/spiredb/spire-port/port/wire"
)

// SnapshotOpen opens a snapshot and returns its id for Opts.Snapshot.
func (c *Client) SnapshotOpen(ctx context.Context) (uint64, error) {
	v, err := c.Call(ctx, func(c wire.Codec, b []byte) []byte { return c.Atom(c.Tuple(b, 1), "snapshot_open") })
	return toUint(v), err
}

// SnapshotClose releases a snapshot.
func (c *Client) SnapshotClose(ctx context.Context, id uint64) error {
	_, err := c.Call(ctx, func(c wire.Codec, b []byte) []byte { return c.Uint(c.Atom(c.Tuple(b, 2), "snapshot_close"), id) })
	return err
}

// SnapshotSequence is the sequence number a snapshot sees: every write at
// or below it, none after.
func (c *Client) SnapshotSequence(ctx context.Context, id uint64) (uint64, error) {
	v, err := c.Call(ctx, func(c wire.Codec, b []byte) []byte { return c.Uint(c.Atom(c.Tuple(b, 2), "snapshot_sequence"), id) })
	return toUint(v), err
}

// SetBackgroundThreads sizes the sidecar's pool of compaction threads
// (high false) or of flush threads (high true): 0 .. wire.MaxBackgroundThreads.
func (c *Client) SetBackgroundThreads(ctx context.Context, n int, high bool) error {
	pri := "priority_low"
	if high {
		pri = "priority_high"
	}
	_, err := c.Call(ctx, func(c wire.Codec, b []byte) []byte {
		return c.Atom(c.Int(c.Atom(c.Tuple(b, 3), "set_background_threads"), int64(n)), pri)
	})
	return err
}

// Text reads a text field of a reply: a binary in wire.ETF, a string (decoded
// as an Atom) in msgpack.
func Text(v any) string {
	switch t := v.(type) {
	case []byte:
		return string(t)
	case etf.Atom:
		return string(t)
	}
	return ""
}

func toUint(v any) uint64 {
	switch n := v.(type) {
	case int64:
		return uint64(n)
	case uint64:
		return n
	}
	return 0
}

// simple sends {Op} or {Op, Arg} and returns the reply value.
func (c *Client) simple(ctx context.Context, op string, arg ...string) (any, error) {
	return c.Call(ctx, func(c wire.Codec, b []byte) []byte {
		b = c.Atom(c.Tuple(b, 1+len(arg)), op)
		for _, a := range arg {
			b = c.Str(b, a)
		}
		return b
	})
}

// Stats returns the stats map: tickers, histograms, properties,
// column_families and sidecar.
func (c *Client) Stats(ctx context.Context) (Stats, error) {
	v, err := c.simple(ctx, "stats")
	return toStats(v), err
}

// CacheInfo returns capacity, usage, pinned_usage and strict_capacity.
func (c *Client) CacheInfo(ctx context.Context) (CacheInfo, error) {
	v, err := c.simple(ctx, "cache_info")
	return toCacheInfo(v), err
}

// Property returns a RocksDB property of the default column family.
func (c *Client) Property(ctx context.Context, name string) (string, error) {
	v, err := c.simple(ctx, "property", name)
	return Text(v), err
}

// Flush flushes the default column family's memtables.
func (c *Client) Flush(ctx context.Context) error { _, err := c.simple(ctx, "flush"); return err }

// SyncWAL makes every write acknowledged before it durable (an fsync of
// the WAL).
func (c *Client) SyncWAL(ctx context.Context) error { _, err := c.simple(ctx, "sync_wal"); return err }

// LatestSequenceNumber is RocksDB's sequence number of the last write: one
// per put or delete, one per operation of a batch.
func (c *Client) LatestSequenceNumber(ctx context.Context) (uint64, error) {
	v, err := c.simple(ctx, "latest_sequence_number")
	return toUint(v), err
}

// CompactRange compacts the whole default column family.
func (c *Client) CompactRange(ctx context.Context) error {
	_, err := c.Call(ctx, func(c wire.Codec, b []byte) []byte {
		return c.Atom(c.Atom(c.Atom(c.Tuple(b, 3), "compact_range"), "nil"), "nil")
	})
	return err
}

// Checkpoint writes a checkpoint under the sidecar's checkpoint root.
func (c *Client) Checkpoint(ctx context.Context, dir string) error {
	_, err := c.simple(ctx, "checkpoint", dir)
	return err
}

// CreateColumnFamily creates a column family.
func (c *Client) CreateColumnFamily(ctx context.Context, name string) error {
	_, err := c.simple(ctx, "cf_create", name)
	return err
}

// DropColumnFamily drops a column family.
func (c *Client) DropColumnFamily(ctx context.Context, name string) error {
	_, err := c.simple(ctx, "cf_drop", name)
	return err
}

// ColumnFamilies lists the column families.
func (c *Client) ColumnFamilies(ctx context.Context) ([]string, error) {
	v, err := c.simple(ctx, "cf_list")
	var names []string
	for _, n := range asSeq(v) {
		names = append(names, Text(n))
	}
	return names, err
}
