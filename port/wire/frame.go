package wire

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

const (
	HeaderSize = 4 // the {packet, 4} length
	IDSize     = 8 // the request id that starts every packet
)

// MoreFlag is set in the id of every frame of a multi-frame reply (a scan)
// but the last, so the port's owner knows, without decoding, when it may
// forget the request. Request ids must therefore be below 2^63.
const MoreFlag = uint64(1) << 63

// BatchID is the id of a frame that carries several reply frames, one
// after the other, each with its own length and id. The sidecar sends one
// when several replies are ready at once, so the port's owner handles one
// message instead of many.
const BatchID = ^uint64(0)

// DefaultMaxFrame is the default bound on one packet, in bytes.
const DefaultMaxFrame = 64 << 20

// Framing errors.
var (
	// ErrFrameTooLarge means a packet's declared length exceeds the limit;
	// its bytes were skipped, so the stream is still in sync.
	ErrFrameTooLarge = errors.New("port: frame too large")
	// ErrShortPacket means a packet is too short to hold its id; it was
	// skipped.
	ErrShortPacket = errors.New("port: packet shorter than its 8-byte id")
)

// readFrame reads one packet into buf (grown as needed) and returns the id
// and the term bytes. On ErrFrameTooLarge the id is valid (when the packet
// had one) and the rest of the packet has been discarded. Any other error
// (io.EOF, io.ErrUnexpectedEOF) means the stream is over.
func ReadFrame(r *bufio.Reader, buf []byte, maxFrame int) (id uint64, body, newBuf []byte, err error) {
	return readFrame(r, buf, maxFrame, false)
}

// BatchTooLarge is what ReadRequestFrame returns for a batch frame longer
// than the limit: its Remaining bytes (the entries) are left unread, to be
// taken one at a time with ReadBatchEntry, so that every request in it is
// answered and only one larger than the limit is refused.
type BatchTooLarge struct {
	Size, Limit, Remaining int64
}

func (e *BatchTooLarge) Error() string {
	return fmt.Sprintf("port: batch frame of %d bytes exceeds the limit of %d (--max-frame)", e.Size, e.Limit)
}

// ReadRequestFrame is ReadFrame for the sidecar's requests: an oversized
// batch frame returns a *BatchTooLarge with its entries still unread.
func ReadRequestFrame(r *bufio.Reader, buf []byte, maxFrame int) (id uint64, body, newBuf []byte, err error) {
	return readFrame(r, buf, maxFrame, true)
}

// ReadBatchEntry reads the next <<length:32, id:64, term>> entry of an
// oversized batch from r, which is limited to the batch's remaining bytes.
// An entry longer than maxFrame is skipped and reported with its id and
// ErrFrameTooLarge; a malformed one ends the batch with ErrBatchTrailing
// or ErrBatchOverrun (the caller discards what is left).
func ReadBatchEntry(r *io.LimitedReader, maxFrame int) (id uint64, body []byte, err error) {
	var hdr [HeaderSize + IDSize]byte
	if r.N < HeaderSize+IDSize {
		return 0, nil, fmt.Errorf("%w (%d bytes)", ErrBatchTrailing, r.N)
	}
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, io.ErrUnexpectedEOF
	}
	n := int64(binary.BigEndian.Uint32(hdr[:HeaderSize]))
	id = binary.BigEndian.Uint64(hdr[HeaderSize:])
	if n < IDSize || n-IDSize > r.N {
		return 0, nil, fmt.Errorf("%w (%d bytes, %d left)", ErrBatchOverrun, n, r.N+IDSize)
	}
	if n > int64(maxFrame) {
		if _, err := io.CopyN(io.Discard, r, n-IDSize); err != nil {
			return 0, nil, io.ErrUnexpectedEOF
		}
		return id, nil, fmt.Errorf("%w: %d bytes exceeds the limit of %d (--max-frame)", ErrFrameTooLarge, n, maxFrame)
	}
	body = make([]byte, n-IDSize)
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, nil, io.ErrUnexpectedEOF
	}
	return id, body, nil
}

