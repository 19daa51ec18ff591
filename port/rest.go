package port

import (
	"time"

	"github.com/spiredb/spire-port/engine"
)

// restCheck is how often the reaper looks for a quiet spell in which to
// return freed native memory to the OS (see restTrimmer).
const restCheck = time.Second

// restTrimmer decides when to trim: at each of the first restTrimEvery
// checks of a quiet spell (flushes and compactions still free memory in
// the seconds after the last request), then every restTrimEvery checks
// while it lasts, and never while requests flow. A busy sidecar reuses
// what RocksDB frees (the next memtable fills the pages of the last; see
// engine.KeepFreedMemory), and a trim under load would only make it fault
// them in again.
type restTrimmer struct {
	seen  uint64 // requests counted at the last check
	quiet int    // checks in a row without a request
}

// restTrimEvery is both how many quiet checks in a row trim and how many
// apart the trims are after them.
const restTrimEvery = 5

// check reports whether to trim now, given the request count.
func (t *restTrimmer) check(requests uint64) bool {
	if requests != t.seen {
		t.seen, t.quiet = requests, 0
		return false
	}
	t.quiet++
	return t.quiet <= restTrimEvery || t.quiet%restTrimEvery == 0
}

func (s *Server) reaper() {
	// A negative timeout never reaps: a nil channel never fires.
	var idle <-chan time.Time
	if s.opt.IdleTimeout > 0 {
		tick := time.NewTicker(max(s.opt.IdleTimeout/4, 50*time.Millisecond))
		defer tick.Stop()
		idle = tick.C
	}
	// Memory freed by RocksDB goes back to the OS when the sidecar is at
	// rest, so its RSS then follows what is in use, not the high-water mark.
	trim := time.NewTicker(restCheck)
	defer trim.Stop()
	var rest restTrimmer
	for {
		select {
		case <-s.done:
			return
		case <-trim.C:
			if rest.check(s.requests.Load()) {
				engine.TrimMemory()
			}
		case now := <-idle:
			cutoff := now.Add(-s.opt.IdleTimeout)
			if n := s.cursors.reap(cutoff) + s.snapshots.reap(cutoff) + s.txns.reap(cutoff); n > 0 {
				s.opt.Log.Printf("closed %d idle cursors and snapshots", n)
			}
		}
	}
}
