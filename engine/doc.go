// Package engine owns one RocksDB instance for SpireDB's storage engine.
//
// It is the only package that touches grocksdb. The sidecar (package port)
// serves it over a pipe, and Go test suites and benchmarks use it directly,
// in-process, as the baseline the sidecar is measured against.
//
// # Configuration
//
// Every SPIRE_ROCKSDB_* variable of the storage-engine design is a field of
// Config. DefaultConfig gives the seed's defaults, LoadConfig layers a tuning
// profile and the environment on top, and Validate reports every bad value at
// once. Nothing silently falls back to a default.
//
// # Caveats
//
// Keys and values handed to the visit functions of Scanner.NextFunc and
// Iterator.Move alias a pooled buffer the rows were copied into, straight
// from RocksDB's iterator, and those of GetFunc and MultiGetFunc alias
// RocksDB's own memory. They are valid only until the visit function
// returns; copy them to keep them. Every other method returns freshly
// allocated slices that the caller owns.
//
// An Engine is safe for concurrent use. Close waits for operations in flight
// and then releases every C object; any call after Close returns ErrClosed.
// A Scanner or Snapshot must be closed by its user; Engine.Close closes the
// ones still open so that RocksDB can shut down cleanly.
package engine
