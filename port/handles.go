package port

import (
	"sync"
	"sync/atomic"
	"time"
)

// handles is a bounded table of server-side resources (cursors, snapshots)
// addressed by id. Entries idle for longer than the timeout are closed by
// reap, so a caller that vanished leaks nothing.
type handles[T any] struct {
	mu      sync.Mutex
	entries map[uint64]*handle[T]
	next    atomic.Uint64
	max     int
	close   func(T)
}

type handle[T any] struct {
	v    T
	used time.Time
}

func newHandles[T any](max int, close func(T)) *handles[T] {
	return &handles[T]{entries: make(map[uint64]*handle[T]), max: max, close: close}
}

// add stores v and returns its id; when the table is full it closes v and
// returns full.
func (h *handles[T]) add(v T, full error) (uint64, error) {
	h.mu.Lock()
	if len(h.entries) >= h.max {
		h.mu.Unlock()
		h.close(v)
		return 0, full
	}
	id := h.next.Add(1)
	h.entries[id] = &handle[T]{v: v, used: time.Now()}
	h.mu.Unlock()
	return id, nil
}

// addAs stores v under the id its caller chose; when that id is taken or
// the table is full it closes v and returns taken or full.
func (h *handles[T]) addAs(id uint64, v T, full, taken error) error {
	h.mu.Lock()
	_, exists := h.entries[id]
	if exists || len(h.entries) >= h.max {
		h.mu.Unlock()
		h.close(v)
		if exists {
			return taken
		}
		return full
	}
	h.entries[id] = &handle[T]{v: v, used: time.Now()}
	h.mu.Unlock()
	return nil
}

// get returns the entry and marks it used.
func (h *handles[T]) get(id uint64) (T, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e, ok := h.entries[id]
	if !ok {
		var zero T
		return zero, false
	}
	e.used = time.Now()
	return e.v, true
}

// remove closes and forgets an entry; it reports whether it existed.
func (h *handles[T]) remove(id uint64) bool {
	h.mu.Lock()
	e, ok := h.entries[id]
	delete(h.entries, id)
	h.mu.Unlock()
	if ok {
		h.close(e.v)
	}
	return ok
}

// reap closes entries unused since before cutoff and returns how many.
func (h *handles[T]) reap(cutoff time.Time) int {
	h.mu.Lock()
	var stale []T
	for id, e := range h.entries {
		if e.used.Before(cutoff) {
			stale = append(stale, e.v)
			delete(h.entries, id)
		}
	}
	h.mu.Unlock()
	for _, v := range stale {
		h.close(v)
	}
	return len(stale)
}

// closeAll closes every entry.
func (h *handles[T]) closeAll() {
	h.reap(time.Now().Add(time.Hour))
}

func (h *handles[T]) len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.entries)
}
