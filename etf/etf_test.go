package etf

import (
	"encoding/hex"
	"math"
	"math/big"
	"testing"

	"github.com/okeuday/erlang_go/v2/erlang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	return b
}

// Terms as OTP 25's term_to_binary wrote them on this machine.
var otp25 = map[string]string{
	"get":  "8368026400036765746D000000016B",
	"put":  "8368046400037075746D000000016B6D00000001766C00000001680264000473796E63640004747275656A",
	"map":  "83740000000264000A62617463685F73697A65610A6400056C696D69746100",
	"big":  "836E0900000000000000000001",
	"neg":  "8362FFFFFFFF",
	"flt":  "83463FF8000000000000",
	"str":  "836B0003616263",
	"scan": "8368046400047363616E6D000000006D00000006757365723A7E6C00000001680264000A62617463685F73697A6562000003E86A",
	"impr": "836C000000016400016164000162",
	"lat1": "8364000568E96C6C6F",
}

func TestDecodeOTP25Requests(t *testing.T) {
	term, err := Decode(unhex(t, otp25["get"]))
	require.NoError(t, err)
	seq, ok := Seq(term)
	require.True(t, ok)
	name, ok := AtomName(seq[0])
	require.True(t, ok, "ATOM_EXT (100) from OTP 25 is an atom")
	assert.Equal(t, "get", name)
	key, ok := Bytes(seq[1])
	require.True(t, ok)
	assert.Equal(t, []byte("k"), key)

	term, err = Decode(unhex(t, otp25["put"]))
	require.NoError(t, err)
	seq, _ = Seq(term)
	opts, ok := Seq(seq[3])
	require.True(t, ok)
	pair, _ := Seq(opts[0])
	v, _ := AtomName(pair[1])
	assert.Equal(t, "true", v)

	term, err = Decode(unhex(t, otp25["scan"]))
	require.NoError(t, err)
	seq, _ = Seq(term)
	start, _ := Bytes(seq[1])
	assert.Empty(t, start)
	opts, _ = Seq(seq[3])
	pair, _ = Seq(opts[0])
	n, ok := Int(pair[1])
	require.True(t, ok)
	assert.Equal(t, int64(1000), n)

	term, err = Decode(unhex(t, otp25["map"]))
	require.NoError(t, err)
	assert.Len(t, term, 2)

	term, err = Decode(unhex(t, otp25["neg"]))
	require.NoError(t, err)
	n, _ = Int(term)
	assert.Equal(t, int64(-1), n)

	term, err = Decode(unhex(t, otp25["lat1"]))
	require.NoError(t, err)
	_, ok = AtomName(term)
	assert.True(t, ok, "a latin-1 ATOM_EXT decodes")
}

func TestAtomEncodingsAllAccepted(t *testing.T) {
	for _, raw := range []string{
		"836400026F6B", // ATOM_EXT
		"8373026F6B",   // SMALL_ATOM_EXT
		"837600026F6B", // ATOM_UTF8_EXT
		"8377026F6B",   // SMALL_ATOM_UTF8_EXT
	} {
		term, err := Decode(unhex(t, raw))
		require.NoError(t, err, raw)
		name, ok := AtomName(term)
		require.True(t, ok, raw)
		assert.Equal(t, "ok", name, raw)
	}
}

