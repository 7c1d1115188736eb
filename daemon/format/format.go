package format

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Part of the disk format.
const (
	Version          uint32 = 1
	BlockSize               = 4096
	SuperblockSlotA         = 0
	SuperblockSlotB         = BlockSize
	DataStart               = 1 << 20
	ExtentHeaderSize        = BlockSize
	RecordHeaderSize        = 56
	RecordAlign             = 8

	DefaultExtentSize = 16 << 20
	MinExtentSize     = 1 << 20
	MaxExtentSize     = 256 << 20
)

var (
	superMagic  = [8]byte{'S', 'T', 'O', 'R', 'D', 'I', 'S', 'K'}
	extentMagic = [8]byte{'S', 'T', 'O', 'R', 'E', 'X', 'T', '1'}
	recordMagic = [4]byte{'S', 'R', 'E', 'C'}
)

// RecType is a log record's type.
type RecType uint8

const (
	RecWrite        RecType = 1
	RecDelete       RecType = 2
	RecTruncate     RecType = 3
	RecMove         RecType = 4
	RecPad          RecType = 5
	RecCkptChunk    RecType = 6
	RecCkptManifest RecType = 7
)

func (t RecType) String() string {
	switch t {
	case RecWrite:
		return "write"
	case RecDelete:
		return "delete"
	case RecTruncate:
		return "truncate"
	case RecMove:
		return "move"
	case RecPad:
		return "pad"
	case RecCkptChunk:
		return "checkpoint-chunk"
	case RecCkptManifest:
		return "checkpoint-manifest"
	}
	return fmt.Sprintf("rectype(%d)", uint8(t))
}

