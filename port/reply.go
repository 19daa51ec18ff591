package port

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"github.com/spiredb/spire-port/engine"
	"github.com/spiredb/spire-port/etf"
	"github.com/spiredb/spire-port/port/wire"
)

// reply builds one frame with build and queues it.
func (s *Server) reply(scratch []byte, id uint64, build func(c wire.Codec, b []byte) []byte) []byte {
	b, start := wire.BeginFrame(scratch[:0], id)
	b = build(s.codec, s.codec.Begin(b))
	s.out.send(wire.EndFrame(b, start))
	return b
}

func (s *Server) replyOK(scratch []byte, id uint64) []byte {
	return s.reply(scratch, id, func(c wire.Codec, b []byte) []byte { return c.Atom(b, "ok") })
}

// replyError encodes err as {error, Reason}.
func (s *Server) replyError(scratch []byte, id uint64, err error) []byte {
	return s.reply(scratch, id, func(c wire.Codec, b []byte) []byte {
		return AppendErrorTerm(c, b, err)
	})
}

func (s *Server) replyResult(scratch []byte, id uint64, err error) []byte {
	if err != nil {
		return s.replyError(scratch, id, err)
	}
	return s.replyOK(scratch, id)
}

// replyList replies {ok, [Item]} for items, each encoded by item, or the
// error when err is set.
func replyList[T any](s *Server, scratch []byte, id uint64, items []T, err error, item func(c wire.Codec, b []byte, v T) []byte) []byte {
	if err != nil {
		return s.replyError(scratch, id, err)
	}
	return s.reply(scratch, id, func(c wire.Codec, b []byte) []byte {
		b = c.List(c.Atom(c.Tuple(b, 2), "ok"), len(items))
		for _, v := range items {
			b = item(c, b, v)
		}
		return c.ListEnd(b, len(items))
	})
}

func (s *Server) replyID(scratch []byte, id, v uint64) []byte {
	return s.reply(scratch, id, func(c wire.Codec, b []byte) []byte {
		return c.Uint(c.Atom(c.Tuple(b, 2), "ok"), v)
	})
}

// AppendErrorTerm appends err as {error, Reason}, Reason being its wire
// reason (the one-shot backup commands print the same):
//
//	not_found | closed | too_many_iterators | too_many_snapshots
//	{badarg, Msg} | {unknown_column_family, Name} | {unknown_cursor, Id}
//	{unknown_snapshot, Id} | {unknown_iterator, Id} | {no_backups, Msg}
//	{rocksdb, Msg} | {io_error, Msg} | {internal, Msg}
func AppendErrorTerm(c wire.Codec, b []byte, err error) []byte {
	b = c.Atom(c.Tuple(b, 2), "error")
	var cfErr *engine.UnknownColumnFamilyError
	var rdb *engine.RocksDBError
	var idErr *unknownIDError
	switch {
	case errors.Is(err, engine.ErrNotFound):
		return c.Atom(b, "not_found")
	case errors.Is(err, engine.ErrClosed):
		return c.Atom(b, "closed")
	case errors.Is(err, errTooManyIterators):
		return c.Atom(b, "too_many_iterators")
	case errors.Is(err, errTooManySnapshots):
		return c.Atom(b, "too_many_snapshots")
	case errors.As(err, &cfErr):
		return c.Str(c.Atom(c.Tuple(b, 2), "unknown_column_family"), cfErr.Name)
	case errors.As(err, &idErr):
		return c.Uint(c.Atom(c.Tuple(b, 2), idErr.kind), idErr.id)
	case errors.Is(err, engine.ErrNoBackups):
		return c.Str(c.Atom(c.Tuple(b, 2), "no_backups"), err.Error())
	case errors.Is(err, engine.ErrDatabaseInUse):
		return c.Str(c.Atom(c.Tuple(b, 2), "io_error"), err.Error())
	case errors.As(err, &rdb):
		return c.Str(c.Atom(c.Tuple(b, 2), "rocksdb"), rdb.Msg)
	case isBadArg(err):
		return c.Str(c.Atom(c.Tuple(b, 2), "badarg"), err.Error())
	case isIOError(err):
		return c.Str(c.Atom(c.Tuple(b, 2), "io_error"), err.Error())
	}
	return c.Str(c.Atom(c.Tuple(b, 2), "internal"), err.Error())
}

// isBadArg reports whether err is a caller mistake rather than a failure.
func isBadArg(err error) bool {
	var b *wire.BadArg
	return errors.As(err, &b) || errors.Is(err, etf.ErrMalformed) || errors.Is(err, engine.ErrInvalidArgument)
}

// isIOError reports whether err is the file system's refusal (a path that
// is a file, no permission, no space) or a database another opener holds:
// the caller's environment, not a bug.
func isIOError(err error) bool {
	var pathErr *fs.PathError
	var linkErr *os.LinkError
	var sysErr *os.SyscallError
	var errno syscall.Errno
	return errors.Is(err, engine.ErrDatabaseInUse) || errors.As(err, &pathErr) || errors.As(err, &linkErr) ||
		errors.As(err, &sysErr) || errors.As(err, &errno)
}

var (
	errTooManyIterators = errors.New("port: too many open iterators")
	errTooManySnapshots = errors.New("port: too many open snapshots")
)

type unknownIDError struct {
	kind string // unknown_cursor | unknown_snapshot
	id   uint64
}

func (e *unknownIDError) Error() string { return fmt.Sprintf("port: %s %d", e.kind, e.id) }
