package client

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spiredb/spire-port/engine/kv"
	"github.com/spiredb/spire-port/port/wire/wiretest"
)

// Benchmarks through the real binary and the Go client, to set next to
// engine's in-process figures: `go test ./port -bench .`.

// TestMain removes the binary wiretest built.
func TestMain(m *testing.M) {
	code := m.Run()
	wiretest.Cleanup()
	os.Exit(code)
}

func sidecarBinary(tb testing.TB) string { return wiretest.Sidecar(tb) }

const benchKeys = 200_000

func benchKey(i int) []byte { return []byte(fmt.Sprintf("user:%08d", i)) }

// benchClient starts a sidecar loaded with benchKeys 100-byte values.
func benchClient(b *testing.B, load bool) *Client {
	b.Helper()
	c, err := Start(StartOptions{Binary: sidecarBinary(b), Path: b.TempDir(), Stderr: os.Stderr, Env: benchEnv,
		Args: append([]string{"--log-frames"}, strings.Fields(os.Getenv("BENCH_SIDECAR_ARGS"))...)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	if load {
		value := make([]byte, 100)
		for base := 0; base < benchKeys; base += 1000 {
			ops := make([]kv.BatchOp, 1000)
			for i := range ops {
				ops[i] = kv.BatchOp{Kind: kv.OpPut, Key: benchKey(base + i), Value: value}
			}
			if err := c.WriteBatch(ctx, ops); err != nil {
				b.Fatal(err)
			}
		}
		if err := c.Flush(ctx); err != nil {
			b.Fatal(err)
		}
		if _, err := c.Scan(ctx, nil, nil); err != nil { // warm the cache
			b.Fatal(err)
		}
	}
	return c
}

// latencies records per-op durations and reports p50/p99 in µs.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d []time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d...)
	l.mu.Unlock()
}

func (l *latencies) report(b *testing.B, perOp int) {
	sort.Slice(l.d, func(i, j int) bool { return l.d[i] < l.d[j] })
	if len(l.d) > 0 {
		b.ReportMetric(float64(l.d[len(l.d)/2].Nanoseconds())/1e3, "p50-µs")
		b.ReportMetric(float64(l.d[len(l.d)*99/100].Nanoseconds())/1e3, "p99-µs")
	}
	b.ReportMetric(float64(b.N*perOp)/b.Elapsed().Seconds(), "ops/s")
}

func sequential(b *testing.B, op func(i int) error) {
	var lat latencies
	d := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if err := op(i); err != nil {
			b.Fatal(err)
		}
		d = append(d, time.Since(t0))
	}
	b.StopTimer()
	lat.add(d)
	lat.report(b, 1)
}

// parallel runs op from 16 goroutines (pipelined over the one pipe).
func parallel(b *testing.B, op func(i int) error) {
	var lat latencies
	b.SetParallelism(16 / max(1, runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		d := make([]time.Duration, 0, 1024)
		i := 0
		for pb.Next() {
			t0 := time.Now()
			if err := op(i); err != nil {
				b.Error(err)
				return
			}
			d = append(d, time.Since(t0))
			i += 7919
		}
		lat.add(d)
	})
	b.StopTimer()
	lat.report(b, 1)
}

func BenchmarkPortPing(b *testing.B) {
	c := benchClient(b, false)
	b.Run("seq", func(b *testing.B) { sequential(b, func(int) error { return c.Ping(ctx) }) })
	b.Run("par16", func(b *testing.B) { parallel(b, func(int) error { return c.Ping(ctx) }) })
}

func BenchmarkPortGet(b *testing.B) {
	c := benchClient(b, true)
	get := func(i int) error { _, err := c.Get(ctx, benchKey(i%benchKeys)); return err }
	b.Run("seq", func(b *testing.B) { sequential(b, get) })
	b.Run("par16", func(b *testing.B) { parallel(b, get) })
}

func BenchmarkPortPut(b *testing.B) {
	c := benchClient(b, false)
	value := make([]byte, 100)
	var n sync.Mutex
	k := 0
	put := func(int) error {
		n.Lock()
		k++
		key := benchKey(k)
		n.Unlock()
		return c.Put(ctx, key, value)
	}
	b.Run("seq", func(b *testing.B) { sequential(b, put) })
	b.Run("par16", func(b *testing.B) { parallel(b, put) })
}

func BenchmarkPortWriteBatch1000(b *testing.B) {
	c := benchClient(b, false)
	value := make([]byte, 100)
	ops := make([]kv.BatchOp, 1000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range ops {
			ops[j] = kv.BatchOp{Kind: kv.OpPut, Key: benchKey(i*1000 + j), Value: value}
		}
		if err := c.WriteBatch(ctx, ops); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkPortScan200k(b *testing.B) {
	c := benchClient(b, true)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		batches, err := c.Scan(ctx, []byte("user:"), []byte("user:~"), Opts{BatchSize: 1000})
		if err != nil {
			b.Fatal(err)
		}
		if len(batches) != benchKeys/1000 {
			b.Fatalf("%d batches", len(batches))
		}
	}
	b.ReportMetric(float64(b.N*benchKeys)/b.Elapsed().Seconds(), "rows/s")
}

// benchEnv is added to the sidecar's environment (BENCH_SIDECAR_ENV, for experiments).
var benchEnv = func() []string {
	if v := os.Getenv("BENCH_SIDECAR_ENV"); v != "" {
		return []string{v}
	}
	return nil
}()