// Sentinel errors, one per check, in the order the checks run.
var (
	ErrMagic    = errors.New("bad magic")
	ErrVersion  = errors.New("unsupported format version")
	ErrChecksum = errors.New("checksum mismatch")
	ErrLayout   = errors.New("inconsistent layout fields")
	ErrTooShort = errors.New("buffer too short")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Checksum is crc32c (Castagnoli).
func Checksum(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// UpdateChecksum continues a crc32c.
func UpdateChecksum(crc uint32, b []byte) uint32 { return crc32.Update(crc, castagnoli, b) }

// Superblock is the disk's identity and the pointer to its latest checkpoint.
type Superblock struct {
	Version     uint32
	DiskUUID    [16]byte
	DaemonID    uint64
	ClusterUUID [16]byte
	ExtentSize  int64
	ExtentCount int64
	DataStart   int64
	CreatedNano int64
	Generation  uint64
	ManifestLoc int64
	ManifestLen uint32
	CkptSeq     uint64
	ReplayStart int64
}

// ExtentOffset is the byte offset of extent i.
func (s *Superblock) ExtentOffset(i int64) int64 { return s.DataStart + i*s.ExtentSize }

// Encode writes s into a BlockSize buffer.
func (s *Superblock) Encode(b []byte) {
	clear(b[:BlockSize])
	copy(b[0:], superMagic[:])
	le := binary.LittleEndian
	le.PutUint32(b[8:], s.Version)
	copy(b[16:32], s.DiskUUID[:])
	le.PutUint64(b[32:], s.DaemonID)
	copy(b[40:56], s.ClusterUUID[:])
	le.PutUint64(b[56:], uint64(s.ExtentSize))
	le.PutUint64(b[64:], uint64(s.ExtentCount))
	le.PutUint64(b[72:], uint64(s.DataStart))
	le.PutUint64(b[80:], uint64(s.CreatedNano))
	le.PutUint64(b[88:], s.Generation)
	le.PutUint64(b[96:], uint64(s.ManifestLoc))
	le.PutUint32(b[104:], s.ManifestLen)
	le.PutUint64(b[112:], s.CkptSeq)
	le.PutUint64(b[120:], uint64(s.ReplayStart))
	le.PutUint32(b[BlockSize-4:], Checksum(b[:BlockSize-4]))
}

// DecodeSuperblock checks magic, version, checksum and layout, in that order.
func DecodeSuperblock(b []byte) (Superblock, error) {
	var s Superblock
	if len(b) < BlockSize {
		return s, ErrTooShort
	}
	if !bytes.Equal(b[0:8], superMagic[:]) {
		return s, ErrMagic
	}
	le := binary.LittleEndian
	s.Version = le.Uint32(b[8:])
	if s.Version == 0 || s.Version > Version {
		return s, fmt.Errorf("superblock version %d (this daemon knows up to %d): %w", s.Version, Version, ErrVersion)
	}
	if got, want := Checksum(b[:BlockSize-4]), le.Uint32(b[BlockSize-4:]); got != want {
		return s, fmt.Errorf("superblock crc %#08x, stored %#08x: %w", got, want, ErrChecksum)
	}
	copy(s.DiskUUID[:], b[16:32])
	s.DaemonID = le.Uint64(b[32:])
	copy(s.ClusterUUID[:], b[40:56])
	s.ExtentSize = int64(le.Uint64(b[56:]))
	s.ExtentCount = int64(le.Uint64(b[64:]))
	s.DataStart = int64(le.Uint64(b[72:]))
	s.CreatedNano = int64(le.Uint64(b[80:]))
	s.Generation = le.Uint64(b[88:])
	s.ManifestLoc = int64(le.Uint64(b[96:]))
	s.ManifestLen = le.Uint32(b[104:])
	s.CkptSeq = le.Uint64(b[112:])
	s.ReplayStart = int64(le.Uint64(b[120:]))
	if s.ExtentSize < MinExtentSize || s.ExtentSize > MaxExtentSize || s.ExtentSize&(s.ExtentSize-1) != 0 ||
		s.ExtentCount < 1 || s.DataStart != DataStart {
		return s, fmt.Errorf("superblock extent size %d count %d data start %d: %w", s.ExtentSize, s.ExtentCount, s.DataStart, ErrLayout)
	}
	return s, nil
}

// ExtentHeader starts every extent in use.
type ExtentHeader struct {
	Index    uint32
	OpenSeq  uint64
	DiskUUID [16]byte
}

// Encode writes h into an ExtentHeaderSize buffer.
func (h *ExtentHeader) Encode(b []byte) {
	clear(b[:ExtentHeaderSize])
	copy(b[0:], extentMagic[:])
	le := binary.LittleEndian
	le.PutUint32(b[8:], h.Index)
	le.PutUint64(b[16:], h.OpenSeq)
	copy(b[24:40], h.DiskUUID[:])
	le.PutUint32(b[ExtentHeaderSize-4:], Checksum(b[:ExtentHeaderSize-4]))
}

// DecodeExtentHeader checks magic and checksum.
func DecodeExtentHeader(b []byte) (ExtentHeader, error) {
	var h ExtentHeader
	if len(b) < ExtentHeaderSize {
		return h, ErrTooShort
	}
	if !bytes.Equal(b[0:8], extentMagic[:]) {
		return h, ErrMagic
	}
	le := binary.LittleEndian
	if got, want := Checksum(b[:ExtentHeaderSize-4]), le.Uint32(b[ExtentHeaderSize-4:]); got != want {
		return h, fmt.Errorf("extent header crc %#08x, stored %#08x: %w", got, want, ErrChecksum)
	}
	h.Index = le.Uint32(b[8:])
	h.OpenSeq = le.Uint64(b[16:])
	copy(h.DiskUUID[:], b[24:40])
	return h, nil
}

// Record is a decoded log record. Pool, Name and Data alias the buffer.
type Record struct {
	Type   RecType
	Seq    uint64
	Offset uint64
	MTime  int64
	Aux    uint64
	Pool   []byte
	Name   []byte
	Data   []byte
}

// RecordLen is the encoded length of a record with these field sizes,
// before alignment.
func RecordLen(pool, name, data int) int { return RecordHeaderSize + pool + name + data }

// AlignRecord rounds n up to RecordAlign.
func AlignRecord(n int) int { return (n + RecordAlign - 1) &^ (RecordAlign - 1) }

// AppendRecord encodes r at the end of dst (which must have capacity or it
// grows) and returns the extended slice; padding to RecordAlign is zero.
func AppendRecord(dst []byte, r *Record) []byte {
	start := len(dst)
	n := RecordLen(len(r.Pool), len(r.Name), len(r.Data))
	total := AlignRecord(n)
	dst = growZero(dst, total)
	b := dst[start : start+n]
	copy(b[0:], recordMagic[:])
	le := binary.LittleEndian
	b[8] = byte(r.Type)
	b[9] = 0
	b[10] = byte(len(r.Pool))
	b[11] = 0
	le.PutUint16(b[12:], uint16(len(r.Name)))
	le.PutUint16(b[14:], 0)
	le.PutUint32(b[16:], uint32(len(r.Data)))
	le.PutUint32(b[20:], 0)
	le.PutUint64(b[24:], r.Seq)
	le.PutUint64(b[32:], r.Offset)
	le.PutUint64(b[40:], uint64(r.MTime))
	le.PutUint64(b[48:], r.Aux)
	p := RecordHeaderSize
	p += copy(b[p:], r.Pool)
	p += copy(b[p:], r.Name)
	copy(b[p:], r.Data)
	le.PutUint32(b[4:], Checksum(b[8:n]))
	return dst
}

// AppendPad appends a RecPad record that occupies exactly total bytes
// (total >= RecordHeaderSize and a multiple of RecordAlign).
func AppendPad(dst []byte, seq uint64, total int) []byte {
	return AppendRecord(dst, &Record{Type: RecPad, Seq: seq, Data: make([]byte, total-RecordHeaderSize)})
}

func growZero(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		b = b[:len(b)+n]
		clear(b[len(b)-n:])
		return b
	}
	return append(b, make([]byte, n)...)
}

// DecodeRecord parses the record at the start of b. It returns the record
// and its aligned length. Errors mean "not a valid record here".
func DecodeRecord(b []byte) (Record, int, error) {
	var r Record
	if len(b) < RecordHeaderSize {
		return r, 0, ErrTooShort
	}
	if !bytes.Equal(b[0:4], recordMagic[:]) {
		return r, 0, ErrMagic
	}
	le := binary.LittleEndian
	r.Type = RecType(b[8])
	poolLen := int(b[10])
	nameLen := int(le.Uint16(b[12:]))
	dataLen := int(le.Uint32(b[16:]))
	n := RecordLen(poolLen, nameLen, dataLen)
	if r.Type < RecWrite || r.Type > RecCkptManifest || b[9] != 0 || b[11] != 0 || dataLen > MaxExtentSize {
		return r, 0, ErrLayout
	}
	if n > len(b) {
		return r, 0, ErrTooShort
	}
	if got, want := Checksum(b[8:n]), le.Uint32(b[4:]); got != want {
		return r, 0, fmt.Errorf("record crc %#08x, stored %#08x: %w", got, want, ErrChecksum)
	}
	r.Seq = le.Uint64(b[24:])
	r.Offset = le.Uint64(b[32:])
	r.MTime = int64(le.Uint64(b[40:]))
	r.Aux = le.Uint64(b[48:])
	p := RecordHeaderSize
	r.Pool = b[p : p+poolLen : p+poolLen]
	p += poolLen
	r.Name = b[p : p+nameLen : p+nameLen]
	p += nameLen
	r.Data = b[p:n:n]
	return r, AlignRecord(n), nil
}
