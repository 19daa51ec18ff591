// Package clienttest sends a sidecar what a Client never would: frames
// built by hand, malformed ones included, under ids the test picks. It is
// for integration tests of the sidecar itself, as net/http/httptest is
// for servers; a Client's methods are the API.
package clienttest

import (
	"context"

	"github.com/spiredb/spire-port/port/client"
	"github.com/spiredb/spire-port/port/client/internal/bridge"
)

// Register reserves id for the replies to frames written with WriteFrame;
// call done when no more are wanted.
func Register(c *client.Client, id uint64) (replies <-chan []byte, done func()) {
	return bridge.Register(c, id)
}

// WriteFrame writes raw bytes to the sidecar's stdin.
func WriteFrame(c *client.Client, frame []byte) error { return bridge.WriteFrame(c, frame) }

// Await returns the next reply on replies, decoded.
func Await(ctx context.Context, c *client.Client, replies <-chan []byte) (any, error) {
	return bridge.Await(c, ctx, replies)
}
