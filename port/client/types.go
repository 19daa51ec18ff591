package client

import (
	"github.com/spiredb/spire-port/engine/kv"
	"github.com/spiredb/spire-port/etf"
)

// KV is one key/value row of a scan.
type KV = kv.KV

// BatchOp is one entry of a WriteBatch.
type BatchOp = kv.BatchOp

// The kinds of WriteBatch entry.
const (
	OpPut         = kv.OpPut
	OpDelete      = kv.OpDelete
	OpDeleteRange = kv.OpDeleteRange
)

// ReadyInfo is what the sidecar says once its database is open.
type ReadyInfo struct {
	Version string
	Path    string // RocksDB's directory
}

// ScanStats describe one batch of a scan.
type ScanStats struct {
	RowsReturned int64
	BytesRead    int64 // key and value bytes
	ScanTimeMs   float64
}

// Histogram is one RocksDB histogram.
type Histogram struct {
	P50, P95, P99, Max float64
	Count, Sum         uint64
}

// SidecarStats are the sidecar's own counters.
type SidecarStats struct {
	OpenIterators, OpenSnapshots int64
	Requests, BadFrames, Replies uint64
	Groups, Grouped              uint64 // runs of point requests served by one RocksDB call, and their members
	WritesStopped                bool   // RocksDB refuses writes while the sidecar reopens it
	Recoveries                   uint64
	LastWriteError               string
}

// Stats is RocksDB's statistics under RocksDB's own names, and the
// sidecar's counters.
type Stats struct {
	Tickers        map[string]uint64
	Histograms     map[string]Histogram
	Properties     map[string]uint64            // of the default column family
	ColumnFamilies map[string]map[string]uint64 // properties by family
	Sidecar        SidecarStats
}

// CacheInfo describes the block cache.
type CacheInfo struct {
	Capacity, Usage, PinnedUsage uint64
	StrictCapacity               bool
}

func field(m etf.Map, key string) any {
	v, _ := m.Get(key)
	return v
}

func toInt(v any) int64 {
	switch n := v.(type) {
	case int64:
		return n
	case uint64:
		return int64(n)
	}
	return 0
}

func toFloat(v any) float64 {
	switch n := v.(type) {
	case float64:
		return n
	case int64:
		return float64(n)
	}
	return 0
}

func toBool(v any) bool { return v == etf.Atom("true") }

func uintMap(v any) map[string]uint64 {
	m, _ := v.(etf.Map)
	out := make(map[string]uint64, len(m))
	for _, p := range m {
		out[Text(p.Key)] = toUint(p.Value)
	}
	return out
}

func toScanStats(v any) ScanStats {
	m, _ := v.(etf.Map)
	return ScanStats{RowsReturned: toInt(field(m, "rows_returned")), BytesRead: toInt(field(m, "bytes_read")),
		ScanTimeMs: toFloat(field(m, "scan_time_ms"))}
}

func toStats(v any) Stats {
	m, _ := v.(etf.Map)
	st := Stats{Tickers: uintMap(field(m, "tickers")), Properties: uintMap(field(m, "properties")),
		Histograms: map[string]Histogram{}, ColumnFamilies: map[string]map[string]uint64{}}
	hs, _ := field(m, "histograms").(etf.Map)
	for _, p := range hs {
		h, _ := p.Value.(etf.Map)
		st.Histograms[Text(p.Key)] = Histogram{P50: toFloat(field(h, "p50")), P95: toFloat(field(h, "p95")),
			P99: toFloat(field(h, "p99")), Max: toFloat(field(h, "max")), Count: toUint(field(h, "count")),
			Sum: toUint(field(h, "sum"))}
	}
	cfs, _ := field(m, "column_families").(etf.Map)
	for _, p := range cfs {
		st.ColumnFamilies[Text(p.Key)] = uintMap(p.Value)
	}
	side, _ := field(m, "sidecar").(etf.Map)
	st.Sidecar = SidecarStats{OpenIterators: toInt(field(side, "open_iterators")),
		OpenSnapshots: toInt(field(side, "open_snapshots")), Requests: toUint(field(side, "requests")),
		BadFrames: toUint(field(side, "bad_frames")), Replies: toUint(field(side, "replies")),
		Groups: toUint(field(side, "groups")), Grouped: toUint(field(side, "grouped")),
		WritesStopped: toBool(field(side, "writes_stopped")), Recoveries: toUint(field(side, "recoveries")),
		LastWriteError: Text(field(side, "last_write_error"))}
	return st
}

func toCacheInfo(v any) CacheInfo {
	m, _ := v.(etf.Map)
	return CacheInfo{Capacity: toUint(field(m, "capacity")), Usage: toUint(field(m, "usage")),
		PinnedUsage: toUint(field(m, "pinned_usage")), StrictCapacity: toBool(field(m, "strict_capacity"))}
}