func TestCheckRefuses(t *testing.T) {
	cases := map[string]struct{ hex, want string }{
		"empty":                 {"", "empty term"},
		"no version":            {"6A", "version byte"},
		"version only":          {"83", "tag claims 1 bytes"},
		"binary claims 1 GB":    {"836D40000000" + "00112233445566778899", "binary claims 1073741824 bytes"},
		"list claims 4G":        {"836CFFFFFFFF6A", "list claims"},
		"large tuple claims 4G": {"8369FFFFFFFF", "tuple claims"},
		"map claims 2^31":       {"837480000000", "map claims"},
		"atom cache ref":        {"834E01", "atom cache"},
		"compressed":            {"835000000010789C", "compressed"},
		"bignum 9 bytes":        {otp25["big"], "at most 64 bits"},
		"large big":             {"836F00010000" + "00", "at most 64 bits"},
		"bit binary":            {"834D000000010380", "bit strings"},
		"pid":                   {"835864000D6E6F6E6F6465406E6F686F7374000000000000000000000000", "not accepted"},
		"old float":             {"8363" + "31", "FLOAT_EXT"},
		"trailing bytes":        {"836A6A", "1 bytes after the term"},
		"improper list":         {otp25["impr"], "improper list"},
		"truncated tuple":       {"83680264000367", "atom claims 3 bytes"},
		"binary map key":        {"8374000000016D000000016B6A", "map key"},
		"unknown tag":           {"83FF", "tag 255"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			b := unhex(t, c.hex)
			err := Check(b)
			require.ErrorIs(t, err, ErrMalformed)
			assert.Contains(t, err.Error(), c.want)
			_, err = Decode(b)
			require.ErrorIs(t, err, ErrMalformed, "Decode refuses what Check refuses")
		})
	}
}

func TestCheckRefusesDeepNesting(t *testing.T) {
	deep := []byte{131}
	for i := 0; i < 100_000; i++ {
		deep = append(deep, tagList, 0, 0, 0, 1)
	}
	deep = append(deep, tagNil)
	for i := 0; i < 100_000; i++ {
		deep = append(deep, tagNil)
	}
	err := Check(deep)
	require.ErrorIs(t, err, ErrMalformed)
	assert.Contains(t, err.Error(), "nested deeper than 64")
}

func erlangGo(t *testing.T, term any) []byte {
	t.Helper()
	b, err := erlang.TermToBinary(term, -1)
	require.NoError(t, err)
	return b
}

// The hand-written encoder must write exactly what erlang_go writes.
func TestEncoderMatchesErlangGo(t *testing.T) {
	ints := []int64{0, 1, 255, 256, -1, math.MaxInt32, math.MinInt32, math.MaxInt32 + 1, math.MinInt32 - 1, math.MaxInt64, math.MinInt64 + 1}
	for _, n := range ints {
		var want []byte
		if n > math.MaxInt32 || n < math.MinInt32 {
			want = erlangGo(t, big.NewInt(n))
		} else {
			want = erlangGo(t, int(n))
		}
		assert.Equal(t, want, AppendInt(AppendVersion(nil), n), "int %d", n)
	}
	assert.Equal(t, erlangGo(t, new(big.Int).SetUint64(math.MaxUint64)), AppendUint(AppendVersion(nil), math.MaxUint64))
	assert.Equal(t, erlangGo(t, 1.5), AppendFloat(AppendVersion(nil), 1.5))
	assert.Equal(t, erlangGo(t, erlang.OtpErlangAtomUTF8("ok")), AppendAtom(AppendVersion(nil), "ok"))
	long := string(make([]byte, 300))
	assert.Equal(t, erlangGo(t, erlang.OtpErlangAtomUTF8(long)), AppendAtom(AppendVersion(nil), long))
	assert.Equal(t, erlangGo(t, []byte("v\x00\xff")), AppendBinary(AppendVersion(nil), []byte("v\x00\xff")))
	assert.Equal(t, erlangGo(t, []byte{}), AppendString(AppendVersion(nil), ""))

	// {ok, <<"value">>}: the get reply.
	got := AppendBinary(AppendAtom(AppendTupleHeader(AppendVersion(nil), 2), "ok"), []byte("value"))
	assert.Equal(t, erlangGo(t, erlang.OtpErlangTuple{erlang.OtpErlangAtomUTF8("ok"), []byte("value")}), got)

	// {rows, [{K, V}, ...], 7}: the shape of a scan batch.
	rows := erlang.OtpErlangList{}
	b := AppendAtom(AppendTupleHeader(AppendVersion(nil), 3), "rows")
	b, mark := BeginList(b)
	for i := 0; i < 3; i++ {
		k, v := []byte{byte(i), 0xFF}, []byte("val")
		rows.Value = append(rows.Value, erlang.OtpErlangTuple{k, v})
		b = AppendBinary(AppendBinary(AppendTupleHeader(b, 2), k), v)
	}
	b = AppendInt(EndList(b, mark, 3), 7)
	assert.Equal(t, erlangGo(t, erlang.OtpErlangTuple{erlang.OtpErlangAtomUTF8("rows"), rows, 7}), b)

	empty, mark := BeginList(AppendVersion(nil))
	assert.Equal(t, erlangGo(t, erlang.OtpErlangList{}), EndList(empty, mark, 0))

	big := make(erlang.OtpErlangTuple, 300)
	bb := AppendTupleHeader(AppendVersion(nil), 300)
	for i := range big {
		big[i] = uint8(1)
		bb = AppendInt(bb, 1)
	}
	assert.Equal(t, erlangGo(t, big), bb, "large tuple")

	m := AppendInt(AppendAtom(AppendMapHeader(AppendVersion(nil), 1), "n"), 5)
	assert.Equal(t, erlangGo(t, erlang.OtpErlangMap{erlang.OtpErlangAtomUTF8("n"): 5}), m)
}

