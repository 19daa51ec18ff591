package port

import "sync"

// syncer acknowledges sync writes. A write with {sync, true} is applied on
// the reader like any other (so the requests of a stream keep their order
// and it is visible to the reads behind it at once), and its reply waits
// here for an fsync of the WAL that covers it. One fsync covers every sync
// write applied before it began, so concurrent sync writes share one (a
// group commit), and reads never wait behind an fsync. The price, as
// RocksDB puts it for Write followed by SyncWAL: a sync write is visible to
// other readers a moment before it is durable; it is acknowledged only
// after.
type syncer struct {
	mu      sync.Mutex
	pending []uint64 // ids of applied sync writes awaiting an fsync
	wake    chan struct{}
	done    chan struct{}
}

func newSyncer() *syncer {
	return &syncer{wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// await queues the reply of an applied sync write.
func (y *syncer) await(ids ...uint64) {
	y.mu.Lock()
	y.pending = append(y.pending, ids...)
	y.mu.Unlock()
	select {
	case y.wake <- struct{}{}:
	default: // the syncer is already due to run
	}
}

func (y *syncer) take() []uint64 {
	y.mu.Lock()
	defer y.mu.Unlock()
	ids := y.pending
	y.pending = nil
	return ids
}

// run syncs the WAL and answers the writes it covered, until stop.
func (s *Server) runSyncer() {
	y := s.syncer
	defer close(y.done)
	scratch := make([]byte, 0, 4096)
	for range y.wake {
		for ids := y.take(); len(ids) > 0; ids = y.take() {
			err := s.eng.SyncWAL()
			for _, id := range ids {
				scratch = s.replyResult(scratch, id, err)
			}
		}
	}
}

// stopSyncer answers every sync write still waiting, then returns.
func (s *Server) stopSyncer() {
	close(s.syncer.wake)
	<-s.syncer.done
}
