package engine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// smallConfig keeps test databases light: a 8 MiB cache, 1 MiB memtables.
func smallConfig() Config {
	cfg := DefaultConfig()
	cfg.BlockCacheSize = 8 << 20
	cfg.WriteBufferSize = 1 << 20
	return cfg
}

// newTestEngine opens an engine in a fresh temp dir and closes it at cleanup.
func newTestEngine(t testing.TB, mutate func(*Config)) *Engine {
	t.Helper()
	cfg := smallConfig()
	if mutate != nil {
		mutate(&cfg)
	}
	e, err := Open(filepath.Join(t.TempDir(), "data"), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, e.Close()) })
	return e
}

// optionsFile returns the text of the newest OPTIONS-* file RocksDB wrote.
func optionsFile(t *testing.T, dir string) string {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(dir, "OPTIONS-*"))
	require.NoError(t, err)
	require.NotEmpty(t, matches)
	newest := matches[0]
	for _, m := range matches {
		if m > newest {
			newest = m
		}
	}
	b, err := os.ReadFile(newest)
	require.NoError(t, err)
	return string(b)
}

// optionValue finds "name=value" in the [CFOptions "default"] or DBOptions
// sections of an OPTIONS file.
func optionValue(t *testing.T, text, name string) string {
	t.Helper()
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, name+"=") {
			return strings.TrimPrefix(line, name+"=")
		}
	}
	t.Fatalf("option %s not in OPTIONS file", name)
	return ""
}

func mustPut(t testing.TB, e *Engine, k, v string) {
	t.Helper()
	require.NoError(t, e.Put([]byte(k), []byte(v), WriteOptions{}))
}
