// Package wiretest holds what the tests of every package need to speak the
// protocol by hand: frames, batch frames, hex, and the spire-port binary
// built once per test process.
package wiretest

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/spiredb/spire-port/port/wire"
)

// Frame is one frame: its length, id and body.
func Frame(id uint64, body []byte) []byte {
	b, start := wire.BeginFrame(nil, id)
	return wire.EndFrame(append(b, body...), start)
}

// BatchFrame packs complete frames into one batch frame (id BatchID),
// also a single one.
func BatchFrame(frames ...[]byte) []byte {
	buf := make([]byte, wire.BatchHeader)
	for _, f := range frames {
		buf = append(buf, f...)
	}
	binary.BigEndian.PutUint32(buf, uint32(len(buf)-wire.HeaderSize))
	binary.BigEndian.PutUint64(buf[wire.HeaderSize:], wire.BatchID)
	return buf
}

// Hex decodes a hex string, panicking on a typo.
func Hex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

var (
	buildOnce sync.Once
	builtDir  string
	builtBin  string
	buildErr  error
)

// Sidecar returns the spire-port binary, built once per test process into a
// temporary directory that Cleanup removes.
func Sidecar(tb testing.TB) string {
	tb.Helper()
	bin, err := Build()
	if err != nil {
		tb.Fatal(err)
	}
	return bin
}

// Build is Sidecar for TestMain, where there is no testing.TB yet.
func Build() (string, error) {
	buildOnce.Do(func() {
		builtDir, buildErr = os.MkdirTemp("", "spire-port-test")
		if buildErr != nil {
			return
		}
		// The directory may be entered by other users (a test runs the
		// sidecar as nobody).
		_ = os.Chmod(builtDir, 0o755)
		builtBin = filepath.Join(builtDir, "spire-port")
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..", "..")
		cmd := exec.Command("go", "build", "-o", builtBin, "./cmd/spire-port")
		cmd.Dir = root
		// The sidecar links RocksDB, whatever the tests were built with.
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("building spire-port: %v: %s", err, out)
		}
	})
	return builtBin, buildErr
}

// Cleanup removes the binary Sidecar built; call it from TestMain after m.Run.
func Cleanup() {
	if builtDir != "" {
		os.RemoveAll(builtDir)
	}
}
