package port

import "io"

// EventBuilder appends the term of an unsolicited (id 0) frame.
type EventBuilder func(c Codec, b []byte) []byte

// ReadyEvent is {ready, #{version => V, path => P}}: the database is open.
func ReadyEvent(version, path string) EventBuilder {
	return func(c Codec, b []byte) []byte {
		b = c.mapHeader(c.atom(c.tuple(b, 2), "ready"), 2)
		b = c.str(c.atom(b, "version"), version)
		return c.str(c.atom(b, "path"), path)
	}
}

// ErrorEvent is {error, {Kind, Message}}: the database did not open.
func ErrorEvent(kind, msg string) EventBuilder {
	return func(c Codec, b []byte) []byte {
		b = c.tuple(c.atom(c.tuple(b, 2), "error"), 2)
		return c.str(c.atom(b, kind), msg)
	}
}

// WriteEvent writes one id-0 frame to w, for use before a Server exists.
func WriteEvent(w io.Writer, c Codec, build EventBuilder) error {
	b, start := beginFrame(nil, 0)
	b = build(c, c.begin(b))
	_, err := w.Write(endFrame(b, start))
	return err
}
