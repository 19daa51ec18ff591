package engine

import (
	"bufio"
	"strconv"
	"strings"

	"github.com/linxGnu/grocksdb"
)

// Histogram is one RocksDB histogram, in its own unit (mostly micros).
type Histogram struct {
	P50, P95, P99, Max float64
	Count, Sum         uint64
}

// Stats is RocksDB's statistics in structured form, under RocksDB's own
// names ("rocksdb.block.cache.hit", "rocksdb.db.get.micros", ...).
type Stats struct {
	Tickers    map[string]uint64
	Histograms map[string]Histogram
	// Properties of the default column family plus block-cache figures.
	Properties map[string]uint64
	// ColumnFamilies holds the same properties per column family.
	ColumnFamilies map[string]map[string]uint64
}

// StatProperties are the integer DB properties Stats reports.
var StatProperties = []string{
	"rocksdb.estimate-num-keys",
	"rocksdb.num-files-at-level0",
	"rocksdb.num-files-at-level1",
	"rocksdb.num-files-at-level2",
	"rocksdb.num-files-at-level3",
	"rocksdb.num-files-at-level4",
	"rocksdb.num-files-at-level5",
	"rocksdb.num-files-at-level6",
	"rocksdb.total-sst-files-size",
	"rocksdb.live-sst-files-size",
	"rocksdb.cur-size-all-mem-tables",
	"rocksdb.size-all-mem-tables",
	"rocksdb.num-running-compactions",
	"rocksdb.num-running-flushes",
	"rocksdb.estimate-pending-compaction-bytes",
	"rocksdb.block-cache-capacity",
	"rocksdb.block-cache-usage",
	"rocksdb.block-cache-pinned-usage",
}

// Stats collects tickers, histograms and properties.
func (e *Engine) Stats() (Stats, error) {
	if err := e.begin(); err != nil {
		return Stats{}, err
	}
	defer e.mu.RUnlock()
	st := parseStatistics(e.opts.GetStatisticsString())
	st.ColumnFamilies = make(map[string]map[string]uint64, len(e.cfs))
	for name, h := range e.cfs {
		props := make(map[string]uint64, len(StatProperties))
		for _, p := range StatProperties {
			if v, ok := e.intProperty(p, h); ok {
				props[p] = v
			}
		}
		st.ColumnFamilies[name] = props
	}
	st.Properties = st.ColumnFamilies[DefaultColumnFamily]
	return st, nil
}

// intProperty reads an integer property. Some (num-files-at-levelN) are
// only served as strings, so those are parsed.
func (e *Engine) intProperty(name string, h *grocksdb.ColumnFamilyHandle) (uint64, bool) {
	if v, ok := e.db.GetIntPropertyCF(name, h); ok {
		return v, true
	}
	n, err := strconv.ParseUint(strings.TrimSpace(e.db.GetPropertyCF(name, h)), 10, 64)
	return n, err == nil
}

// parseStatistics reads RocksDB's Statistics::ToString output, whose lines
// are either "name COUNT : n" or
// "name P50 : x P95 : x P99 : x P100 : x COUNT : n SUM : n".
func parseStatistics(text string) Stats {
	st := Stats{Tickers: map[string]uint64{}, Histograms: map[string]Histogram{}}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 {
			continue
		}
		name := f[0]
		vals := map[string]string{}
		// After the name come (label, ":", value) triples.
		for i := 1; i+2 < len(f) && f[i+1] == ":"; i += 3 {
			vals[f[i]] = f[i+2]
		}
		if _, isHist := vals["P50"]; isHist {
			st.Histograms[name] = Histogram{
				P50: parseFloat(vals["P50"]), P95: parseFloat(vals["P95"]),
				P99: parseFloat(vals["P99"]), Max: parseFloat(vals["P100"]),
				Count: parseU64(vals["COUNT"]), Sum: parseU64(vals["SUM"]),
			}
		} else if c, ok := vals["COUNT"]; ok {
			st.Tickers[name] = parseU64(c)
		}
	}
	return st
}

func parseFloat(s string) float64 {
	f, _ := strconv.ParseFloat(s, 64)
	return f
}

func parseU64(s string) uint64 {
	n, _ := strconv.ParseUint(s, 10, 64)
	return n
}

// CacheInfo describes the block cache.
type CacheInfo struct {
	Capacity       uint64
	Usage          uint64
	PinnedUsage    uint64
	StrictCapacity bool
}

// CacheInfo reports the block cache's capacity and usage.
func (e *Engine) CacheInfo() (CacheInfo, error) {
	if err := e.begin(); err != nil {
		return CacheInfo{}, err
	}
	defer e.mu.RUnlock()
	// The cache is built with NewLRUCache, whose strict_capacity_limit is false.
	return CacheInfo{
		Capacity:    e.cache.GetCapacity(),
		Usage:       e.cache.GetUsage(),
		PinnedUsage: e.cache.GetPinnedUsage(),
	}, nil
}
