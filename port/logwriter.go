package port

import (
	"io"
	"strings"
	"sync"

	"github.com/spiredb/spire-port/port/wire"
)

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
	b, start := wire.BeginFrame(nil, 0)
	b = wire.LogEvent(strings.TrimRight(string(p), "\n"))(srv.codec, srv.codec.Begin(b))
	srv.out.send(wire.EndFrame(b, start))
	srv.out.flush() // log lines are rare; none may be left behind at exit
	return len(p), nil
}
