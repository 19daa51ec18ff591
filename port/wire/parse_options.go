package wire

import (
	"fmt"
	"math"

	"github.com/spiredb/spire-port/engine/kv"
)

// options reads a proplist [{Key, Value}] or a map #{Key => Value}.
func (p *termParser) options(r *Request, spec opSpec) error {
	if p.peek() == 116 {
		p.pos++
		n, ok := p.uint(4)
		if !ok || n > uint64(len(p.b)-p.pos) {
			return Badf("%s: the options map is truncated", spec.name)
		}
		for i := uint64(0); i < n; i++ {
			if err := p.option(r, spec); err != nil {
				return err
			}
		}
		r.Plain = r.Plain && n == 0
		return nil
	}
	n, list, ok := p.seq()
	if !ok {
		return Badf("%s: options must be a list or a map, got %s", spec.name, p.describe())
	}
	for i := 0; i < n; i++ {
		if arity, _, ok := p.seq(); !ok || arity != 2 {
			return Badf("%s: each option must be {key, value}, got %s", spec.name, p.describe())
		}
		if err := p.option(r, spec); err != nil {
			return err
		}
	}
	if !p.seqEnd(list) {
		return Badf("%s: options must be a proper list", spec.name)
	}
	r.Plain = r.Plain && n == 0
	return nil
}

// option reads one Key, Value pair.
func (p *termParser) option(r *Request, spec opSpec) error {
	key, ok := p.atom()
	if !ok {
		return Badf("%s: option names are atoms, got %s", spec.name, p.describe())
	}
	name := string(key)
	bit := optionBits[name]
	if bit == 0 || spec.opts&bit == 0 {
		return Badf("%s: unknown option %q", spec.name, truncate(name))
	}
	switch bit {
	case optCF:
		cf, ok := p.text()
		if !ok || cf == "" {
			return Badf("%s: cf must be a non-empty binary, got %s", spec.name, p.describe())
		}
		r.CF = cf
	case optSync, optPacked, optFillCache, optTotalOrder, optPrefixSame, optFlush, optFlat, optDisableWAL:
		v, ok := p.bool()
		if !ok {
			return Badf("%s: %s must be true or false, got %s", spec.name, name, p.describe())
		}
		switch bit {
		case optSync:
			r.Sync = v
		case optPacked:
			r.Packed = v
		case optFillCache:
			r.NoFillCache = !v
		case optTotalOrder:
			r.TotalOrderSeek = v
		case optPrefixSame:
			r.PrefixSameAsStart = v
		case optFlush:
			r.Flush = v
		case optFlat:
			r.Flat = v
		case optDisableWAL:
			r.NoWAL = v
		}
	case optRateLimit, optProgressEvery:
		// A backup holds a worker and the engine open until it ends: a rate
		// of a few bytes a second, or a progress report per byte, would let
		// one request hold them (and a shutdown) for days.
		n, ok := p.int()
		if bit == optRateLimit && (!ok || (n != 0 && (n < MinBackupRate || n > MaxBackupRate))) {
			return Badf("%s: rate_limit_bytes_per_sec must be 0 (no limit) or %d .. %d, got %s",
				spec.name, MinBackupRate, MaxBackupRate, p.describeInt(ok, n))
		}
		if bit == optProgressEvery && (!ok || (n != 0 && n < MinProgressEvery)) {
			return Badf("%s: progress_every_bytes must be 0 (the default) or at least %d, got %s",
				spec.name, MinProgressEvery, p.describeInt(ok, n))
		}
		if bit == optRateLimit {
			r.RateLimit = uint64(n)
		} else {
			r.ProgressEvery = uint64(n)
		}
	case optBatchSize:
		n, ok := p.int()
		if !ok || n < 1 || n > kv.MaxBatchSize {
			return Badf("%s: batch_size must be an integer 1 .. %d, got %s", spec.name, kv.MaxBatchSize, p.describeInt(ok, n))
		}
		r.BatchSize = int(n)
	case optLimit:
		n, ok := p.int()
		if !ok || n < 0 {
			return Badf("%s: limit must be an integer 0 .. %d (0 = no limit), got %s", spec.name, int64(math.MaxInt64), p.describeInt(ok, n))
		}
		r.Limit = int(n)
	case optAs:
		n, ok := p.int()
		if !ok || n < MinChosenID || n > MaxChosenID {
			return Badf("%s: as must be an id in %d .. %d, got %s", spec.name, int64(MinChosenID), int64(MaxChosenID), p.describeInt(ok, n))
		}
		r.As = uint64(n)
	case optTxn:
		n, ok := p.int()
		if !ok || n < 1 {
			return Badf("%s: txn must be a transaction id, got %s", spec.name, p.describeInt(ok, n))
		}
		r.Txn = uint64(n)
	case optSnapshot:
		n, ok := p.int()
		if !ok || n < 1 {
			return Badf("%s: snapshot must be a snapshot id, got %s", spec.name, p.describeInt(ok, n))
		}
		r.Snapshot = uint64(n)
	case optLowerBound, optUpperBound:
		b, ok := p.binary()
		if !ok {
			return Badf("%s: %s must be a binary, got %s", spec.name, name, p.describe())
		}
		if b == nil {
			b = []byte{} // an empty bound is still a bound
		}
		if bit == optLowerBound {
			r.Lower = b
		} else {
			r.Upper = b
		}
	case optReadahead:
		n, ok := p.int()
		if !ok || n < 0 || n > math.MaxInt32 {
			return Badf("%s: readahead_size must be an integer 0 .. %d, got %s", spec.name, math.MaxInt32, p.describeInt(ok, n))
		}
		r.Readahead = int(n)
	case optAhead:
		n, ok := p.int()
		if !ok || n < 0 || n >= kv.MaxBatchSize {
			return Badf("%s: ahead must be an integer 0 .. %d, got %s", spec.name, kv.MaxBatchSize-1, p.describeInt(ok, n))
		}
		r.Ahead = int(n)
	}
	return nil
}

func (p *termParser) bool() (bool, bool) {
	start := p.pos
	if a, ok := p.atom(); ok {
		switch string(a) {
		case "true":
			return true, true
		case "false":
			return false, true
		}
	}
	p.pos = start
	return false, false
}

// describeInt names a term an integer option could not take: the value
// when it was an integer, else its kind.
func (p *termParser) describeInt(wasInt bool, n int64) string {
	if wasInt {
		return fmt.Sprint(n)
	}
	return p.describe()
}
