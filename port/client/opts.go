package client

import (
	"github.com/spiredb/spire-port/port/wire"
)

// Opts are per-call options; zero fields are left out of the request.
type Opts struct {
	CF        string
	Sync      bool
	Snapshot  uint64
	BatchSize int
	Limit     int
}

func appendOpts(c wire.Codec, b []byte, o Opts) []byte {
	n := 0
	for _, set := range []bool{o.CF != "", o.Sync, o.Snapshot != 0, o.BatchSize != 0, o.Limit != 0} {
		if set {
			n++
		}
	}
	b = c.List(b, n)
	if o.CF != "" {
		b = c.Str(c.Atom(c.Tuple(b, 2), "cf"), o.CF)
	}
	if o.Sync {
		b = c.Atom(c.Atom(c.Tuple(b, 2), "sync"), "true")
	}
	if o.Snapshot != 0 {
		b = c.Uint(c.Atom(c.Tuple(b, 2), "snapshot"), o.Snapshot)
	}
	if o.BatchSize != 0 {
		b = c.Int(c.Atom(c.Tuple(b, 2), "batch_size"), int64(o.BatchSize))
	}
	if o.Limit != 0 {
		b = c.Int(c.Atom(c.Tuple(b, 2), "limit"), int64(o.Limit))
	}
	return c.ListEnd(b, n)
}

func first(opts []Opts) Opts {
	if len(opts) > 0 {
		return opts[0]
	}
	return Opts{}
}
