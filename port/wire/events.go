package wire

import "io"

// EventBuilder appends the term of an unsolicited (id 0) frame.
type EventBuilder func(c Codec, b []byte) []byte

// ReadyEvent is {ready, #{version => V, path => P}}: the database is open.
func ReadyEvent(version, path string) EventBuilder {
	return func(c Codec, b []byte) []byte {
		b = c.MapHeader(c.Atom(c.Tuple(b, 2), "ready"), 2)
		b = c.Str(c.Atom(b, "version"), version)
		return c.Str(c.Atom(b, "path"), path)
	}
}

// ErrorEvent is {error, {Kind, Message}}: the database did not open.
func ErrorEvent(kind, msg string) EventBuilder {
	return func(c Codec, b []byte) []byte {
		b = c.Tuple(c.Atom(c.Tuple(b, 2), "error"), 2)
		return c.Str(c.Atom(b, kind), msg)
	}
}

// WriteEvent writes one id-0 frame to w, for use before a Server exists.
func WriteEvent(w io.Writer, c Codec, build EventBuilder) error {
	b, start := BeginFrame(nil, 0)
	b = build(c, c.Begin(b))
	_, err := w.Write(EndFrame(b, start))
	return err
}

// LogEvent is {log, Message}: a log line sent to the port's owner.
func LogEvent(msg string) EventBuilder {
	return func(c Codec, b []byte) []byte {
		return c.Str(c.Atom(c.Tuple(b, 2), "log"), msg)
	}
}

// BackupProgressEvent is {backup_progress, #{dir => Dir, bytes => N}}: a
// backup under way has copied N bytes.
func BackupProgressEvent(dir string, bytes uint64) EventBuilder {
	return func(c Codec, b []byte) []byte {
		b = c.MapHeader(c.Atom(c.Tuple(b, 2), "backup_progress"), 2)
		b = c.Str(c.Atom(b, "dir"), dir)
		return c.Uint(c.Atom(b, "bytes"), bytes)
	}
}
