package engine

import (
	"time"

	"github.com/store/store/daemon/format"
	"github.com/store/store/daemon/iodev"
)

// compactState is the extent being compacted: its contents are read in one
// I/O, the still-referenced pieces are re-appended as RecMove records, and
// the extent is freed by the next checkpoint once nothing points into it.
type compactState struct {
	ext     int
	buf     []byte
	op      iodev.Op
	pending int
	moved   int64
	started time.Time
}

// compactCandidate returns the sealed extent with the most dead data, if
// that is at least (1-CompactMaxLive) of an extent; -1 if none.
func (e *Engine) compactCandidate() int {
	minDead := int64((1 - e.cfg.CompactMaxLive) * float64(e.sb.ExtentSize))
	best, bestDead := -1, int64(0)
	for i := range e.ext {
		x := &e.ext[i]
		if x.state != extSealed || x.compacting || x.live == 0 || e.st.ckptPins[i] != 0 {
			continue
		}
		if dead := x.data - x.live; dead >= minDead && dead > bestDead {
			best, bestDead = i, dead
		}
	}
	return best
}

// maybeCompact picks the sealed extent with the least live data (below
// CompactMaxLive) and starts copying it out.
func (e *Engine) maybeCompact(urgent bool) {
	if e.st.compact != nil || !urgent && e.cfg.Now().Sub(e.st.lastCompactAt) < 10*time.Millisecond {
		return
	}
	// Compaction needs room to copy into; the last free extent is kept for
	// checkpoints.
	if e.st.freeCount < 2 && (e.st.head < 0 || e.sb.ExtentSize-e.st.headOff < e.sb.ExtentSize/2) {
		return
	}
	best := e.compactCandidate()
	if best < 0 {
		if e.awaitingCheckpoint() > 0 {
			e.st.wantCkpt = true
		}
		return
	}
	x := &e.ext[best]
	x.compacting = true
	c := &compactState{ext: best, buf: iodev.AlignedBuffer(int(e.sb.ExtentSize)), started: e.cfg.Now()}
	c.op = iodev.Op{Kind: iodev.OpRead, Buf: c.buf, Off: e.extStart(best), Complete: e.ioCh, Tag: c}
	e.st.compact = c
	e.submit(&c.op)
}

func (e *Engine) onCompactRead(c *compactState, op *iodev.Op) {
	x := &e.ext[c.ext]
	if op.Err != nil {
		e.stats.ioErrors.Add(1)
		e.log.Error().Err(op.Err).Int("extent", c.ext).Msg("compaction read failed; extent left as is")
		e.st.compact = nil
		e.st.lastCompactAt = e.cfg.Now().Add(5 * time.Second)
		return
	}
	base := e.extStart(c.ext)
	e.scanExtent(c.buf, x.openSeq, 0, format.ExtentHeaderSize, func(r *format.Record, off int, recLen uint32) {
		if r.Type != format.RecWrite && r.Type != format.RecMove {
			return
		}
		o, ok := e.objects.Get(&object{key: objectKey(string(r.Pool), string(r.Name))})
		if !ok {
			return
		}
		loc := base + int64(off)
		for _, s := range o.overlapping(r.Offset, r.Offset+uint64(len(r.Data))) {
			if s.RecLoc != loc {
				continue
			}
			data := make([]byte, s.Len)
			copy(data, r.Data[s.Skip:s.Skip+s.Len])
			c.pending++
			c.moved += int64(s.Len)
			e.st.pendingInt = append(e.st.pendingInt, &mutation{
				typ: format.RecMove, pool: string(r.Pool), name: string(r.Name), off: s.Off, aux: uint64(loc),
				data: data, internal: true,
				applied: func(m *mutation, err error) { e.onMoved(c, err) },
			})
		}
	})
	c.buf = nil
	if c.pending == 0 {
		e.compactDone(c)
	}
}

func (e *Engine) onMoved(c *compactState, err error) {
	if err != nil {
		e.log.Warn().Err(err).Int("extent", c.ext).Msg("compaction move failed")
	}
	c.pending--
	if c.pending == 0 {
		e.compactDone(c)
	}
}

func (e *Engine) compactDone(c *compactState) {
	x := &e.ext[c.ext]
	e.st.compact = nil
	e.st.lastCompactAt = e.cfg.Now()
	e.stats.compacted.Add(1)
	e.stats.moved.Add(uint64(c.moved))
	if x.live == 0 {
		e.freeDeadExtents()
		if x.state == extSealed {
			e.st.wantCkpt = true
		}
	} else {
		// Something still points here (a move failed); try again later.
		x.compacting = false
	}
	e.log.Debug().Int("extent", c.ext).Int64("moved_bytes", c.moved).Dur("took", e.cfg.Now().Sub(c.started)).Msg("extent compacted")
}

// scanExtent walks the valid records of one extent image buf starting at
// byte start, calling fn for each. Records must have sequence numbers of at
// least openSeq, above prevSeq and strictly increasing; the walk stops at
// the first that is not valid. It returns the last sequence number seen and
// the offset just past the last valid record.
func (e *Engine) scanExtent(buf []byte, openSeq, prevSeq uint64, start int, fn func(r *format.Record, off int, recLen uint32)) (lastSeq uint64, end int) {
	off := start
	lastSeq = prevSeq
	for off+format.RecordHeaderSize <= len(buf) {
		r, n, err := format.DecodeRecord(buf[off:])
		if err != nil || r.Seq < openSeq || r.Seq <= lastSeq {
			break
		}
		fn(&r, off, uint32(format.RecordLen(len(r.Pool), len(r.Name), len(r.Data))))
		lastSeq = r.Seq
		off += n
	}
	return lastSeq, off
}
