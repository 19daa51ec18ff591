package port

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

const (
	headerSize = 4 // the {packet, 4} length
	idSize     = 8 // the request id that starts every packet
)

// MoreFlag is set in the id of every frame of a multi-frame reply (a scan)
// but the last, so the port's owner knows, without decoding, when it may
// forget the request. Request ids must therefore be below 2^63.
const MoreFlag = uint64(1) << 63

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
func readFrame(r *bufio.Reader, buf []byte, maxFrame int) (id uint64, body, newBuf []byte, err error) {
	var hdr [headerSize]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, buf, err
	}
	n := int64(binary.BigEndian.Uint32(hdr[:]))
	if n < idSize {
		if _, err := io.CopyN(io.Discard, r, n); err != nil {
			return 0, nil, buf, io.ErrUnexpectedEOF
		}
		return 0, nil, buf, fmt.Errorf("%w (%d bytes)", ErrShortPacket, n)
	}
	if n > int64(maxFrame) {
		var idb [idSize]byte
		if _, err := io.ReadFull(r, idb[:]); err != nil {
			return 0, nil, buf, io.ErrUnexpectedEOF
		}
		if _, err := io.CopyN(io.Discard, r, n-idSize); err != nil {
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
	return binary.BigEndian.Uint64(buf), buf[idSize:], buf, nil
}

// beginFrame reserves the length and id of a frame at the end of dst.
func beginFrame(dst []byte, id uint64) ([]byte, int) {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
	binary.BigEndian.PutUint64(dst[start+headerSize:], id)
	return dst, start
}

// endFrame writes the length of the frame begun at start.
func endFrame(dst []byte, start int) []byte {
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-headerSize))
	return dst
}
