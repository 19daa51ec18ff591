// Package bridge hands package clienttest the client's raw-frame hooks,
// which a Client does not export: package client fills these in at init.
package bridge

import "context"

// The hooks; c is a *client.Client.
var (
	Register   func(c any, id uint64) (<-chan []byte, func())
	WriteFrame func(c any, frame []byte) error
	Await      func(c any, ctx context.Context, replies <-chan []byte) (any, error)
)
