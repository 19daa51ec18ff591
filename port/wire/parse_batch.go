package wire

import "github.com/spiredb/spire-port/engine/kv"

// batch reads [{put, K, V} | {put, CF, K, V} | {delete, K} | {delete, CF, K}
// | {delete_range, S, E} | {delete_range, CF, S, E} | {merge, K, V} |
// {merge, CF, K, V}].
func (p *termParser) batch(r *Request, op string) error {
	n, list, ok := p.seq()
	if !ok {
		return Badf("%s: the batch must be a list, got %s", op, p.describe())
	}
	for i := 0; i < n; i++ {
		arity, _, ok := p.seq()
		if !ok || arity < 2 {
			return Badf("%s: entry %d must be {put, k, v}, {delete, k} or {delete_range, s, e}, got %s", op, i+1, p.describe())
		}
		kindName, _ := p.atom()
		var b kv.BatchOp
		var want int
		switch string(kindName) {
		case "put":
			b.Kind, want = kv.OpPut, 3
		case "delete":
			b.Kind, want = kv.OpDelete, 2
		case "delete_range":
			b.Kind, want = kv.OpDeleteRange, 3
		case "merge":
			b.Kind, want = kv.OpMerge, 3
		case "single_delete":
			b.Kind, want = kv.OpSingleDelete, 2
		default:
			if kindName == nil {
				return Badf("%s: entry %d has unknown kind %s", op, i+1, p.describe())
			}
			return Badf("%s: entry %d has unknown kind atom %s", op, i+1, truncate(string(kindName)))
		}
		fields := arity - 1
		if arity == want+1 {
			cf, ok := p.text()
			if !ok {
				return Badf("%s: entry %d: the column family must be a binary, got %s", op, i+1, p.describe())
			}
			b.CF = cf
			fields--
		} else if arity != want {
			return Badf("%s: entry %d: %s takes %d or %d elements, got %d", op, i+1, kindName, want, want+1, arity)
		}
		for j := 0; j < fields; j++ {
			v, ok := p.binary()
			if !ok {
				return Badf("%s: entry %d: element %d must be a binary, got %s", op, i+1, arity-fields+j+1, p.describe())
			}
			if j == 0 {
				b.Key = v
			} else {
				b.Value = v
			}
		}
		r.Batch = append(r.Batch, b)
	}
	if !p.seqEnd(list) {
		return Badf("%s: the batch must be a proper list", op)
	}
	return nil
}