func readFrame(r *bufio.Reader, buf []byte, maxFrame int, keepBatch bool) (id uint64, body, newBuf []byte, err error) {
	var hdr [HeaderSize]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, buf, err
	}
	n := int64(binary.BigEndian.Uint32(hdr[:]))
	if n < IDSize {
		if _, err := io.CopyN(io.Discard, r, n); err != nil {
			return 0, nil, buf, io.ErrUnexpectedEOF
		}
		return 0, nil, buf, fmt.Errorf("%w (%d bytes)", ErrShortPacket, n)
	}
	if n > int64(maxFrame) {
		var idb [IDSize]byte
		if _, err := io.ReadFull(r, idb[:]); err != nil {
			return 0, nil, buf, io.ErrUnexpectedEOF
		}
		if id := binary.BigEndian.Uint64(idb[:]); keepBatch && id == BatchID {
			return id, nil, buf, &BatchTooLarge{Size: n, Limit: int64(maxFrame), Remaining: n - IDSize}
		}
		if _, err := io.CopyN(io.Discard, r, n-IDSize); err != nil {
			return 0, nil, buf, io.ErrUnexpectedEOF
		}
		return binary.BigEndian.Uint64(idb[:]), nil, buf,
			fmt.Errorf("%w: %d bytes exceeds the limit of %d (--max-frame)", ErrFrameTooLarge, n, maxFrame)
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		return 0, nil, buf, io.ErrUnexpectedEOF
	}
	return binary.BigEndian.Uint64(buf), buf[IDSize:], buf, nil
}

// beginFrame reserves the length and id of a frame at the end of dst.
func BeginFrame(dst []byte, id uint64) ([]byte, int) {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
	binary.BigEndian.PutUint64(dst[start+HeaderSize:], id)
	return dst, start
}

// endFrame writes the length of the frame begun at start.
func EndFrame(dst []byte, start int) []byte {
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-HeaderSize))
	return dst
}

// SideChannelBit in a request id asks for its replies on the side channel
// (the sidecar's --reply-socket) instead of stdout; the replies keep the
// id, bit included. Clients keep their ids below it.
const SideChannelBit = 1 << 62

// OnSideChannel reports whether the complete frame (length, id, term)
// belongs on the side channel: its id carries SideChannelBit.
func OnSideChannel(frame []byte) bool {
	return len(frame) > HeaderSize && frame[HeaderSize]&(SideChannelBit>>56) != 0
}

// BatchHeader is the size of a batch frame's own length and id.
const BatchHeader = HeaderSize + IDSize

// SealBatch finishes a buffer that starts with a BatchHeader-byte slot
// followed by n complete frames, and returns the bytes to write: the one
// frame as it is, or all of them behind a batch header (id BatchID). Both
// ends pack this way: the sidecar its replies, clients their requests.
func SealBatch(buf []byte, n int) []byte {
	if n <= 1 {
		return buf[BatchHeader:]
	}
	binary.BigEndian.PutUint32(buf, uint32(len(buf)-HeaderSize))
	binary.BigEndian.PutUint64(buf[HeaderSize:], BatchID)
	return buf
}

// Errors of a malformed batch frame: what follows the problem cannot be
// found, so the rest of the batch is lost.
var (
	ErrBatchTrailing = errors.New("wire: batch frame: trailing bytes too short for an entry")
	ErrBatchOverrun  = errors.New("wire: batch frame: an entry declares more bytes than are left")
)

// SplitBatch calls each with every entry of a batch frame's payload (the
// bytes after its id), in order: an entry is its 8-byte id and its term,
// and may be shorter than an id, which each must check. It stops when each
// returns false, and returns ErrBatchTrailing or ErrBatchOverrun when the
// payload is malformed.
func SplitBatch(payload []byte, each func(entry []byte) bool) error {
	for len(payload) > 0 {
		if len(payload) < HeaderSize {
			return fmt.Errorf("%w (%d bytes)", ErrBatchTrailing, len(payload))
		}
		n := int(binary.BigEndian.Uint32(payload))
		payload = payload[HeaderSize:]
		if n > len(payload) {
			return fmt.Errorf("%w (%d bytes, %d left)", ErrBatchOverrun, n, len(payload))
		}
		entry := payload[:n]
		payload = payload[n:]
		if !each(entry) {
			return nil
		}
	}
	return nil
}

// AppendPackedRow appends one row of a packed rows binary (scans and
// iterator moves with {packed, true}): KeyLen:32, Key, ValueLen:32, Value,
// big-endian. The BEAM splits it into sub-binaries of the one frame.
func AppendPackedRow(dst, key, value []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(key)))
	dst = append(dst, key...)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(value)))
	return append(dst, value...)
}
