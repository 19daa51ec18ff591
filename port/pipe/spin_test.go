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
