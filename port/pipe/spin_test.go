package pipe

import (
	"io"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSpinReaderReadsSpinsParksAndSeesEOF(t *testing.T) {
	pr, pw, err := os.Pipe()
	require.NoError(t, err)
	r, err := NewSpinReader(pr, 200*time.Microsecond)
	require.NoError(t, err)

	go func() {
		pw.Write([]byte("hello"))
		time.Sleep(20 * time.Millisecond) // long enough to park
		pw.Write([]byte(" world"))
		pw.Close()
	}()
	got, err := io.ReadAll(r)
	require.NoError(t, err)
	assert.Equal(t, "hello world", string(got))
	assert.Greater(t, r.Parks, uint64(0), "a long gap parks the reader")
	assert.Greater(t, r.Spins, uint64(0), "a short gap is spun through")
}

// After a burst of several requests the reader parks after BusySpin; after
// a lone one it spins for Spin, here longer than the gap before the data.
func TestSpinReaderSpinsLessAfterABurst(t *testing.T) {
	read := func(burst int) *SpinReader {
		pr, pw, err := os.Pipe()
		require.NoError(t, err)
		defer pr.Close()
		r, err := NewSpinReader(pr, time.Minute)
		require.NoError(t, err)
		r.BusySpin = 0
		r.Burst(burst)
		go func() {
			time.Sleep(20 * time.Millisecond)
			pw.Write([]byte("x"))
			pw.Close()
		}()
		buf := make([]byte, 1)
		n, err := r.Read(buf)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		return r
	}
	lone := read(1)
	assert.Zero(t, lone.Parks, "after a lone request the reader spins through the gap")
	assert.Greater(t, lone.Spins, uint64(0))
	busy := read(3)
	assert.Equal(t, uint64(1), busy.Parks, "after a burst the reader parks at once")
	assert.Zero(t, busy.Spins)
}
