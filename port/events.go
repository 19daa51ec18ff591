package port

import (
	"io"
	"strings"
	"sync"
)

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

// LogEvent is {log, Message}: a log line sent to the port's owner.
func LogEvent(msg string) EventBuilder {
	return func(c Codec, b []byte) []byte {
		return c.str(c.atom(c.tuple(b, 2), "log"), msg)
	}
}

// LogWriter is an io.Writer for a log.Logger that sends each line as a
// {log, Line} frame with id 0, so the Elixir owner can hand it to Logger.
// Lines written before SetServer go to fallback.
type LogWriter struct {
	mu       sync.Mutex
	srv      *Server
	fallback io.Writer
}

// NewLogWriter writes to fallback until SetServer is called.
func NewLogWriter(fallback io.Writer) *LogWriter { return &LogWriter{fallback: fallback} }

// SetServer routes later lines through s.
func (w *LogWriter) SetServer(s *Server) {
	w.mu.Lock()
	w.srv = s
	w.mu.Unlock()
}

func (w *LogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	srv := w.srv
	w.mu.Unlock()
	if srv == nil {
		return w.fallback.Write(p)
	}
	b, start := beginFrame(nil, 0)
	b = LogEvent(strings.TrimRight(string(p), "\n"))(srv.codec, srv.codec.begin(b))
	srv.out.send(endFrame(b, start))
	srv.out.flush() // log lines are rare; none may be left behind at exit
	return len(p), nil
}
