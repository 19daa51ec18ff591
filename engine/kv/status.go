package kv

import "strings"

// Kind is the class of a RocksDB status, named as the atoms of the
// protocol would name it.
type Kind string

// The classes of RocksDB status.
const (
	KindIO              Kind = "io_error"
	KindCorruption      Kind = "corruption"
	KindInvalidArgument Kind = "invalid_argument"
	KindNotSupported    Kind = "not_supported"
	KindBusy            Kind = "busy"
	KindTimedOut        Kind = "timed_out"
	KindIncomplete      Kind = "incomplete"
	KindAborted         Kind = "aborted"
	KindTryAgain        Kind = "try_again"
	KindNotFound        Kind = "not_found"
	KindOther           Kind = "other"
)

// statusPrefixes maps RocksDB's Status::ToString prefixes to a Kind.
var statusPrefixes = []struct {
	prefix string
	kind   Kind
}{
	{"IO error", KindIO},
	{"Corruption", KindCorruption},
	{"Invalid argument", KindInvalidArgument},
	{"Not implemented", KindNotSupported},
	{"Operation not supported", KindNotSupported},
	{"Resource busy", KindBusy},
	{"Operation timed out", KindTimedOut},
	{"Result incomplete", KindIncomplete},
	{"Operation aborted", KindAborted},
	{"Operation failed. Try again.", KindTryAgain},
	{"NotFound", KindNotFound},
}

// KindOfStatus classifies RocksDB's status text (what {rocksdb, Msg}
// carries).
func KindOfStatus(msg string) Kind {
	for _, p := range statusPrefixes {
		if strings.HasPrefix(msg, p.prefix) {
			return p.kind
		}
	}
	return KindOther
}
