package port

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spiredb/spire-port/port/wire"
)

func frameWithID(id uint64, body string) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(8+len(body)))
	b = binary.BigEndian.AppendUint64(b, id)
	return append(b, body...)
}

func TestOutputSendsFlaggedRepliesToTheSideChannel(t *testing.T) {
	var main, side bytes.Buffer
	o := newOutput(&main, &side)
	o.send(frameWithID(1, "a"))
	o.send(frameWithID(wire.SideChannelBit|2, "b"))
	o.send(frameWithID(1<<63|wire.SideChannelBit|3, "c")) // "more" and flagged
	o.flush()
	o.drain()

	assert.Equal(t, frameWithID(1, "a"), main.Bytes(), "one frame goes out as it is")
	sideBytes := side.Bytes()
	assert.Equal(t, uint64(wire.BatchID), binary.BigEndian.Uint64(sideBytes[4:12]), "two frames share a batch frame")
	assert.Equal(t, append(frameWithID(wire.SideChannelBit|2, "b"), frameWithID(1<<63|wire.SideChannelBit|3, "c")...), sideBytes[12:])
}

func TestOutputWithoutSideChannelKeepsEveryReplyOnItsWriter(t *testing.T) {
	var main bytes.Buffer
	o := newOutput(&main, nil)
	o.send(frameWithID(wire.SideChannelBit|2, "b"))
	o.flush()
	assert.Equal(t, frameWithID(wire.SideChannelBit|2, "b"), main.Bytes())
}

type brokenWriter struct{}

func (brokenWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestOutputFallsBackToItsWriterWhenTheSideChannelBreaks(t *testing.T) {
	var main bytes.Buffer
	o := newOutput(&main, brokenWriter{})
	o.send(frameWithID(wire.SideChannelBit|2, "b"))
	o.flush()
	o.drain()
	assert.Equal(t, frameWithID(wire.SideChannelBit|2, "b"), main.Bytes(), "the failed write's frames go to stdout")

	main.Reset()
	o.send(frameWithID(wire.SideChannelBit|3, "c"))
	o.flush()
	o.drain()
	assert.Equal(t, frameWithID(wire.SideChannelBit|3, "c"), main.Bytes(), "and every later one")
}

// lockedBuffer is a bytes.Buffer safe to read while the side writer's
// goroutine writes to it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]byte(nil), l.b.Bytes()...)
}

func TestOutputKeepsStdoutFlowingWhenTheSideChannelIsNotRead(t *testing.T) {
	var main lockedBuffer
	unread, peer := net.Pipe() // nobody reads peer: every write to unread blocks
	defer peer.Close()
	o := newOutput(&main, unread)

	o.send(frameWithID(wire.SideChannelBit|2, "b"))
	o.flush() // the side writer now waits on the socket
	o.send(frameWithID(1, "a"))
	o.flush()
	assert.Equal(t, frameWithID(1, "a"), main.Bytes(), "stdout's reply went out while the socket was stuck")

	o.drain() // returns once the stuck write gave up
	assert.Equal(t, append(frameWithID(1, "a"), frameWithID(wire.SideChannelBit|2, "b")...), main.Bytes(),
		"the side channel's reply came on stdout instead")
	o.send(frameWithID(wire.SideChannelBit|3, "c"))
	o.flush()
	assert.True(t, bytes.HasSuffix(main.Bytes(), frameWithID(wire.SideChannelBit|3, "c")), "and so do later ones")
}

// closedPeerSocket is a Unix socket whose peer is gone: a write fails at
// once (EPIPE), as the reply socket does once the port's owner is killed.
func closedPeerSocket(t *testing.T) net.Conn {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	require.NoError(t, err)
	require.NoError(t, syscall.Close(fds[1]))
	f := os.NewFile(uintptr(fds[0]), "reply-socket")
	defer f.Close()
	conn, err := net.FileConn(f) // a dup: f's own descriptor closes above
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return conn
}

func TestOutputDivertsABatchTheSocketRefusesAtOnceWithoutDeadlock(t *testing.T) {
	var main lockedBuffer
	o := newOutput(&main, closedPeerSocket(t))
	flushed := make(chan struct{})
	go func() {
		o.send(frameWithID(wire.SideChannelBit|2, "b"))
		o.flush()
		close(flushed)
	}()
	select {
	case <-flushed:
	case <-time.After(10 * time.Second):
		t.Fatal("flush never returned: the refused batch deadlocked the output")
	}
	o.drain()
	assert.Equal(t, frameWithID(wire.SideChannelBit|2, "b"), main.Bytes(), "the refused batch went to stdout")

	o.send(frameWithID(wire.SideChannelBit|3, "c"))
	o.flush()
	assert.True(t, bytes.HasSuffix(main.Bytes(), frameWithID(wire.SideChannelBit|3, "c")), "and so do later ones")
}
