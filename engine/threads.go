package engine

import (
	"fmt"

	"github.com/linxGnu/grocksdb"
)

// SetBackgroundThreads sizes one of the thread pools of RocksDB's default
// env, which every database of this process runs on (the in-memory env
// wraps it): compactions run in the low-priority pool, flushes in the high
// one. RocksDB still grows a pool to a database's max_background_jobs when
// it opens.
func SetBackgroundThreads(n int, high bool) error {
	if n < 0 {
		return fmt.Errorf("%w: background threads must be >= 0, got %d", ErrInvalidArgument, n)
	}
	env := grocksdb.NewDefaultEnv()
	defer env.Destroy()
	if high {
		env.SetHighPriorityBackgroundThreads(n)
	} else {
		env.SetBackgroundThreads(n)
	}
	return nil
}

// BackgroundThreads is the size of the default env's low- or high-priority
// pool.
func BackgroundThreads(high bool) int {
	env := grocksdb.NewDefaultEnv()
	defer env.Destroy()
	if high {
		return env.GetHighPriorityBackgroundThreads()
	}
	return env.GetBackgroundThreads()
}
