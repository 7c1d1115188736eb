package format

import (
	"encoding/binary"
	"fmt"
)

// Segment maps a range of an object to the record holding its bytes:
// object bytes [Off, Off+Len) are the record's data bytes [Skip, Skip+Len).
// The record starts at byte RecLoc of the disk and is RecLen bytes long
// (unaligned). Part of the checkpoint format.
type Segment struct {
	Off    uint64
	Len    uint32
	RecLen uint32
	RecLoc int64
	Skip   uint32
}

// SegmentSize is a segment's encoded size.
const SegmentSize = 8 + 4 + 8 + 4 + 4

// CkptObject is one object in a checkpoint.
type CkptObject struct {
	Pool, Name []byte
	Size       uint64
	MTime      int64
	Version    uint64
	Segs       []Segment
}

// Checkpoint payload layout (split across RecCkptChunk records):
//
//	"SCKP" | version u32 | S u64 | P i64 | object count u64 |
//	objects... | extent count u64 | data bytes per extent (u64 each) |
//	crc32c u32 of all preceding bytes
//
// The per-extent data bytes (object data and checkpoint records written
// into the extent's current use) let compaction estimate dead space after a
// restart; they are a heuristic, not used for correctness.
//
// object: pool len u8 | name len u16 | pool | name | size u64 | mtime i64 |
// version u64 | segment count u32 | segments (SegmentSize bytes each:
// off u64, len u32, rec loc i64, rec len u32, skip u32)
var ckptMagic = [4]byte{'S', 'C', 'K', 'P'}

// CkptWriter builds a checkpoint payload.
type CkptWriter struct {
	buf   []byte
	count uint64
}

// NewCkptWriter starts a payload for sequence s and replay start p.
func NewCkptWriter(s uint64, p int64, sizeHint int) *CkptWriter {
	w := &CkptWriter{buf: make([]byte, 0, sizeHint+32)}
	w.buf = append(w.buf, ckptMagic[:]...)
	w.buf = binary.LittleEndian.AppendUint32(w.buf, Version)
	w.buf = binary.LittleEndian.AppendUint64(w.buf, s)
	w.buf = binary.LittleEndian.AppendUint64(w.buf, uint64(p))
	w.buf = binary.LittleEndian.AppendUint64(w.buf, 0) // count, patched in Finish
	return w
}

// Add appends one object.
func (w *CkptWriter) Add(pool, name string, size uint64, mtime int64, version uint64, segs []Segment) {
	le := binary.LittleEndian
	w.buf = append(w.buf, byte(len(pool)))
	w.buf = le.AppendUint16(w.buf, uint16(len(name)))
	w.buf = append(w.buf, pool...)
	w.buf = append(w.buf, name...)
	w.buf = le.AppendUint64(w.buf, size)
	w.buf = le.AppendUint64(w.buf, uint64(mtime))
	w.buf = le.AppendUint64(w.buf, version)
	w.buf = le.AppendUint32(w.buf, uint32(len(segs)))
	for _, s := range segs {
		w.buf = le.AppendUint64(w.buf, s.Off)
		w.buf = le.AppendUint32(w.buf, s.Len)
		w.buf = le.AppendUint64(w.buf, uint64(s.RecLoc))
		w.buf = le.AppendUint32(w.buf, s.RecLen)
		w.buf = le.AppendUint32(w.buf, s.Skip)
	}
	w.count++
}

// Finish appends the extent table and returns the payload.
func (w *CkptWriter) Finish(extentData []int64) []byte {
	binary.LittleEndian.PutUint64(w.buf[24:], w.count)
	w.buf = binary.LittleEndian.AppendUint64(w.buf, uint64(len(extentData)))
	for _, d := range extentData {
		w.buf = binary.LittleEndian.AppendUint64(w.buf, uint64(d))
	}
	w.buf = binary.LittleEndian.AppendUint32(w.buf, Checksum(w.buf))
	return w.buf
}

