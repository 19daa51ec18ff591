package wire

import (
	"strings"
)

// Bounds of a file name a request or command may carry, as Linux takes
// them (PATH_MAX and NAME_MAX): a longer one would fail half-way, after
// some of its directories were made.
const (
	MaxPathBytes      = 4095
	MaxPathComponentB = 255
)

// CheckPath refuses a path no file system call should see: empty, with a
// NUL byte (C would read a shorter path than the one checked), longer than
// MaxPathBytes or with a component longer than MaxPathComponentB. what
// names the request in the error.
func CheckPath(what, path string) error {
	switch {
	case path == "":
		return Badf("%s: an empty path", what)
	case strings.IndexByte(path, 0) >= 0:
		return Badf("%s: the path contains a NUL byte", what)
	case len(path) > MaxPathBytes:
		return Badf("%s: the path is %d bytes long, above the maximum %d", what, len(path), MaxPathBytes)
	}
	for _, part := range strings.Split(path, "/") {
		if len(part) > MaxPathComponentB {
			return Badf("%s: a path component is %d bytes long, above the maximum %d", what, len(part), MaxPathComponentB)
		}
	}
	return nil
}
