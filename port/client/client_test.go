package client

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func startClient(t *testing.T, spin time.Duration) *Client {
	t.Helper()
	c, err := Start(StartOptions{Binary: sidecarBinary(t), Path: t.TempDir(), Stderr: os.Stderr, Spin: spin})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestALoneCallPollsForItsReplyAndCountsNothingAfter(t *testing.T) {
	// A spin long enough that every reply comes while the caller polls.
	c := startClient(t, 20*time.Millisecond)
	for i := 0; i < 50; i++ {
		require.NoError(t, c.Put(ctx, []byte("k"), []byte{byte(i)}))
		v, err := c.Get(ctx, []byte("k"))
		require.NoError(t, err)
		assert.Equal(t, []byte{byte(i)}, v, "the polled reply is this call's")
	}
	_, err := c.Get(ctx, []byte("missing"))
	assert.ErrorIs(t, err, ErrNotFound)
	assert.GreaterOrEqual(t, c.polled.Load(), uint64(100), "sequential calls take their replies by polling")

	rows, err := c.Scan(ctx, nil, nil)
	require.NoError(t, err)
	assert.Len(t, rows, 1)
	assert.Zero(t, c.inflight.Load(), "every request registered was let go")
}

func TestConcurrentCallsAllGetTheirOwnReplies(t *testing.T) {
	c := startClient(t, 20*time.Millisecond)
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			key := []byte{byte(g)}
			for i := 0; i < 200; i++ {
				assert.NoError(t, c.Put(ctx, key, []byte{byte(i)}))
				v, err := c.Get(ctx, key)
				assert.NoError(t, err)
				assert.Equal(t, []byte{byte(i)}, v)
			}
		}(g)
	}
	wg.Wait()
	assert.Zero(t, c.inflight.Load())
}

func TestPollingStopsWhenTheSidecarDies(t *testing.T) {
	c := startClient(t, time.Second)
	require.NoError(t, c.Ping(ctx))
	polledBefore := c.polled.Load()
	require.NoError(t, c.cmd.Process.Kill())
	<-c.Down()
	err := c.Ping(ctx)
	assert.True(t, errors.Is(err, ErrEngineDown), "got %v", err)
	assert.Equal(t, polledBefore, c.polled.Load(), "nothing to poll once the reader is gone")
}

func TestANegativeSpinNeverPolls(t *testing.T) {
	c := startClient(t, -1)
	for i := 0; i < 20; i++ {
		require.NoError(t, c.Ping(ctx))
	}
	assert.Zero(t, c.polled.Load())
}

// ctx is the context of the calls that need no deadline of their own.
var ctx = context.Background()

func TestAnEndedContextFailsTheCallAndTheClientGoesOn(t *testing.T) {
	c := startClient(t, 0)
	done, cancel := context.WithCancel(ctx)
	cancel()
	_, err := c.Get(done, []byte("k"))
	assert.ErrorIs(t, err, context.Canceled)
	short, cancel2 := context.WithTimeout(ctx, time.Nanosecond)
	defer cancel2()
	time.Sleep(time.Millisecond)
	assert.ErrorIs(t, c.Ping(short), context.DeadlineExceeded)
	require.NoError(t, c.Put(ctx, []byte("k"), []byte("v")), "the client goes on after dropped replies")
	v, err := c.Get(ctx, []byte("k"))
	require.NoError(t, err)
	assert.Equal(t, "v", string(v))
}

func TestMergeGoesToTheSidecarsMergeOperator(t *testing.T) {
	c, err := Start(StartOptions{Binary: sidecarBinary(t), Path: t.TempDir(), Stderr: os.Stderr,
		Args: []string{"--merge-operator", "counter"}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	require.NoError(t, c.Merge(ctx, []byte("n"), []byte("40")))
	require.NoError(t, c.Merge(ctx, []byte("n"), []byte("2")))
	v, err := c.Get(ctx, []byte("n"))
	require.NoError(t, err)
	assert.Equal(t, "42", string(v))
}
