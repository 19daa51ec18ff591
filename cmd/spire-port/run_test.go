package main

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spiredb/spire-port/etf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// frames splits stdout into the terms of its frames (ids dropped).
func frames(t *testing.T, out []byte) []any {
	t.Helper()
	var terms []any
	for len(out) > 0 {
		require.GreaterOrEqual(t, len(out), 12)
		n := int(binary.BigEndian.Uint32(out))
		term, err := etf.DecodeReply(out[12 : 4+n])
		require.NoError(t, err)
		terms = append(terms, term)
		out = out[4+n:]
	}
	return terms
}

func TestRunExitCodes(t *testing.T) {
	var stdout, stderr bytes.Buffer
	assert.Equal(t, exitOK, run([]string{"--version"}, nil, &stdout, &stderr, env(nil), nil))
	assert.Contains(t, stdout.String(), "spire-port ")

	stdout.Reset()
	assert.Equal(t, exitUsage, run(nil, nil, &stdout, &stderr, env(nil), nil))
	assert.Contains(t, stderr.String(), "no data directory")
	assert.Empty(t, stdout.Bytes(), "nothing but frames on stdout")

	assert.Equal(t, exitUsage, run([]string{"--path", t.TempDir(), "--codec", "json"}, nil, &stdout, &stderr, env(nil), nil))
	assert.Equal(t, exitUsage, run([]string{"--path", t.TempDir(), "--max-frame", "1"}, nil, &stdout, &stderr, env(nil), nil))
	assert.Equal(t, exitUsage, run([]string{"--path", t.TempDir(), "extra"}, nil, &stdout, &stderr, env(nil), nil))
	assert.Equal(t, exitUsage, run([]string{"--bogus"}, nil, &stdout, &stderr, env(nil), nil))

	stdout.Reset()
	assert.Equal(t, exitUsage, run([]string{"destroy"}, nil, &stdout, &stderr, env(nil), nil))
	assert.Equal(t, exitUsage, run([]string{"repair", "a", "b"}, nil, &stdout, &stderr, env(nil), nil))
	assert.Equal(t, exitUsage, run([]string{"destroy", ""}, nil, &stdout, &stderr, env(nil), nil))
	assert.Contains(t, stderr.String(), "spire-port destroy DIR")
	assert.Empty(t, stdout.Bytes())
	assert.Equal(t, exitOK, run([]string{"destroy", filepath.Join(t.TempDir(), "none")}, nil, &stdout, &stderr, env(nil), nil))
	assert.Equal(t, []byte{131, 119, 2, 'o', 'k'}, stdout.Bytes(), "one ETF term: ok")
}

func TestRunReportsBadConfigAsAFrameAndOnStderr(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"--path", t.TempDir()}, nil, &stdout, &stderr,
		env(map[string]string{"SPIRE_ROCKSDB_BLOOM_BITS_PER_KEY": "many"}), nil)
	assert.Equal(t, exitOpen, code)
	assert.Contains(t, stderr.String(), "SPIRE_ROCKSDB_BLOOM_BITS_PER_KEY")
	terms := frames(t, stdout.Bytes())
	require.Len(t, terms, 1)
	reason := terms[0].(etf.Tuple)[1].(etf.Tuple)
	assert.Equal(t, etf.Atom("bad_config"), reason[0])

	stdout.Reset()
	code = run([]string{"--path", t.TempDir(), "--compression", "gzip", "--block-cache-size", "0"}, nil, &stdout, &stderr, env(nil), nil)
	assert.Equal(t, exitOpen, code, "flags are validated like the environment")
	assert.Contains(t, stderr.String(), "SPIRE_ROCKSDB_COMPRESSION")
}

func TestRunServesUntilEOFAndClosesTheDatabase(t *testing.T) {
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	req := etf.AppendAtom(etf.AppendTupleHeader(etf.AppendVersion(nil), 1), "ping")
	in := make([]byte, 12, 12+len(req))
	binary.BigEndian.PutUint32(in, uint32(8+len(req)))
	binary.BigEndian.PutUint64(in[4:], 7)
	in = append(in, req...)

	code := run([]string{"--path", dir, "--column-family", "rows"}, bytes.NewReader(in), &stdout, &stderr,
		env(map[string]string{"SPIRE_DATA_DIR": "/ignored", "SPIRE_ROCKSDB_PROFILE": "mixed"}), nil)
	require.Equal(t, exitOK, code, stderr.String())
	terms := frames(t, stdout.Bytes())
	require.Len(t, terms, 2)
	assert.Equal(t, etf.Atom("ready"), terms[0].(etf.Tuple)[0])
	assert.Equal(t, etf.Atom("ok"), terms[1])
	assert.Contains(t, stderr.String(), `profile "mixed"`)
	assert.True(t, strings.Contains(stderr.String(), "stdin closed"))
	_, err := os.Stat(filepath.Join(dir, "data", "CURRENT"))
	require.NoError(t, err, "RocksDB lives in <path>/data")
}

// With --reply-socket, a request whose id has bit 62 gets its reply on the
// socket; the rest (the ready event, unflagged replies) stay on stdout.
func TestRunRepliesOnTheReplySocketWhenAsked(t *testing.T) {
	dir := t.TempDir()
	sockPath := filepath.Join(t.TempDir(), "replies")
	ln, err := net.Listen("unix", sockPath)
	require.NoError(t, err)
	defer ln.Close()
	side := make(chan []byte, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			side <- nil
			return
		}
		b, _ := io.ReadAll(conn)
		side <- b
	}()

	req := etf.AppendAtom(etf.AppendTupleHeader(etf.AppendVersion(nil), 1), "ping")
	var in []byte
	for _, id := range []uint64{7, 1<<62 | 8} {
		in = binary.BigEndian.AppendUint32(in, uint32(8+len(req)))
		in = binary.BigEndian.AppendUint64(in, id)
		in = append(in, req...)
	}
	var stdout, stderr bytes.Buffer
	code := run([]string{"--path", dir, "--reply-socket", sockPath}, bytes.NewReader(in), &stdout, &stderr, env(nil), nil)
	require.Equal(t, exitOK, code, stderr.String())

	terms := frames(t, stdout.Bytes())
	require.Len(t, terms, 2, "ready and the reply to id 7")
	assert.Equal(t, etf.Atom("ready"), terms[0].(etf.Tuple)[0])
	assert.Equal(t, etf.Atom("ok"), terms[1])
	onSocket := <-side
	require.Len(t, onSocket, 12+len(etf.AppendAtom(etf.AppendVersion(nil), "ok")))
	assert.Equal(t, uint64(1<<62|8), binary.BigEndian.Uint64(onSocket[4:12]), "the reply keeps its id, bit included")
	assert.Equal(t, []any{etf.Atom("ok")}, frames(t, onSocket))
}

func TestRunFailsWithoutItsReplySocket(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"--path", t.TempDir(), "--reply-socket", filepath.Join(t.TempDir(), "none")}, nil, &stdout, &stderr, env(nil), nil)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr.String(), "--reply-socket")
	assert.Empty(t, stdout.Bytes())
}
