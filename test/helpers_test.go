package test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/spiredb/spire-port/port/client"
	"github.com/spiredb/spire-port/port/wire/wiretest"
	"github.com/stretchr/testify/require"
)

// sidecarBinary is the spire-port built for this test run.
var sidecarBinary string

func TestMain(m *testing.M) {
	var err error
	if sidecarBinary, err = wiretest.Build(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	wiretest.Cleanup()
	os.Exit(code)
}

// syncBuffer collects a sidecar's stderr for failure reports.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// small keeps RocksDB light in tests.
var small = []string{"SPIRE_ROCKSDB_BLOCK_CACHE_SIZE=16777216", "SPIRE_ROCKSDB_WRITE_BUFFER_SIZE=4194304"}

type sidecar struct {
	*client.Client
	Path   string
	Stderr *syncBuffer
}

// start launches a sidecar on path (a new temp dir when ""); it is killed at
// cleanup if still running, and its stderr is printed if the test failed.
func start(t *testing.T, path, codec string, args ...string) *sidecar {
	t.Helper()
	if path == "" {
		path = t.TempDir()
	}
	stderr := &syncBuffer{}
	c, err := client.Start(client.StartOptions{Binary: sidecarBinary, Path: path, Codec: codec, Args: args, Env: small, Stderr: stderr})
	require.NoError(t, err, "stderr: %s", stderr.String())
	t.Cleanup(func() {
		c.Kill()
		if t.Failed() {
			t.Logf("sidecar stderr:\n%s", stderr.String())
		}
	})
	return &sidecar{Client: c, Path: path, Stderr: stderr}
}

var codecs = []string{"etf", "msgpack"}

// ctx is the context of the calls that need no deadline of their own.
var ctx = context.Background()