// ParseCheckpoint decodes a payload, calling fn for each object (slices in
// the object alias payload; Segs is freshly allocated), and returns the
// extent table.
func ParseCheckpoint(payload []byte, fn func(CkptObject) error) (s uint64, p int64, extentData []int64, err error) {
	le := binary.LittleEndian
	if len(payload) < 36 {
		return 0, 0, nil, fmt.Errorf("checkpoint of %d bytes: %w", len(payload), ErrTooShort)
	}
	if [4]byte(payload[0:4]) != ckptMagic {
		return 0, 0, nil, fmt.Errorf("checkpoint: %w", ErrMagic)
	}
	if v := le.Uint32(payload[4:]); v == 0 || v > Version {
		return 0, 0, nil, fmt.Errorf("checkpoint version %d: %w", v, ErrVersion)
	}
	body := payload[:len(payload)-4]
	if got, want := Checksum(body), le.Uint32(payload[len(payload)-4:]); got != want {
		return 0, 0, nil, fmt.Errorf("checkpoint crc %#08x, stored %#08x: %w", got, want, ErrChecksum)
	}
	s = le.Uint64(body[8:])
	p = int64(le.Uint64(body[16:]))
	count := le.Uint64(body[24:])
	b := body[32:]
	for i := uint64(0); i < count; i++ {
		if len(b) < 3 {
			return 0, 0, nil, fmt.Errorf("checkpoint object %d: %w", i, ErrTooShort)
		}
		pl, nl := int(b[0]), int(le.Uint16(b[1:]))
		if len(b) < 3+pl+nl+28 {
			return 0, 0, nil, fmt.Errorf("checkpoint object %d: %w", i, ErrTooShort)
		}
		o := CkptObject{Pool: b[3 : 3+pl], Name: b[3+pl : 3+pl+nl]}
		b = b[3+pl+nl:]
		o.Size = le.Uint64(b[0:])
		o.MTime = int64(le.Uint64(b[8:]))
		o.Version = le.Uint64(b[16:])
		n := int(le.Uint32(b[24:]))
		b = b[28:]
		if n < 0 || len(b) < n*SegmentSize {
			return 0, 0, nil, fmt.Errorf("checkpoint object %d: %d segments: %w", i, n, ErrTooShort)
		}
		o.Segs = make([]Segment, n)
		for j := range o.Segs {
			o.Segs[j] = Segment{
				Off:    le.Uint64(b[0:]),
				Len:    le.Uint32(b[8:]),
				RecLoc: int64(le.Uint64(b[12:])),
				RecLen: le.Uint32(b[20:]),
				Skip:   le.Uint32(b[24:]),
			}
			b = b[SegmentSize:]
		}
		if err := fn(o); err != nil {
			return 0, 0, nil, err
		}
	}
	if len(b) < 8 {
		return 0, 0, nil, fmt.Errorf("checkpoint extent table: %w", ErrTooShort)
	}
	n := le.Uint64(b)
	b = b[8:]
	if uint64(len(b)) != n*8 {
		return 0, 0, nil, fmt.Errorf("checkpoint extent table of %d entries in %d bytes: %w", n, len(b), ErrLayout)
	}
	extentData = make([]int64, n)
	for i := range extentData {
		extentData[i] = int64(le.Uint64(b[i*8:]))
	}
	return s, p, extentData, nil
}

// ChunkRef locates one RecCkptChunk record.
type ChunkRef struct {
	Loc    int64
	RecLen uint32
}

// Manifest is the data of a RecCkptManifest record:
//
//	S u64 | P i64 | payload length u64 | chunk count u32 | chunks (loc i64, rec len u32)...
type Manifest struct {
	Seq         uint64
	ReplayStart int64
	PayloadLen  uint64
	Chunks      []ChunkRef
}

// Encode returns the manifest's bytes.
func (m *Manifest) Encode() []byte {
	le := binary.LittleEndian
	b := make([]byte, 0, 28+12*len(m.Chunks))
	b = le.AppendUint64(b, m.Seq)
	b = le.AppendUint64(b, uint64(m.ReplayStart))
	b = le.AppendUint64(b, m.PayloadLen)
	b = le.AppendUint32(b, uint32(len(m.Chunks)))
	for _, c := range m.Chunks {
		b = le.AppendUint64(b, uint64(c.Loc))
		b = le.AppendUint32(b, c.RecLen)
	}
	return b
}

// DecodeManifest parses a manifest.
func DecodeManifest(b []byte) (Manifest, error) {
	le := binary.LittleEndian
	var m Manifest
	if len(b) < 28 {
		return m, fmt.Errorf("checkpoint manifest: %w", ErrTooShort)
	}
	m.Seq = le.Uint64(b[0:])
	m.ReplayStart = int64(le.Uint64(b[8:]))
	m.PayloadLen = le.Uint64(b[16:])
	n := int(le.Uint32(b[24:]))
	b = b[28:]
	if len(b) != n*12 {
		return m, fmt.Errorf("checkpoint manifest with %d chunks in %d bytes: %w", n, len(b), ErrLayout)
	}
	for i := 0; i < n; i++ {
		m.Chunks = append(m.Chunks, ChunkRef{Loc: int64(le.Uint64(b[0:])), RecLen: le.Uint32(b[8:])})
		b = b[12:]
	}
	return m, nil
}
