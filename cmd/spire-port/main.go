// Command spire-port is SpireDB's storage engine as an Erlang port program:
// it owns one RocksDB database and answers {packet, 4} frames on stdin with
// frames on stdout. Logs go to stderr; stdout carries only frames.
//
// Usage:
//
//	spire-port --path DIR [flags]
//
// RocksDB settings come from the SPIRE_ROCKSDB_* environment and from the
// flags of the same names (a flag wins). Exit status: 0 after EOF on stdin,
// a {close} request, SIGTERM or SIGINT; 1 when the database cannot be
// opened; 2 for a usage error.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// A write to a stdout whose reader is gone must fail with EPIPE rather
	// than kill the process before RocksDB is closed.
	signal.Ignore(syscall.SIGPIPE)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.LookupEnv, sigs))
}
