package port

import (
	"errors"
	"fmt"
	"math"

	"github.com/okeuday/erlang_go/v2/erlang"
	"github.com/spiredb/spire-port/engine"
	"github.com/spiredb/spire-port/etf"
)

// op is a request's operation.
type op uint8

// The operations, in the order docs/protocol.md lists them.
const (
	opPing op = iota + 1
	opGet
	opMultiGet
	opPut
	opDelete
	opDeleteRange
	opWriteBatch
	opScan
	opIterOpen
	opIterNext
	opIterClose
	opSnapshotOpen
	opSnapshotClose
	opStats
	opCacheInfo
	opProperty
	opFlush
	opCompactRange
	opCheckpoint
	opCFList
	opCFCreate
	opCFDrop
	opClose
)

// Option bits: which options an op accepts.
const (
	optCF = 1 << iota
	optSync
	optBatchSize
	optLimit
	optSnapshot
	optPacked
)

// opSpec describes one op: its name, its positional arguments and the
// options it takes.
type opSpec struct {
	name string
	args []argKind
	opts int
}

type argKind uint8

const (
	argKey argKind = iota + 1
	argValue
	argEnd   // a range end: binary; "" means the end of the keyspace
	argBound // a compaction bound: binary, nil or undefined
	argKeys  // a list of binaries
	argBatch // a list of batch entries
	argID    // a cursor or snapshot id
	argName  // a binary name (property, column family, checkpoint dir)
)

var specs = map[op]opSpec{
	opPing:          {"ping", nil, 0},
	opGet:           {"get", []argKind{argKey}, optCF | optSnapshot},
	opMultiGet:      {"multi_get", []argKind{argKeys}, optCF | optSnapshot},
	opPut:           {"put", []argKind{argKey, argValue}, optCF | optSync},
	opDelete:        {"delete", []argKind{argKey}, optCF | optSync},
	opDeleteRange:   {"delete_range", []argKind{argKey, argEnd}, optCF | optSync},
	opWriteBatch:    {"write_batch", []argKind{argBatch}, optSync},
	opScan:          {"scan", []argKind{argKey, argEnd}, optCF | optSnapshot | optBatchSize | optLimit | optPacked},
	opIterOpen:      {"iter_open", []argKind{argKey, argEnd}, optCF | optSnapshot | optBatchSize | optLimit | optPacked},
	opIterNext:      {"iter_next", []argKind{argID}, 0},
	opIterClose:     {"iter_close", []argKind{argID}, 0},
	opSnapshotOpen:  {"snapshot_open", nil, 0},
	opSnapshotClose: {"snapshot_close", []argKind{argID}, 0},
	opStats:         {"stats", nil, 0},
	opCacheInfo:     {"cache_info", nil, 0},
	opProperty:      {"property", []argKind{argName}, optCF},
	opFlush:         {"flush", nil, optCF},
	opCompactRange:  {"compact_range", []argKind{argBound, argBound}, optCF},
	opCheckpoint:    {"checkpoint", []argKind{argName}, 0},
	opCFList:        {"cf_list", nil, 0},
	opCFCreate:      {"cf_create", []argKind{argName}, 0},
	opCFDrop:        {"cf_drop", []argKind{argName}, 0},
	opClose:         {"close", nil, 0},
}

var opsByName = func() map[string]op {
	m := make(map[string]op, len(specs))
	for o, s := range specs {
		m[s.name] = o
	}
	return m
}()

// request is one decoded request.
type request struct {
	op        op
	key       []byte // key; range start
	value     []byte // put value
	end       []byte // range end (inclusive for scans, exclusive for delete_range)
	hasStart  bool   // compact_range: a start bound was given
	hasEnd    bool   // compact_range: an end bound was given
	keys      [][]byte
	batch     []engine.BatchOp
	id        uint64 // cursor or snapshot
	name      string
	cf        string
	sync      bool
	packed    bool // scan: rows as one binary (see docs/protocol.md)
	batchSize int
	limit     int
	snapshot  uint64
}

// badArg is a request the sidecar cannot serve as sent; it travels as
// {error, {badarg, Message}}.
type badArg struct{ msg string }

func (e *badArg) Error() string { return e.msg }

func badf(format string, args ...any) error {
	return &badArg{msg: fmt.Sprintf(format, args...)}
}

