package merge

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spiredb/spire-port/etf"
)

// term encodes one term as term_to_binary would, from etf's appenders.
func term(build func([]byte) []byte) []byte { return build(etf.AppendVersion(nil)) }

func op(name string, args ...func([]byte) []byte) []byte {
	return term(func(b []byte) []byte {
		b = etf.AppendAtom(etf.AppendTupleHeader(b, 1+len(args)), name)
		for _, a := range args {
			b = a(b)
		}
		return b
	})
}

func i(n int64) func([]byte) []byte { return func(b []byte) []byte { return etf.AppendInt(b, n) } }
func bin(s string) func([]byte) []byte {
	return func(b []byte) []byte { return etf.AppendBinary(b, []byte(s)) }
}
func atoms(names ...string) func([]byte) []byte {
	return func(b []byte) []byte {
		if len(names) == 0 {
			return etf.AppendNil(b)
		}
		b = etf.AppendListHeader(b, len(names))
		for _, n := range names {
			b = etf.AppendAtom(b, n)
		}
		return etf.AppendNil(b)
	}
}

func decoded(t *testing.T, v []byte, ok bool) any {
	t.Helper()
	require.True(t, ok, "the merge failed")
	d, err := etf.Decode(v)
	require.NoError(t, err)
	return d
}

func names(t *testing.T, v any) []string {
	t.Helper()
	seq, ok := etf.Seq(v)
	require.True(t, ok, "%v is a list", v)
	out := []string{}
	for _, e := range seq {
		n, _ := etf.AtomName(e)
		out = append(out, n)
	}
	return out
}

func TestErlangIntegers(t *testing.T) {
	v, ok := Erlang{}.FullMerge(nil, term(i(0)), [][]byte{op("int_add", i(1)), op("int_add", i(2)), op("int_add", i(-1))})
	n, _ := etf.Int(decoded(t, v, ok))
	assert.EqualValues(t, 2, n)
	v, ok = Erlang{}.FullMerge(nil, nil, [][]byte{op("int_add", i(1<<40)), op("int_add", i(5))})
	n, _ = etf.Int(decoded(t, v, ok))
	assert.EqualValues(t, 1<<40+5, n, "no value: the first operand starts it")
	_, ok = Erlang{}.FullMerge(nil, term(i(1)), [][]byte{op("list_append", atoms("a"))})
	assert.False(t, ok, "an operand of another type fails the merge")
	_, ok = Erlang{}.FullMerge(nil, term(i(1)), [][]byte{[]byte("not a term")})
	assert.False(t, ok)
}

func TestErlangLists(t *testing.T) {
	full := func(existing []byte, ops ...[]byte) []string {
		v, ok := Erlang{}.FullMerge(nil, existing, ops)
		return names(t, decoded(t, v, ok))
	}
	ab := term(atoms("a", "b"))
	assert.Equal(t, []string{"a", "b", "c", "d"}, full(ab, op("list_append", atoms("c", "d"))))
	assert.Equal(t, []string{"c", "d"}, full(nil, op("list_append", atoms("c", "d"))))
	abcda := term(atoms("a", "b", "c", "d", "a"))
	assert.Equal(t, []string{"b", "d", "a"}, full(abcda, op("list_substract", atoms("c", "a"))), "first occurrence only")
	assert.Equal(t, []string{"a", "b", "x", "d", "a"}, full(abcda, op("list_set", i(2), func(b []byte) []byte { return etf.AppendAtom(b, "x") })))
	assert.Equal(t, []string{"a", "b", "c", "d", "a"}, full(abcda, op("list_set", i(5), func(b []byte) []byte { return etf.AppendAtom(b, "x") })), "past the end")
	assert.Equal(t, []string{"a", "b", "d", "a"}, full(abcda, op("list_delete", i(2))))
	assert.Equal(t, []string{"a", "a"}, full(abcda, op("list_delete", i(1), i(3))), "start to end, both included")
	assert.Equal(t, []string{"a", "b", "c", "d", "a"}, full(abcda, op("list_delete", i(1), i(5))), "an end past the last")
	assert.Equal(t, []string{"a", "b", "h", "i", "c", "d", "a"}, full(abcda, op("list_insert", i(2), atoms("h", "i"))))
	_, ok := Erlang{}.FullMerge(nil, abcda, [][]byte{op("list_delete", i(3), i(1))})
	assert.False(t, ok, "a reversed range fails")

	// [1, 2, 3] comes as a string of bytes from term_to_binary.
	str := []byte{131, 107, 0, 3, 1, 2, 3}
	v, ok := Erlang{}.FullMerge(nil, str, [][]byte{op("list_append", atoms("z"))})
	seq, _ := etf.Seq(decoded(t, v, ok))
	require.Len(t, seq, 4)
}

