package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Part of the wire format.
const (
	Magic      uint16 = 0x5344 // "SD"
	Version    uint8  = 1
	HeaderSize        = 64

	// MaxDatagram is the largest UDP payload IPv4 can carry.
	MaxDatagram = 65507
	// MaxPool and MaxName bound the name fields (the engine enforces the
	// same limits with clearer errors).
	MaxPool = 64
	MaxName = 1024
	// MaxAuth bounds the authentication field.
	MaxAuth = 1024

	// DefaultMaxPayload is the data a client puts in one datagram unless
	// configured otherwise: 8 KiB, so that a datagram crosses a 1500-byte-MTU
	// network as at most seven IP fragments (as NFS over UDP did), while a
	// 4 KiB block still travels in one request. See docs/protocol.md.
	DefaultMaxPayload = 8192
	// MaxPayload is the most data a datagram can carry with the largest
	// names and auth field.
	MaxPayload = MaxDatagram - HeaderSize - MaxPool - MaxName - MaxAuth
)

// Op is an operation code. Responses carry the request's op with
// OpResponse set.
type Op uint8

const (
	OpPing     Op = 1
	OpRead     Op = 2
	OpWrite    Op = 3
	OpStat     Op = 4
	OpDelete   Op = 5
	OpTruncate Op = 6
	OpList     Op = 7

	OpResponse Op = 0x80
)

// Request returns op without the response bit.
func (o Op) Request() Op { return o &^ OpResponse }

// IsResponse reports whether the response bit is set.
func (o Op) IsResponse() bool { return o&OpResponse != 0 }

// Valid reports whether o (ignoring the response bit) is a known op.
func (o Op) Valid() bool { r := o.Request(); return r >= OpPing && r <= OpList }

func (o Op) String() string {
	name := "unknown"
	switch o.Request() {
	case OpPing:
		name = "ping"
	case OpRead:
		name = "read"
	case OpWrite:
		name = "write"
	case OpStat:
		name = "stat"
	case OpDelete:
		name = "delete"
	case OpTruncate:
		name = "truncate"
	case OpList:
		name = "list"
	}
	if o.IsResponse() {
		return name + "-response"
	}
	return name
}

// Flags modify a request or response.
type Flags uint16

const (
	// FlagMore (List response): more entries match after the last one.
	FlagMore Flags = 1 << 0
)

// Header is the fixed part of a datagram plus its variable fields, decoded.
// Byte slices alias the datagram they were parsed from.
type Header struct {
	Op        Op
	Flags     Flags
	Status    Status
	ClientID  uint64
	RequestID uint64
	Epoch     uint64
	Offset    uint64
	Aux       uint64
	Length    uint32
	Pool      []byte
	Name      []byte
	Auth      []byte
	Payload   []byte
}

