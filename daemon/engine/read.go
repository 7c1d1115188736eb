package engine

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/store/store/daemon/format"
	"github.com/store/store/daemon/iodev"
)

// readBufPools hold aligned buffers by power-of-two size class (8 KiB up).
var readBufPools [24]sync.Pool

func getReadBuf(n int) ([]byte, int) {
	class := 13 // 8 KiB
	for 1<<class < n {
		class++
	}
	if b, ok := readBufPools[class].Get().([]byte); ok {
		return b[:n], class
	}
	return iodev.AlignedBuffer(1 << class)[:n], class
}

func putReadBuf(b []byte, class int) { readBufPools[class].Put(b[:cap(b)]) } //nolint:staticcheck // slices are fine here

// recordRead is one disk read covering one or more adjacent records.
type recordRead struct {
	start, end int64 // aligned disk range
	segs       []format.Segment
	buf        []byte
	class      int
	op         iodev.Op
}

// Read fills buf with the object's bytes from off.
func (e *Engine) Read(ctx context.Context, pool, name string, off uint64, buf []byte) (int, ObjectInfo, error) {
	if err := checkNames(pool, name); err != nil {
		return 0, ObjectInfo{}, objErr("read", pool, name, err)
	}
	e.stats.reads.Add(1)
	e.mu.RLock()
	o, ok := e.objects.Get(&object{key: objectKey(pool, name)})
	if !ok {
		e.mu.RUnlock()
		return 0, ObjectInfo{}, objErr("read", pool, name, ErrNotFound)
	}
	info := o.info()
	if off >= o.size {
		e.mu.RUnlock()
		return 0, info, nil
	}
	n := int(min(uint64(len(buf)), o.size-off))
	segs := o.overlapping(off, off+uint64(n))
	// Pin the extents so compaction cannot reuse them while we read.
	pinned := make([]int, 0, 2)
	for _, s := range segs {
		x := e.extentOf(s.RecLoc)
		if len(pinned) == 0 || pinned[len(pinned)-1] != x {
			e.ext[x].refs.Add(1)
			pinned = append(pinned, x)
		}
	}
	e.mu.RUnlock()
	defer func() {
		for _, x := range pinned {
			e.ext[x].refs.Add(-1)
		}
	}()
	out := buf[:n]
	clear(out)
	if len(segs) == 0 {
		return n, info, nil
	}
	reads := planReads(segs)
	ch := make(chan *iodev.Op, len(reads))
	ops := make([]*iodev.Op, len(reads))
	for i, r := range reads {
		r.buf, r.class = getReadBuf(int(r.end - r.start))
		r.op = iodev.Op{Kind: iodev.OpRead, Buf: r.buf, Off: r.start, Complete: ch, Tag: r}
		ops[i] = &r.op
	}
	e.dev.Submit(ops...)
	var firstErr error
	// Disk reads are bounded in time; wait for all of them so that their
	// buffers can be reused safely.
	for range reads {
		op := <-ch
		r := op.Tag.(*recordRead)
		if op.Err != nil {
			e.stats.ioErrors.Add(1)
			if firstErr == nil {
				firstErr = fmt.Errorf("disk read at %d: %v: %w", r.start, op.Err, ErrIO)
			}
			continue
		}
		if err := e.copySegments(r, pool, name, off, out); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	for _, r := range reads {
		putReadBuf(r.buf, r.class)
	}
	if firstErr != nil {
		return 0, info, objErr("read", pool, name, firstErr)
	}
	e.stats.bytesRead.Add(uint64(n))
	return n, info, nil
}

// planReads groups segments by record and merges records that sit close
// together on disk into one aligned read.
func planReads(segs []format.Segment) []*recordRead {
	sorted := make([]format.Segment, len(segs))
	copy(sorted, segs)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].RecLoc < sorted[j].RecLoc })
	var out []*recordRead
	for _, s := range sorted {
		start := s.RecLoc &^ (format.BlockSize - 1)
		end := (s.RecLoc + int64(s.RecLen) + format.BlockSize - 1) &^ (format.BlockSize - 1)
		if n := len(out); n > 0 && start <= out[n-1].end && end-out[n-1].start <= 1<<20 {
			last := out[n-1]
			last.end = max(last.end, end)
			last.segs = append(last.segs, s)
			continue
		}
		out = append(out, &recordRead{start: start, end: end, segs: []format.Segment{s}})
	}
	return out
}

// copySegments verifies each record in r and copies the segments' bytes.
func (e *Engine) copySegments(r *recordRead, pool, name string, off uint64, out []byte) error {
	var lastLoc int64 = -1
	var rec format.Record
	for _, s := range r.segs {
		if s.RecLoc != lastLoc {
			var err error
			rec, _, err = format.DecodeRecord(r.buf[s.RecLoc-r.start:])
			if err == nil && (string(rec.Pool) != pool || string(rec.Name) != name ||
				(rec.Type != format.RecWrite && rec.Type != format.RecMove) ||
				uint32(format.RecordLen(len(rec.Pool), len(rec.Name), len(rec.Data))) != s.RecLen) {
				err = fmt.Errorf("record at %d is %s of %s/%s, not the expected one", s.RecLoc, rec.Type, rec.Pool, rec.Name)
			}
			if err != nil {
				e.stats.checksumErrors.Add(1)
				e.log.Error().Err(err).Str("pool", pool).Str("object", name).Int64("loc", s.RecLoc).Msg("stored record failed verification")
				return fmt.Errorf("record at disk offset %d: %v: %w", s.RecLoc, err, ErrCorrupt)
			}
			lastLoc = s.RecLoc
		}
		if uint64(s.Skip)+uint64(s.Len) > uint64(len(rec.Data)) {
			e.stats.checksumErrors.Add(1)
			return fmt.Errorf("record at disk offset %d shorter than the index says: %w", s.RecLoc, ErrCorrupt)
		}
		// Clip to the requested window.
		lo, hi := max(s.Off, off), min(segEnd(s), off+uint64(len(out)))
		if lo >= hi {
			continue
		}
		src := rec.Data[uint64(s.Skip)+(lo-s.Off) : uint64(s.Skip)+(hi-s.Off)]
		copy(out[lo-off:hi-off], src)
	}
	return nil
}