// parseRequest turns a decoded term into a request.
func parseRequest(term any) (request, error) {
	var r request
	elems, ok := etf.Seq(term)
	if !ok || len(elems) == 0 {
		return r, badf("a request is a tuple {op, args...}, got %s", etf.Describe(term))
	}
	name, ok := etf.AtomName(elems[0])
	if !ok {
		return r, badf("the op must be an atom, got %s", etf.Describe(elems[0]))
	}
	o, ok := opsByName[name]
	if !ok {
		return r, badf("unknown op %q", truncate(name))
	}
	spec := specs[o]
	r.op = o
	args := elems[1:]
	if len(args) != len(spec.args) && !(spec.opts != 0 && len(args) == len(spec.args)+1) {
		want := fmt.Sprint(len(spec.args) + 1)
		if spec.opts != 0 {
			want += " or " + fmt.Sprint(len(spec.args)+2)
		}
		return r, badf("%s: wrong arity %d, want %s", spec.name, len(elems), want)
	}
	for i, kind := range spec.args {
		if err := r.setArg(spec.name, i+1, kind, args[i]); err != nil {
			return r, err
		}
	}
	if len(args) > len(spec.args) {
		if err := r.setOptions(spec, args[len(args)-1]); err != nil {
			return r, err
		}
	}
	return r, nil
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

func (r *request) setArg(op string, pos int, kind argKind, t any) error {
	switch kind {
	case argName:
		name, ok := text(t)
		if !ok || name == "" {
			return badf("%s: argument %d must be a non-empty binary, got %s", op, pos, etf.Describe(t))
		}
		r.name = name
	case argKey, argValue, argEnd:
		b, ok := etf.Bytes(t)
		if !ok {
			return badf("%s: argument %d must be a binary, got %s", op, pos, etf.Describe(t))
		}
		switch kind {
		case argKey:
			r.key = b
		case argValue:
			r.value = b
		case argEnd:
			r.end = b
		}
	case argBound:
		var b []byte
		if name, ok := etf.AtomName(t); ok && (name == "nil" || name == "undefined") {
			b = nil
		} else if v, ok := etf.Bytes(t); ok {
			b = v
		} else {
			return badf("%s: argument %d must be a binary or nil, got %s", op, pos, etf.Describe(t))
		}
		if pos == 1 {
			r.key, r.hasStart = b, len(b) > 0
		} else {
			r.end, r.hasEnd = b, len(b) > 0
		}
	case argKeys:
		elems, ok := etf.Seq(t)
		if !ok {
			return badf("%s: argument %d must be a list of binaries, got %s", op, pos, etf.Describe(t))
		}
		r.keys = make([][]byte, len(elems))
		for i, e := range elems {
			if r.keys[i], ok = etf.Bytes(e); !ok {
				return badf("%s: key %d must be a binary, got %s", op, i+1, etf.Describe(e))
			}
		}
	case argBatch:
		return r.setBatch(op, t)
	case argID:
		n, ok := etf.Int(t)
		if !ok || n < 0 {
			return badf("%s: argument %d must be a non-negative integer id, got %s", op, pos, etf.Describe(t))
		}
		r.id = uint64(n)
	}
	return nil
}

// setBatch parses [{put, K, V} | {put, CF, K, V} | {delete, K} |
// {delete, CF, K} | {delete_range, S, E} | {delete_range, CF, S, E}].
func (r *request) setBatch(op string, t any) error {
	elems, ok := etf.Seq(t)
	if !ok {
		return badf("%s: the batch must be a list, got %s", op, etf.Describe(t))
	}
	r.batch = make([]engine.BatchOp, len(elems))
	for i, e := range elems {
		entry, ok := etf.Seq(e)
		if !ok || len(entry) < 2 {
			return badf("%s: entry %d must be {put, k, v}, {delete, k} or {delete_range, s, e}, got %s", op, i+1, etf.Describe(e))
		}
		kind, _ := etf.AtomName(entry[0])
		var want int
		b := &r.batch[i]
		switch kind {
		case "put":
			b.Kind, want = engine.OpPut, 3
		case "delete":
			b.Kind, want = engine.OpDelete, 2
		case "delete_range":
			b.Kind, want = engine.OpDeleteRange, 3
		default:
			return badf("%s: entry %d has unknown kind %s", op, i+1, etf.Describe(entry[0]))
		}
		fields := entry[1:]
		if len(entry) == want+1 {
			cf, ok := text(fields[0])
			if !ok {
				return badf("%s: entry %d: the column family must be a binary, got %s", op, i+1, etf.Describe(fields[0]))
			}
			b.CF, fields = cf, fields[1:]
		} else if len(entry) != want {
			return badf("%s: entry %d: %s takes %d or %d elements, got %d", op, i+1, kind, want, want+1, len(entry))
		}
		for j, f := range fields {
			v, ok := etf.Bytes(f)
			if !ok {
				return badf("%s: entry %d: element %d must be a binary, got %s", op, i+1, j+2, etf.Describe(f))
			}
			if j == 0 {
				b.Key = v
			} else {
				b.Value = v
			}
		}
	}
	return nil
}

// setOptions reads a proplist [{Key, Value}] or a map #{Key => Value}.
func (r *request) setOptions(spec opSpec, t any) error {
	var pairs [][2]any
	switch m := t.(type) {
	case erlang.OtpErlangMap:
		for k, v := range m {
			pairs = append(pairs, [2]any{k, v})
		}
	default:
		elems, ok := etf.Seq(t)
		if !ok {
			return badf("%s: options must be a list or a map, got %s", spec.name, etf.Describe(t))
		}
		for _, e := range elems {
			kv, ok := etf.Seq(e)
			if !ok || len(kv) != 2 {
				return badf("%s: each option must be {key, value}, got %s", spec.name, etf.Describe(e))
			}
			pairs = append(pairs, [2]any{kv[0], kv[1]})
		}
	}
	for _, kv := range pairs {
		if err := r.setOption(spec, kv[0], kv[1]); err != nil {
			return err
		}
	}
	return nil
}

// optionBits maps option names to their bits.
var optionBits = map[string]int{"cf": optCF, "sync": optSync, "batch_size": optBatchSize, "limit": optLimit,
	"snapshot": optSnapshot, "packed": optPacked}

func (r *request) setOption(spec opSpec, key, value any) error {
	name, ok := etf.AtomName(key)
	if !ok {
		return badf("%s: option names are atoms, got %s", spec.name, etf.Describe(key))
	}
	bit := optionBits[name]
	if bit == 0 || spec.opts&bit == 0 {
		return badf("%s: unknown option %q", spec.name, truncate(name))
	}
	switch bit {
	case optCF:
		cf, ok := text(value)
		if !ok || cf == "" {
			return badf("%s: cf must be a non-empty binary, got %s", spec.name, etf.Describe(value))
		}
		r.cf = cf
	case optSync, optPacked:
		v, _ := etf.AtomName(value)
		if v != "true" && v != "false" {
			return badf("%s: %s must be true or false, got %s", spec.name, name, etf.Describe(value))
		}
		if bit == optSync {
			r.sync = v == "true"
		} else {
			r.packed = v == "true"
		}
	case optBatchSize:
		n, ok := etf.Int(value)
		if !ok || n < 1 || n > engine.MaxBatchSize {
			return badf("%s: batch_size must be an integer 1 .. %d, got %s", spec.name, engine.MaxBatchSize, describeInt(value))
		}
		r.batchSize = int(n)
	case optLimit:
		n, ok := etf.Int(value)
		if !ok || n < 0 {
			return badf("%s: limit must be an integer 0 .. %d (0 = no limit), got %s", spec.name, int64(math.MaxInt64), describeInt(value))
		}
		r.limit = int(n)
	case optSnapshot:
		n, ok := etf.Int(value)
		if !ok || n < 1 {
			return badf("%s: snapshot must be a snapshot id, got %s", spec.name, etf.Describe(value))
		}
		r.snapshot = uint64(n)
	}
	return nil
}

// text reads a name: a binary, or a string in msgpack (decoded as an atom).
func text(t any) (string, bool) {
	switch v := t.(type) {
	case erlang.OtpErlangAtomUTF8:
		return string(v), true
	case erlang.OtpErlangAtom: // OTP 25 writes atoms as ATOM_EXT
		return string(v), true
	}
	b, ok := etf.Bytes(t)
	return string(b), ok
}

func describeInt(t any) string {
	if n, ok := etf.Int(t); ok {
		return fmt.Sprint(n)
	}
	if _, ok := t.(uint64); ok {
		return fmt.Sprint(t)
	}
	return etf.Describe(t)
}

// isBadArg reports whether err is a caller mistake rather than a failure.
func isBadArg(err error) bool {
	var b *badArg
	return errors.As(err, &b) || errors.Is(err, etf.ErrMalformed) || errors.Is(err, engine.ErrInvalidArgument)
}
