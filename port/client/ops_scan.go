package client

import (
	"context"
	"fmt"

	"github.com/spiredb/spire-port/etf"
	"github.com/spiredb/spire-port/port/wire"
)

// Batch is one batch of a scan.
type Batch struct {
	Rows  []KV
	Stats ScanStats
	Done  bool
}

// Scan reads [start, end] (end inclusive, empty = to the end) in batches.
func (c *Client) Scan(ctx context.Context, start, end []byte, opts ...Opts) ([]Batch, error) {
	replies, done, err := c.raw(func(c wire.Codec, b []byte) []byte {
		return appendOpts(c, c.Binary(c.Binary(c.Atom(c.Tuple(b, 4), "scan"), start), end), first(opts))
	})
	if err != nil {
		return nil, err
	}
	defer done()
	var out []Batch
	for {
		term, err := c.await(ctx, replies)
		if err != nil {
			return out, err
		}
		batch, err := toBatch(term)
		if err != nil {
			return out, err
		}
		if len(batch.Rows) > 0 {
			out = append(out, batch)
		}
		if batch.Done {
			return out, nil
		}
	}
}

func toBatch(term any) (Batch, error) {
	t, ok := term.(etf.Tuple)
	if ok && len(t) == 3 && (t[0] == etf.Atom("rows") || t[0] == etf.Atom("done")) {
		b := Batch{Done: t[0] == etf.Atom("done")}
		b.Stats = toScanStats(t[2])
		for _, r := range asSeq(t[1]) {
			row := asSeq(r)
			k, _ := row[0].([]byte)
			v, _ := row[1].([]byte)
			b.Rows = append(b.Rows, KV{Key: k, Value: v})
		}
		return b, nil
	}
	if _, err := unwrap(term); err != nil {
		return Batch{}, err
	}
	return Batch{}, fmt.Errorf("port: unexpected scan reply %s", formatTerm(term))
}

// IterOpen opens a cursor over [start, end].
func (c *Client) IterOpen(ctx context.Context, start, end []byte, opts ...Opts) (uint64, error) {
	v, err := c.Call(ctx, func(c wire.Codec, b []byte) []byte {
		return appendOpts(c, c.Binary(c.Binary(c.Atom(c.Tuple(b, 4), "iter_open"), start), end), first(opts))
	})
	if err != nil {
		return 0, err
	}
	return toUint(v), nil
}

// IterNext returns the cursor's next batch; Done marks the last one, after
// which the cursor is closed.
func (c *Client) IterNext(ctx context.Context, cursor uint64) (Batch, error) {
	replies, done, err := c.raw(func(c wire.Codec, b []byte) []byte {
		return c.Uint(c.Atom(c.Tuple(b, 2), "iter_next"), cursor)
	})
	if err != nil {
		return Batch{}, err
	}
	defer done()
	term, err := c.await(context.Background(), replies)
	if err != nil {
		return Batch{}, err
	}
	return toBatch(term)
}

// IterClose closes a cursor.
func (c *Client) IterClose(ctx context.Context, cursor uint64) error {
	_, err := c.Call(ctx, func(c wire.Codec, b []byte) []byte { return c.Uint(c.Atom(c.Tuple(b, 2), "iter_close"), cursor) })
	return err
}
