// Package client is the Go client of the spire-port sidecar, for programs
// and integration suites that talk to it: Start launches the binary on a
// data directory and waits for its ready frame, and the methods send
// requests (pipelined: concurrent calls share write syscalls and batch
// frames) and wait for their replies. It imports package wire, never the
// engine, so it builds with CGO_ENABLED=0.
//
// A suite starts one sidecar per test in t.TempDir():
//
//	c, err := client.Start(client.StartOptions{Binary: "bin/spire-port", Path: t.TempDir()})
//	if err != nil {
//		t.Fatal(err)
//	}
//	t.Cleanup(func() { c.Close() })
//	if err := c.Put(ctx, []byte("user:1"), []byte("alice")); err != nil {
//		t.Fatal(err)
//	}
//
// Every call takes a context first: its deadline is the call's timeout,
// and a call whose context ends returns ctx.Err() and drops the late
// reply. Results are Go types (Stats, CacheInfo, ScanStats, ...).
//
// Errors: ErrNotFound for a missing key, ErrEngineDown when the sidecar is
// gone, *ReplyError for any other {error, Reason}.
package client
