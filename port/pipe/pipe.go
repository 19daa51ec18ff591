package pipe

import (
	"os"
	"syscall"
)

// GrowPipe asks the kernel for a pipe buffer of size bytes on f, when f is
// a pipe (F_SETPIPE_SZ; unprivileged processes get up to
// /proc/sys/fs/pipe-max-size, 1 MiB by default). With the default 64 KiB a
// scan batch of ~130 KB needs several writer/reader hand-offs, each a
// wake-up that costs tens of µs on a VM. It returns the size in force.
func GrowPipe(f *os.File, size int) (int, error) {
	const fSetPipeSz, fGetPipeSz = 1031, 1032
	fd := f.Fd()
	if _, _, errno := syscall.Syscall(syscall.SYS_FCNTL, fd, fSetPipeSz, uintptr(size)); errno != 0 {
		return 0, errno
	}
	n, _, errno := syscall.Syscall(syscall.SYS_FCNTL, fd, fGetPipeSz, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}
