// Package port is the spire-port sidecar's server: it serves an
// engine.Engine over a byte stream (the sidecar's stdin and stdout) in the
// protocol of package wire. Package client is the Go client that speaks to
// it; package pipe has the OS helpers both use.
//
// # Concurrency
//
// One goroutine reads frames and runs every write and every cheap read
// right there, in arrival order, so the requests of one stream take effect
// in the order they came (docs/protocol.md, "Order"); handing them to
// another goroutine would also cost a wake-up that dominates their latency.
// Point requests that arrive together run as one RocksDB call (group.go).
// Long reads whose view is fixed on the reader (a scan's iterator is made
// before the hand-off) and operations that change no data (flush,
// compaction, checkpoints, backups, stats) go to a bounded pool of workers
// through a bounded queue, so a full queue stops the reader (backpressure)
// instead of growing memory. Replies may leave out of order; the id says
// which is which.
//
// Replies are appended to one buffer and written when the reader is about
// to block for input, or at once by a worker that finds the reader idle.
// Pipelined requests thus share write syscalls, and a lone request pays for
// exactly one write and no goroutine hand-off.
package port
