// Package test holds the integration tests of spire-port: they build the
// real binary once, start it as a child process and speak the protocol
// over its pipes through client.Client (package port/client). Nothing is
// mocked.
package test
