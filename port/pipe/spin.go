package pipe

import (
	"io"
	"os"
	"runtime"
	"syscall"
	"time"
	"unsafe"
)

// SpinReader reads a file descriptor that it puts in non-blocking mode: when
// no bytes are waiting it keeps trying (yielding the CPU between tries) for
// up to Spin before it parks in poll(2). On a virtual machine a thread that
// parks on an idle vCPU takes long to wake (README, Performance); a request
// that arrives while the reader still spins is picked up at once. The price is CPU while
// idle-but-recently-busy: at most Spin per request burst.
type SpinReader struct {
	fd   int
	Spin time.Duration
	// BusySpin replaces Spin after a burst of several requests (see
	// Burst): several callers are waiting on the other side, whose
	// process may need the CPU more than this reader needs to wake at
	// once. A lone caller's next request comes a round trip after its
	// reply, which a parked reader would add a wake-up to. NewSpinReader
	// sets it to Spin, so a burst changes nothing until it is lowered.
	BusySpin time.Duration
	busy     bool
	// Gosched makes each try also yield to the goroutines of this P: a
	// client's callers, made runnable by the reply just read, run at once
	// instead of after the spin.
	Gosched bool
	// Spins and Parks count reads answered while spinning and reads that
	// had to park, for the benchmarks.
	Spins, Parks uint64
}

// NewSpinReader makes f non-blocking and reads it with a spin of d. The
// file must not be read through f (or os.Stdin) afterwards.
func NewSpinReader(f *os.File, d time.Duration) (*SpinReader, error) {
	fd := int(f.Fd())
	if err := syscall.SetNonblock(fd, true); err != nil {
		return nil, err
	}
	return &SpinReader{fd: fd, Spin: d, BusySpin: d}, nil
}

func (r *SpinReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	var began time.Time
	for {
		n, err := syscall.Read(r.fd, p)
		switch {
		case err == nil && n == 0:
			return 0, io.EOF
		case err == nil:
			return n, nil
		case err == syscall.EINTR:
			continue
		case err != syscall.EAGAIN:
			return 0, err
		}
		if began.IsZero() {
			began = time.Now()
		}
		if time.Since(began) < r.spin() {
			r.Spins++
			if r.Gosched {
				runtime.Gosched()
			}
			_, _, _ = syscall.RawSyscall(syscall.SYS_SCHED_YIELD, 0, 0, 0)
			continue
		}
		r.Parks++
		if err := waitReadable(r.fd); err != nil {
			return 0, err
		}
		began = time.Time{}
	}
}

// Burst tells the reader how many requests the input it read since the
// last wait held, before it waits again: more than one means several
// callers, and the next wait spins BusySpin at most.
func (r *SpinReader) Burst(requests int) { r.busy = requests > 1 }

func (r *SpinReader) spin() time.Duration {
	if r.busy && r.BusySpin < r.Spin {
		return r.BusySpin
	}
	return r.Spin
}

// DefaultSpin is the spin of the sidecar's reader (--spin) and of the Go
// client's reply reader.
const DefaultSpin = 50 * time.Microsecond

type pollFd struct {
	fd      int32
	events  int16
	revents int16
}

const pollIn = 0x1

// waitReadable blocks in poll(2) until fd is readable, closed or in error.
func waitReadable(fd int) error {
	pfd := pollFd{fd: int32(fd), events: pollIn}
	for {
		_, _, errno := syscall.Syscall(syscall.SYS_POLL, uintptr(unsafe.Pointer(&pfd)), 1, ^uintptr(0))
		if errno == 0 {
			return nil
		}
		if errno != syscall.EINTR {
			return errno
		}
	}
}
