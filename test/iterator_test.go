package test

import (
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/spiredb/spire-port/etf"
	"github.com/spiredb/spire-port/port/client"
	"github.com/spiredb/spire-port/port/client/clienttest"
	"github.com/spiredb/spire-port/port/wire/wiretest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func atomArg(a string) func([]byte) []byte {
	return func(b []byte) []byte { return etf.AppendAtom(b, a) }
}

func intArg(n int64) func([]byte) []byte { return func(b []byte) []byte { return etf.AppendInt(b, n) } }

func keyed(move, key string) func([]byte) []byte {
	return func(b []byte) []byte { return bin(etf.AppendAtom(etf.AppendTupleHeader(b, 2), move), key) }
}

// opts is a proplist of {Name, Value} options.
func opts(pairs ...func([]byte) []byte) func([]byte) []byte {
	return func(b []byte) []byte {
		if len(pairs) == 0 {
			return etf.AppendNil(b)
		}
		b = etf.AppendListHeader(b, len(pairs))
		for _, p := range pairs {
			b = p(b)
		}
		return etf.AppendNil(b)
	}
}

func opt(name string, value func([]byte) []byte) func([]byte) []byte {
	return func(b []byte) []byte { return value(etf.AppendAtom(etf.AppendTupleHeader(b, 2), name)) }
}

// moveRows sends one iterator_move and returns the keys and More.
func moveRows(t *testing.T, s *sidecar, id uint64, itr int64, move func([]byte) []byte, o func([]byte) []byte) ([]string, bool) {
	t.Helper()
	reply := roundTrip(t, s, id, req("iterator_move", intArg(itr), move, o))
	tup, ok := reply.(etf.Tuple)
	require.True(t, ok && len(tup) == 3 && tup[0] == etf.Atom("ok"), "reply %v", reply)
	var keys []string
	switch rows := tup[1].(type) {
	case []byte: // packed
		for len(rows) > 0 {
			kl := binary.BigEndian.Uint32(rows)
			keys = append(keys, string(rows[4:4+kl]))
			vl := binary.BigEndian.Uint32(rows[4+kl:])
			rows = rows[8+kl+vl:]
		}
	default:
		for _, r := range asList(rows) {
			keys = append(keys, string(r.(etf.Tuple)[0].([]byte)))
		}
	}
	return keys, tup[2] == etf.Atom("true")
}

func asList(v any) []any {
	switch l := v.(type) {
	case []any:
		return l
	case etf.Tuple:
		return l
	}
	return nil
}

func TestIteratorOpsOnTheWire(t *testing.T) {
	s := start(t, "", "etf", "--max-iterators", "3")
	for i := 0; i < 50; i++ {
		require.NoError(t, s.Put(ctx, []byte(fmt.Sprintf("k%02d", i)), []byte("v")))
	}
	reply := roundTrip(t, s, 1, req("iterator", opts(opt("iterate_upper_bound", binArg("k40")), opt("fill_cache", atomArg("false")))))
	itr := reply.(etf.Tuple)[1].(int64)
	require.NoError(t, s.Put(ctx, []byte("k00a"), []byte("late")))

	keys, more := moveRows(t, s, 2, itr, keyed("seek", "k10"), opts(opt("ahead", intArg(2))))
	assert.Equal(t, []string{"k10", "k11", "k12"}, keys)
	assert.True(t, more)
	keys, _ = moveRows(t, s, 3, itr, atomArg("next"), opts(opt("ahead", intArg(1)), opt("packed", atomArg("true"))))
	assert.Equal(t, []string{"k13", "k14"}, keys, "next goes on after the rows read ahead")
	keys, _ = moveRows(t, s, 4, itr, keyed("prev", "k13"), opts())
	assert.Equal(t, []string{"k12"}, keys)
	keys, _ = moveRows(t, s, 5, itr, atomArg("first"), opts(opt("ahead", intArg(1))))
	assert.Equal(t, []string{"k00", "k01"}, keys, "the write after the iterator was made is not seen")
	keys, more = moveRows(t, s, 6, itr, atomArg("last"), opts(opt("ahead", intArg(1))))
	assert.Equal(t, []string{"k39", "k38"}, keys, "last respects the upper bound and reads backwards")
	assert.True(t, more)
	keys, more = moveRows(t, s, 7, itr, keyed("seek", "zzz"), opts())
	assert.Empty(t, keys)
	assert.False(t, more)

	assert.Equal(t, etf.Atom("ok"), roundTrip(t, s, 8, req("iterator_refresh", intArg(itr))))
	keys, _ = moveRows(t, s, 9, itr, keyed("seek", "k00"), opts(opt("ahead", intArg(1))))
	assert.Equal(t, []string{"k00", "k00a"}, keys, "a refreshed iterator sees the later write")

	reason, _ := reasonOf(roundTrip(t, s, 10, req("iterator_move", intArg(itr), keyed("bogus", "k"), opts())))
	assert.Equal(t, "badarg", reason)
	reason, _ = reasonOf(roundTrip(t, s, 11, req("iterator", opts(opt("iterate_lower_bound", binArg("z")), opt("iterate_upper_bound", binArg("a"))))))
	assert.Equal(t, "badarg", reason, "reversed bounds")

	assert.Equal(t, etf.Atom("ok"), roundTrip(t, s, 12, req("iterator_close", intArg(itr))))
	reply = roundTrip(t, s, 13, req("iterator_move", intArg(itr), atomArg("first"), opts()))
	assert.Equal(t, etf.Tuple{etf.Atom("error"), etf.Tuple{etf.Atom("unknown_iterator"), itr}}, reply)
	assert.Equal(t, etf.Atom("ok"), roundTrip(t, s, 14, req("iterator_close", intArg(itr))), "closing twice is fine")

	for i := 0; i < 3; i++ {
		roundTrip(t, s, uint64(20+i), req("iterator", opts()))
	}
	reply = roundTrip(t, s, 30, req("iterator", opts()))
	assert.Equal(t, etf.Tuple{etf.Atom("error"), etf.Atom("too_many_iterators")}, reply, "iterators share the cursors' bound")
}

