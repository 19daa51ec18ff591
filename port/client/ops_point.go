package client

import (
	"context"

	"github.com/spiredb/spire-port/etf"
	"github.com/spiredb/spire-port/port/wire"
)

// Ping crosses the whole path but RocksDB.
func (c *Client) Ping(ctx context.Context) error {
	_, err := c.Call(ctx, func(c wire.Codec, b []byte) []byte { return c.Atom(c.Tuple(b, 1), "ping") })
	return err
}

// Get returns the value under key or ErrNotFound.
func (c *Client) Get(ctx context.Context, key []byte, opts ...Opts) ([]byte, error) {
	v, err := c.Call(ctx, func(c wire.Codec, b []byte) []byte {
		return appendOpts(c, c.Binary(c.Atom(c.Tuple(b, 3), "get"), key), first(opts))
	})
	if err != nil {
		return nil, err
	}
	return v.([]byte), nil
}

// MultiGet returns one entry per key; a missing key gives nil.
func (c *Client) MultiGet(ctx context.Context, keys [][]byte, opts ...Opts) ([][]byte, error) {
	v, err := c.Call(ctx, func(c wire.Codec, b []byte) []byte {
		b = c.List(c.Atom(c.Tuple(b, 3), "multi_get"), len(keys))
		for _, k := range keys {
			b = c.Binary(b, k)
		}
		return appendOpts(c, c.ListEnd(b, len(keys)), first(opts))
	})
	if err != nil {
		return nil, err
	}
	elems := asSeq(v)
	out := make([][]byte, len(elems))
	for i, e := range elems {
		out[i], _ = e.([]byte)
	}
	return out, nil
}

func asSeq(v any) []any {
	switch s := v.(type) {
	case []any:
		return s
	case etf.Tuple:
		return s
	}
	return nil
}

// Put stores value under key.
func (c *Client) Put(ctx context.Context, key, value []byte, opts ...Opts) error {
	_, err := c.Call(ctx, func(c wire.Codec, b []byte) []byte {
		return appendOpts(c, c.Binary(c.Binary(c.Atom(c.Tuple(b, 4), "put"), key), value), first(opts))
	})
	return err
}

// Delete removes key.
func (c *Client) Delete(ctx context.Context, key []byte, opts ...Opts) error {
	_, err := c.Call(ctx, func(c wire.Codec, b []byte) []byte {
		return appendOpts(c, c.Binary(c.Atom(c.Tuple(b, 3), "delete"), key), first(opts))
	})
	return err
}

// DeleteRange removes [start, end).
func (c *Client) DeleteRange(ctx context.Context, start, end []byte, opts ...Opts) error {
	_, err := c.Call(ctx, func(c wire.Codec, b []byte) []byte {
		return appendOpts(c, c.Binary(c.Binary(c.Atom(c.Tuple(b, 4), "delete_range"), start), end), first(opts))
	})
	return err
}

// WriteBatch applies ops atomically.
func (c *Client) WriteBatch(ctx context.Context, ops []BatchOp, opts ...Opts) error {
	_, err := c.Call(ctx, func(c wire.Codec, b []byte) []byte {
		b = c.List(c.Atom(c.Tuple(b, 3), "write_batch"), len(ops))
		for _, op := range ops {
			n, name := 3, "put"
			switch op.Kind {
			case OpDelete:
				n, name = 2, "delete"
			case OpDeleteRange:
				name = "delete_range"
			}
			if op.CF != "" {
				n++
			}
			b = c.Atom(c.Tuple(b, n), name)
			if op.CF != "" {
				b = c.Str(b, op.CF)
			}
			b = c.Binary(b, op.Key)
			if op.Kind != OpDelete {
				b = c.Binary(b, op.Value)
			}
		}
		return appendOpts(c, c.ListEnd(b, len(ops)), first(opts))
	})
	return err
}

// Merge hands operand to the merge operator the sidecar was started with
// (--merge-operator) for key.
func (c *Client) Merge(ctx context.Context, key, operand []byte, opts ...Opts) error {
	_, err := c.Call(ctx, func(c wire.Codec, b []byte) []byte {
		return appendOpts(c, c.Binary(c.Binary(c.Atom(c.Tuple(b, 4), "merge"), key), operand), first(opts))
	})
	return err
}
