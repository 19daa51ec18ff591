// Package wire is the spire-port protocol, in one place for both ends:
// framing (ReadFrame, bounded; BeginFrame/EndFrame; batch frames packed by
// SealBatch and split by SplitBatch), the codecs (ETF, and msgpack
// rewritten to ETF), the one request parser (Parse) and the unsolicited
// events. It has no cgo and does not import the engine, so the Go client
// builds with CGO_ENABLED=0.
//
// # Framing
//
// Every frame in both directions is a 4-byte big-endian length, then the
// packet: an 8-byte big-endian request id and one term in the session's
// codec (ETF by default, msgpack with --codec msgpack). This is what
// Erlang's {packet, 4} port option delimits, and the fixed id lets the
// Elixir owner route a reply without decoding it. Id 0 is reserved for
// frames the sidecar sends unasked (ready, open failure, log lines, backup
// progress); id 2^64-1 for batch frames. docs/protocol.md gives the schema
// of every request and reply.
package wire