// Parse errors. Every malformed datagram yields one of these (wrapped).
var (
	ErrShort       = errors.New("datagram shorter than its header")
	ErrMagic       = errors.New("bad magic")
	ErrVersion     = errors.New("unsupported protocol version")
	ErrChecksum    = errors.New("datagram checksum mismatch")
	ErrFieldLength = errors.New("field lengths exceed the datagram")
	ErrTooLarge    = errors.New("datagram larger than the protocol allows")
	ErrBadOp       = errors.New("unknown operation")
	ErrReserved    = errors.New("reserved bytes are not zero")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Checksum returns the crc32c of b (Castagnoli).
func Checksum(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// Size returns the encoded size of h.
func (h *Header) Size() int {
	return HeaderSize + len(h.Pool) + len(h.Name) + len(h.Auth) + len(h.Payload)
}

// Append encodes h (with its variable fields and payload) onto dst and
// returns the extended slice. It fails only when a field is too long.
func (h *Header) Append(dst []byte) ([]byte, error) {
	if len(h.Pool) > MaxPool || len(h.Name) > MaxName || len(h.Auth) > MaxAuth {
		return dst, fmt.Errorf("encode %s: pool %d, name %d or auth %d bytes too long: %w",
			h.Op, len(h.Pool), len(h.Name), len(h.Auth), ErrTooLarge)
	}
	if h.Size() > MaxDatagram {
		return dst, fmt.Errorf("encode %s: %d bytes: %w", h.Op, h.Size(), ErrTooLarge)
	}
	start := len(dst)
	var b [HeaderSize]byte
	binary.BigEndian.PutUint16(b[0:], Magic)
	b[2] = Version
	b[3] = byte(h.Op)
	binary.BigEndian.PutUint16(b[4:], uint16(h.Flags))
	binary.BigEndian.PutUint16(b[6:], uint16(h.Status))
	binary.BigEndian.PutUint64(b[8:], h.ClientID)
	binary.BigEndian.PutUint64(b[16:], h.RequestID)
	binary.BigEndian.PutUint64(b[24:], h.Epoch)
	binary.BigEndian.PutUint64(b[32:], h.Offset)
	binary.BigEndian.PutUint64(b[40:], h.Aux)
	binary.BigEndian.PutUint32(b[48:], h.Length)
	b[52] = byte(len(h.Pool))
	binary.BigEndian.PutUint16(b[54:], uint16(len(h.Name)))
	binary.BigEndian.PutUint16(b[56:], uint16(len(h.Auth)))
	dst = append(dst, b[:]...)
	dst = append(dst, h.Pool...)
	dst = append(dst, h.Name...)
	dst = append(dst, h.Auth...)
	dst = append(dst, h.Payload...)
	binary.BigEndian.PutUint32(dst[start+60:], Checksum(dst[start:]))
	return dst, nil
}

// Parse decodes one datagram. The returned header's slices alias b. It
// checks magic, version, length fields, reserved bytes, the op and the
// checksum, in that order, and fails with a wrapped sentinel.
func Parse(b []byte) (Header, error) {
	var h Header
	if len(b) < HeaderSize {
		return h, fmt.Errorf("parse %d-byte datagram: %w", len(b), ErrShort)
	}
	if len(b) > MaxDatagram {
		return h, fmt.Errorf("parse %d-byte datagram: %w", len(b), ErrTooLarge)
	}
	if m := binary.BigEndian.Uint16(b[0:]); m != Magic {
		return h, fmt.Errorf("parse datagram: magic %#04x: %w", m, ErrMagic)
	}
	if v := b[2]; v != Version {
		return h, fmt.Errorf("parse datagram: version %d (this daemon speaks %d): %w", v, Version, ErrVersion)
	}
	h.Op = Op(b[3])
	h.Flags = Flags(binary.BigEndian.Uint16(b[4:]))
	h.Status = Status(binary.BigEndian.Uint16(b[6:]))
	h.ClientID = binary.BigEndian.Uint64(b[8:])
	h.RequestID = binary.BigEndian.Uint64(b[16:])
	h.Epoch = binary.BigEndian.Uint64(b[24:])
	h.Offset = binary.BigEndian.Uint64(b[32:])
	h.Aux = binary.BigEndian.Uint64(b[40:])
	h.Length = binary.BigEndian.Uint32(b[48:])
	poolLen := int(b[52])
	nameLen := int(binary.BigEndian.Uint16(b[54:]))
	authLen := int(binary.BigEndian.Uint16(b[56:]))
	if b[53] != 0 || b[58] != 0 || b[59] != 0 {
		return h, fmt.Errorf("parse datagram: %w", ErrReserved)
	}
	if poolLen > MaxPool || nameLen > MaxName || authLen > MaxAuth ||
		HeaderSize+poolLen+nameLen+authLen > len(b) {
		return h, fmt.Errorf("parse datagram: pool %d name %d auth %d in %d bytes: %w",
			poolLen, nameLen, authLen, len(b), ErrFieldLength)
	}
	if !h.Op.Valid() {
		return h, fmt.Errorf("parse datagram: op %#02x: %w", uint8(h.Op), ErrBadOp)
	}
	want := binary.BigEndian.Uint32(b[60:])
	var zero [4]byte
	crc := crc32.Update(0, castagnoli, b[:60])
	crc = crc32.Update(crc, castagnoli, zero[:])
	crc = crc32.Update(crc, castagnoli, b[HeaderSize:])
	if crc != want {
		return h, fmt.Errorf("parse %s datagram: crc %#08x, header says %#08x: %w", h.Op, crc, want, ErrChecksum)
	}
	p := HeaderSize
	h.Pool = b[p : p+poolLen : p+poolLen]
	p += poolLen
	h.Name = b[p : p+nameLen : p+nameLen]
	p += nameLen
	h.Auth = b[p : p+authLen : p+authLen]
	p += authLen
	h.Payload = b[p:]
	return h, nil
}

// PeekIDs returns the client and request ids of a datagram that may be
// malformed, so that a daemon can answer "invalid request" to the sender.
// ok is false when b is too short or lacks the magic.
func PeekIDs(b []byte) (clientID, requestID uint64, op Op, ok bool) {
	if len(b) < 24 || binary.BigEndian.Uint16(b[0:]) != Magic {
		return 0, 0, 0, false
	}
	return binary.BigEndian.Uint64(b[8:]), binary.BigEndian.Uint64(b[16:]), Op(b[3]), true
}
