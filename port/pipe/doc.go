// Package pipe holds the OS helpers both ends of a spire-port pipe use: a
// reader that polls a non-blocking descriptor briefly before it parks
// (SpinReader), and growing a pipe's kernel buffer (GrowPipe). It has no
// cgo, so the Go client can use it without linking RocksDB.
package pipe
