package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// StatPayload is the payload of a Stat response (size and version travel in
// the header's offset and aux fields):
//
//	0                 8                 16
//	+-----------------+-----------------+
//	| mtime (int64    | reserved, zero  |
//	| unix ns)        |                 |
//	+-----------------+-----------------+
type StatPayload struct {
	MTimeUnixNano int64
}

// StatPayloadSize is the encoded size of a StatPayload.
const StatPayloadSize = 16

// AppendStat encodes p.
func AppendStat(dst []byte, p StatPayload) []byte {
	var b [StatPayloadSize]byte
	binary.BigEndian.PutUint64(b[0:], uint64(p.MTimeUnixNano))
	return append(dst, b[:]...)
}

// ParseStat decodes a StatPayload.
func ParseStat(b []byte) (StatPayload, error) {
	if len(b) < StatPayloadSize {
		return StatPayload{}, fmt.Errorf("parse stat payload of %d bytes: %w", len(b), ErrShort)
	}
	return StatPayload{MTimeUnixNano: int64(binary.BigEndian.Uint64(b[0:]))}, nil
}

// ListEntry is one object in a List response payload:
//
//	name len uint16 | name | size uint64 | mtime int64 unix ns | version uint64
type ListEntry struct {
	Name          []byte
	Size          uint64
	MTimeUnixNano int64
	Version       uint64
}

// ListEntryFixed is the encoded size of a ListEntry without its name.
const ListEntryFixed = 2 + 8 + 8 + 8

// AppendListEntry encodes e.
func AppendListEntry(dst []byte, e ListEntry) []byte {
	var b [ListEntryFixed - 2]byte
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(e.Name)))
	dst = append(dst, e.Name...)
	binary.BigEndian.PutUint64(b[0:], e.Size)
	binary.BigEndian.PutUint64(b[8:], uint64(e.MTimeUnixNano))
	binary.BigEndian.PutUint64(b[16:], e.Version)
	return append(dst, b[:]...)
}

// ErrListPayload reports a malformed List response payload.
var ErrListPayload = errors.New("malformed list payload")

// ParseListEntries decodes a List response payload. Names alias b.
func ParseListEntries(b []byte) ([]ListEntry, error) {
	var out []ListEntry
	for len(b) > 0 {
		if len(b) < 2 {
			return nil, fmt.Errorf("list entry %d: %w", len(out), ErrListPayload)
		}
		n := int(binary.BigEndian.Uint16(b))
		if n > MaxName || len(b) < ListEntryFixed+n {
			return nil, fmt.Errorf("list entry %d: name of %d bytes in %d: %w", len(out), n, len(b), ErrListPayload)
		}
		e := ListEntry{Name: b[2 : 2+n : 2+n]}
		r := b[2+n:]
		e.Size = binary.BigEndian.Uint64(r[0:])
		e.MTimeUnixNano = int64(binary.BigEndian.Uint64(r[8:]))
		e.Version = binary.BigEndian.Uint64(r[16:])
		out = append(out, e)
		b = b[ListEntryFixed+n:]
	}
	return out, nil
}