func TestEncodedTermsDecode(t *testing.T) {
	b := AppendVersion(nil)
	b = AppendTupleHeader(b, 3)
	b = AppendAtom(b, "error")
	b = AppendUint(b, math.MaxUint64)
	b = AppendListHeader(b, 1)
	b = AppendString(b, "x")
	b = AppendNil(b)
	require.NoError(t, Check(b), "integers up to 64 bits pass the check")
	term, err := Decode(b)
	require.NoError(t, err)
	seq, _ := Seq(term)
	_, ok := Int(seq[1])
	assert.False(t, ok, "2^64-1 does not fit in int64")
	assert.Equal(t, "binary", Describe(erlang.OtpErlangBinary{}))
}

func FuzzDecode(f *testing.F) {
	for _, h := range otp25 {
		b, _ := hex.DecodeString(h)
		f.Add(b)
	}
	f.Add([]byte{131, tagList, 0, 0, 0, 2, tagNil, tagNil, tagNil})
	f.Add([]byte{131, tagMap, 0, 0, 0, 1, tagSmallInteger, 1, tagBinary, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		term, err := Decode(b)
		if err == nil && Check(b) != nil {
			t.Fatalf("Decode accepted what Check refuses")
		}
		_ = Describe(term)
	})
}

func TestDecodeReplyReadsWhatTheEncoderWrites(t *testing.T) {
	b := AppendVersion(nil)
	b = AppendTupleHeader(b, 2)
	b = AppendAtom(b, "ok")
	b = AppendMapHeader(b, 3)
	b = AppendString(b, "rocksdb.block.cache.hit")
	b = AppendUint(b, math.MaxUint64)
	b = AppendAtom(b, "neg")
	b = AppendInt(b, -70000)
	b = AppendAtom(b, "rows")
	b, mark := BeginList(b)
	b = AppendFloat(AppendTupleHeader(b, 1), 2.5)
	b = EndList(b, mark, 1)
	require.Error(t, Check(b), "erlang_go cannot take binary map keys")
	got, err := DecodeReply(b)
	require.NoError(t, err)
	tup := got.(Tuple)
	assert.Equal(t, Atom("ok"), tup[0])
	m := tup[1].(Map)
	v, ok := m.Get("rocksdb.block.cache.hit")
	require.True(t, ok)
	assert.Equal(t, uint64(math.MaxUint64), v)
	v, _ = m.Get("neg")
	assert.Equal(t, int64(-70000), v)
	v, _ = m.Get("rows")
	assert.Equal(t, []any{Tuple{2.5}}, v)

	got, err = DecodeReply(unhex(t, otp25["str"]))
	require.NoError(t, err)
	assert.Equal(t, []any{int64('a'), int64('b'), int64('c')}, got)
	_, err = DecodeReply(unhex(t, "836D40000000"))
	assert.ErrorIs(t, err, ErrMalformed)
}