func TestErlangBinaries(t *testing.T) {
	full := func(existing []byte, ops ...[]byte) string {
		v, ok := Erlang{}.FullMerge(nil, existing, ops)
		b, _ := etf.Bytes(decoded(t, v, ok))
		return string(b)
	}
	abc := term(bin("abc"))
	assert.Equal(t, "abcde", full(abc, op("binary_append", bin("de"))))
	assert.Equal(t, "abc", full(nil, op("binary_append", bin("abc"))))
	assert.Equal(t, "abcdefghij", full(term(bin("abcdefghij")), op("binary_replace", i(10), i(5), bin("red"))), "past the end")
	assert.Equal(t, "Adefghij", full(term(bin("abcdefghij")), op("binary_replace", i(0), i(3), bin("A"))))
	assert.Equal(t, "abghij", full(term(bin("abcdefghij")), op("binary_erase", i(2), i(4))))
	assert.Equal(t, "ab", full(term(bin("abcdefghij")), op("binary_erase", i(2), i(9))))
	assert.Equal(t, "ab1234cdefghij", full(term(bin("abcdefghij")), op("binary_insert", i(2), bin("1234"))))
	assert.Equal(t, "abcdefghij1234", full(term(bin("abcdefghij")), op("binary_insert", i(10), bin("1234"))))
	assert.Equal(t, "abcdefghij", full(term(bin("abcdefghij")), op("binary_insert", i(11), bin("1234"))))
}

func TestCounter(t *testing.T) {
	v, ok := Counter{}.FullMerge(nil, nil, [][]byte{[]byte("1"), []byte("2"), []byte("-1")})
	assert.True(t, ok)
	assert.Equal(t, "2", string(v))
	v, ok = Counter{}.FullMerge(nil, []byte("40"), [][]byte{[]byte("2")})
	assert.True(t, ok)
	assert.Equal(t, "42", string(v))
	_, ok = Counter{}.FullMerge(nil, []byte("x"), [][]byte{[]byte("2")})
	assert.False(t, ok)
}

func TestBitset(t *testing.T) {
	s := Bitset{Bits: 1024}
	v, ok := s.FullMerge(nil, nil, [][]byte{[]byte("+2")})
	require.True(t, ok)
	assert.Len(t, v, 128)
	assert.Equal(t, byte(32), v[0])
	v, ok = s.FullMerge(nil, v, [][]byte{[]byte("-2"), []byte("+11"), []byte("+10")})
	require.True(t, ok)
	assert.Equal(t, []byte{0, 48}, v[:2])
	v, ok = s.FullMerge(nil, v, [][]byte{[]byte("")})
	require.True(t, ok)
	assert.Equal(t, make([]byte, 128), v)
	_, ok = s.FullMerge(nil, v, [][]byte{[]byte("+5000")})
	assert.False(t, ok, "a bit past the end")
	_, ok = s.FullMerge(nil, []byte{1}, [][]byte{[]byte("+1")})
	assert.False(t, ok, "a value shorter than the bitmap")
}
