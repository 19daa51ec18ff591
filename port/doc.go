// Package port serves an engine.Engine over a byte stream (the sidecar's
// stdin and stdout) and provides the Go client that speaks to it.
//
// # Framing
//
// Every frame in both directions is a 4-byte big-endian length, then the
// packet: an 8-byte big-endian request id and one term in the session's
// codec (ETF by default, msgpack with --codec msgpack). This is what
// Erlang's {packet, 4} port option delimits, and the fixed id lets the
// Elixir owner route a reply without decoding it. Id 0 is reserved for
// frames the sidecar sends unasked (ready, open failure). docs/protocol.md
// gives the schema of every request and reply.
//
// # Concurrency
//
// One goroutine reads frames. Fast operations (ping, get, put, delete,
// small batches and multi-gets) run right there: handing them to another
// goroutine costs a wake-up that dominates their latency. Slow ones (scans,
// cursors, large batches, synced writes, flush, compaction, checkpoints,
// stats) go to a bounded pool of workers through a bounded queue, so a full
// queue stops the reader (backpressure) instead of growing memory. Replies
// may leave out of order; the id says which is which.
//
// Replies are appended to one buffer and written when the reader is about
// to block for input, or at once by a worker that finds the reader idle.
// Pipelined requests thus share write syscalls, and a lone request pays for
// exactly one write and no goroutine hand-off.
package port