// An iterator whose id the caller chose: made by a request nobody waits
// for (id 0), then moved at once; a taken or out-of-range id is refused,
// and a move on an id whose creation failed finds no iterator.
func TestIteratorWithAChosenID(t *testing.T) {
	s := start(t, "", "etf", "--max-iterators", "2")
	for i := 0; i < 5; i++ {
		require.NoError(t, s.Put(ctx, []byte(fmt.Sprintf("k%d", i)), []byte("v")))
	}
	const chosen = int64(1)<<40 + 7
	require.NoError(t, clienttest.WriteFrame(s.Client, wiretest.Frame(0, req("iterator", opts(opt("as", intArg(chosen)))))))
	keys, more := moveRows(t, s, 1, chosen, keyed("seek", "k1"), opts(opt("ahead", intArg(1))))
	assert.Equal(t, []string{"k1", "k2"}, keys)
	assert.True(t, more)

	reason, _ := reasonOf(roundTrip(t, s, 2, req("iterator", opts(opt("as", intArg(chosen))))))
	assert.Equal(t, "badarg", reason, "a taken id")
	for _, bad := range []int64{1, 1<<40 - 1, 1 << 58} {
		reason, _ = reasonOf(roundTrip(t, s, 3, req("iterator", opts(opt("as", intArg(bad))))))
		assert.Equal(t, "badarg", reason, "id %d", bad)
	}
	roundTrip(t, s, 4, req("iterator", opts())) // the second of two
	require.NoError(t, clienttest.WriteFrame(s.Client, wiretest.Frame(0, req("iterator", opts(opt("as", intArg(chosen+1)))))))
	reply := roundTrip(t, s, 5, req("iterator_move", intArg(chosen+1), atomArg("first"), opts()))
	assert.Equal(t, etf.Tuple{etf.Atom("error"), etf.Tuple{etf.Atom("unknown_iterator"), chosen + 1}}, reply,
		"the table was full: no iterator under that id")
	assert.Equal(t, etf.Atom("ok"), roundTrip(t, s, 6, req("iterator_close", intArg(chosen))))
}

func TestDataDirAndListColumnFamilies(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	s := start(t, t.TempDir(), "etf", "--data-dir", dir, "--column-family", "extra")
	require.NoError(t, s.Put(ctx, []byte("k"), []byte("v")))
	_, err := os.Stat(filepath.Join(dir, "CURRENT"))
	require.NoError(t, err, "RocksDB lives in exactly --data-dir")
	require.NoError(t, s.Close())

	out, err := exec.Command(sidecarBinary, "--path", t.TempDir(), "--data-dir", dir, "--list-column-families").Output()
	require.NoError(t, err)
	term, err := etf.DecodeReply(out)
	require.NoError(t, err)
	names := []string{}
	for _, n := range asList(term.(etf.Tuple)[1]) {
		names = append(names, client.Text(n))
	}
	assert.ElementsMatch(t, []string{"default", "extra"}, names)

	out, _ = exec.Command(sidecarBinary, "--path", t.TempDir(), "--list-column-families").Output()
	term, err = etf.DecodeReply(out)
	require.NoError(t, err)
	assert.Equal(t, etf.Atom("error"), term.(etf.Tuple)[0], "no database there")
}
