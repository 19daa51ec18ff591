package test

import (
	"encoding/binary"
	"github.com/spiredb/spire-port/port/client/clienttest"
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/spiredb/spire-port/etf"
	"github.com/spiredb/spire-port/port/wire"
	"github.com/spiredb/spire-port/port/wire/wiretest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readSocketFrame reads one frame off the reply socket: its id and term.
func readSocketFrame(t *testing.T, conn net.Conn) (uint64, any) {
	t.Helper()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(30*time.Second)))
	var hdr [4]byte
	_, err := io.ReadFull(conn, hdr[:])
	require.NoError(t, err)
	body := make([]byte, binary.BigEndian.Uint32(hdr[:]))
	_, err = io.ReadFull(conn, body)
	require.NoError(t, err)
	term, err := etf.DecodeReply(body[wire.IDSize:])
	require.NoError(t, err)
	return binary.BigEndian.Uint64(body), term
}

// The real binary with --reply-socket: requests whose id has bit 62 are
// answered on the socket (errors too), the others on stdout, and the
// socket carries nothing else.
func TestTheReplySocketCarriesExactlyTheFlaggedReplies(t *testing.T) {
	sockPath := filepath.Join(t.TempDir(), "replies")
	ln, err := net.Listen("unix", sockPath)
	require.NoError(t, err)
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		conn, err := ln.Accept()
		if err == nil {
			accepted <- conn
		}
		close(accepted)
	}()

	s := start(t, "", "etf", "--reply-socket", sockPath)
	conn, ok := <-accepted
	require.True(t, ok, "the sidecar connected")
	defer conn.Close()

	require.NoError(t, s.Put(ctx, []byte("k"), []byte("v")))

	const flagged = wire.SideChannelBit | 41
	require.NoError(t, clienttest.WriteFrame(s.Client, wiretest.Frame(flagged, req("get", binArg("k"), nilArg))))
	id, term := readSocketFrame(t, conn)
	assert.Equal(t, uint64(flagged), id, "the reply keeps its id, bit included")
	assert.Equal(t, etf.Tuple{etf.Atom("ok"), []byte("v")}, term)

	// A malformed flagged request is answered on the socket too.
	require.NoError(t, clienttest.WriteFrame(s.Client, wiretest.Frame(wire.SideChannelBit|42, req("get", nilArg, nilArg))))
	id, term = readSocketFrame(t, conn)
	assert.Equal(t, uint64(wire.SideChannelBit|42), id)
	reason, _ := reasonOf(term)
	assert.Equal(t, "badarg", reason)

	// Unflagged requests keep stdout, and nothing more reaches the socket.
	got, err := s.Get(ctx, []byte("k"))
	require.NoError(t, err)
	assert.Equal(t, []byte("v"), got)
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(200*time.Millisecond)))
	n, err := conn.Read(make([]byte, 1))
	assert.Zero(t, n)
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	assert.True(t, ne.Timeout(), "nothing but flagged replies on the socket: %v", err)
}
