package client

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/spiredb/spire-port/engine/kv"
	"github.com/spiredb/spire-port/etf"
)

// Client errors.
var (
	// ErrEngineDown means the sidecar exited or its pipes closed.
	ErrEngineDown = errors.New("port: engine down")
	// ErrNotFound is the not_found reply.
	ErrNotFound = errors.New("port: not found")
)

// ReplyError is an {error, Reason} reply other than not_found.
type ReplyError struct {
	Reason any // e.g. etf.Tuple{etf.Atom("badarg"), []byte("...")}
}

func (e *ReplyError) Error() string {
	return fmt.Sprintf("port: error reply: %s", formatTerm(e.Reason))
}

// Kind is the reason's tag: "badarg", "rocksdb", "closed", ...
func (e *ReplyError) Kind() string {
	switch r := e.Reason.(type) {
	case etf.Atom:
		return string(r)
	case etf.Tuple:
		if a, ok := r[0].(etf.Atom); ok {
			return string(a)
		}
	}
	return ""
}

// Class is the class of a RocksDB failure ({rocksdb, Msg}, classified by
// Msg's status prefix: kv.KindCorruption, kv.KindIO, ...), or "" for any
// other reason.
func (e *ReplyError) Class() kv.Kind {
	if t, ok := e.Reason.(etf.Tuple); ok && len(t) == 2 && t[0] == etf.Atom("rocksdb") {
		return kv.KindOfStatus(Text(t[1]))
	}
	return ""
}

func formatTerm(t any) string {
	switch v := t.(type) {
	case []byte:
		return fmt.Sprintf("%q", v)
	case etf.Tuple:
		var b bytes.Buffer
		b.WriteByte('{')
		for i, e := range v {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(formatTerm(e))
		}
		b.WriteByte('}')
		return b.String()
	}
	return fmt.Sprint(t)
}
