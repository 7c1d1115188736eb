package engine

import (
	"fmt"
	"time"

	"github.com/store/store/daemon/format"
	"github.com/store/store/daemon/iodev"
)

// ckptState is a checkpoint being written.
type ckptState struct {
	reason    string
	seq       uint64
	pos       int64
	payload   int
	chunks    []format.ChunkRef
	remaining int
	pins      map[int]int64
	failed    error
	sb        format.Superblock
	super     *superOp
}

type superOp struct {
	buf  []byte
	op   iodev.Op
	sync bool
}

// startCheckpoint snapshots the index at the last applied record and writes
// it into the log; publishing follows in onCkptChunk/onSuperIO.
func (e *Engine) startCheckpoint(reason string) {
	if e.st.ckpt != nil {
		return
	}
	c := &ckptState{reason: reason, seq: e.st.appliedSeq, pos: e.st.appliedPos, pins: map[int]int64{}}
	w := format.NewCkptWriter(c.seq, c.pos, e.objects.Len()*64)
	// Only the owner changes the index, so it can read it without mu.
	e.objects.Ascend(func(o *object) bool {
		pool, name := splitKey(o.key)
		w.Add(pool, name, o.size, o.mtime, o.version, o.segs)
		return true
	})
	extData := make([]int64, len(e.ext))
	for i := range e.ext {
		extData[i] = e.ext[i].data
	}
	payload := w.Finish(extData)
	c.payload = len(payload)
	e.st.ckpt = c
	e.st.wantCkpt = false
	e.st.changed = false
	e.st.logSinceCkpt = 0
	e.st.lastCkpt = e.cfg.Now()
	for i := 0; len(payload) > 0; i++ {
		n := min(len(payload), e.cfg.MaxRecordData)
		c.remaining++
		c.chunks = append(c.chunks, format.ChunkRef{})
		idx := i
		e.st.pendingInt = append(e.st.pendingInt, &mutation{
			typ: format.RecCkptChunk, pool: "", name: "", aux: uint64(i), data: payload[:n], internal: true,
			applied: func(m *mutation, err error) { e.onCkptRecord(c, idx, m, err) },
		})
		payload = payload[n:]
	}
	e.log.Debug().Str("reason", reason).Uint64("seq", c.seq).Int("bytes", c.payload).Int("chunks", len(c.chunks)).Msg("checkpoint started")
}

func (e *Engine) onCkptRecord(c *ckptState, idx int, m *mutation, err error) {
	if err != nil {
		if c.failed == nil {
			c.failed = err
		}
	} else {
		c.pins[e.extentOf(m.loc)] += int64(m.recLen)
		e.addLive(m.loc, int64(m.recLen))
		if idx >= 0 {
			c.chunks[idx] = format.ChunkRef{Loc: m.loc, RecLen: m.recLen}
		}
	}
	if idx < 0 { // the manifest
		if c.failed != nil {
			e.abortCheckpoint(c)
			return
		}
		e.publishCheckpoint(c, m)
		return
	}
	c.remaining--
	if c.remaining > 0 {
		return
	}
	if c.failed != nil {
		e.abortCheckpoint(c)
		return
	}
	man := format.Manifest{Seq: c.seq, ReplayStart: c.pos, PayloadLen: uint64(c.payload), Chunks: c.chunks}
	e.st.pendingInt = append(e.st.pendingInt, &mutation{
		typ: format.RecCkptManifest, data: man.Encode(), internal: true,
		applied: func(m *mutation, err error) { e.onCkptRecord(c, -1, m, err) },
	})
}

func (e *Engine) abortCheckpoint(c *ckptState) {
	e.log.Warn().Err(c.failed).Str("reason", c.reason).Msg("checkpoint abandoned; will retry")
	for x, n := range c.pins {
		e.ext[x].live -= n
		e.stats.liveBytes.Add(-n)
	}
	e.st.ckpt = nil
	e.st.changed = true
	e.st.wantCkpt = true
}

func (e *Engine) publishCheckpoint(c *ckptState, manifest *mutation) {
	sb := e.sb
	sb.Generation++
	sb.ManifestLoc = manifest.loc
	sb.ManifestLen = manifest.recLen
	sb.CkptSeq = c.seq
	sb.ReplayStart = c.pos
	c.sb = sb
	s := &superOp{buf: iodev.AlignedBuffer(format.BlockSize)}
	sb.Encode(s.buf)
	off := int64(format.SuperblockSlotA)
	if sb.Generation%2 == 0 {
		off = format.SuperblockSlotB
	}
	c.super = s
	s.op = iodev.Op{Kind: iodev.OpWrite, Buf: s.buf, Off: off, Complete: e.ioCh, Tag: s}
	e.submit(&s.op)
}

func (e *Engine) onSuperIO(s *superOp, op *iodev.Op) {
	c := e.st.ckpt
	if c == nil || c.super != s {
		return
	}
	if op.Err != nil {
		e.stats.ioErrors.Add(1)
		c.failed = fmt.Errorf("superblock write: %v: %w", op.Err, ErrIO)
		e.abortCheckpoint(c)
		return
	}
	if !s.sync {
		s.sync = true
		s.op = iodev.Op{Kind: iodev.OpSync, Complete: e.ioCh, Tag: s}
		e.submit(&s.op)
		return
	}
	// Published: the old checkpoint's records are garbage now.
	e.sb = c.sb
	for x, n := range e.st.ckptPins {
		e.ext[x].live -= n
		e.stats.liveBytes.Add(-n)
	}
	e.st.ckptPins = c.pins
	e.st.ckptSeq = c.seq
	e.st.ckpt = nil
	e.stats.checkpoints.Add(1)
	e.stats.ckptSeq.Store(c.seq)
	e.freeDeadExtents()
	e.log.Debug().Str("reason", c.reason).Uint64("seq", c.seq).Int("bytes", c.payload).Int("free_extents", e.st.freeCount).Msg("checkpoint published")
}

// freeDeadExtents frees sealed extents that hold nothing live and nothing
// that replay from the current checkpoint would read.
func (e *Engine) freeDeadExtents() {
	n := e.st.freeCount
	for i := range e.ext {
		x := &e.ext[i]
		if x.state == extSealed && x.live == 0 && x.maxSeq <= e.st.ckptSeq && e.st.ckptPins[i] == 0 {
			x.state = extFree
			x.compacting = false
			n++
		}
	}
	e.setFree(n)
}

// awaitingCheckpoint counts sealed extents that are dead but still needed
// for replay.
func (e *Engine) awaitingCheckpoint() int {
	n := 0
	for i := range e.ext {
		x := &e.ext[i]
		if x.state == extSealed && x.live == 0 && x.maxSeq > e.st.ckptSeq {
			n++
		}
	}
	return n
}

// housekeeping starts checkpoints and compaction when due.
func (e *Engine) housekeeping() {
	if e.st.closing {
		return
	}
	pressure := e.st.freeCount <= 2*e.st.reserve || e.st.userBlocked
	low := pressure || float64(e.st.freeCount) < e.cfg.CompactBelowFree*float64(len(e.ext))
	if e.st.ckpt == nil && (e.st.changed || e.st.wantCkpt) {
		since := e.cfg.Now().Sub(e.st.lastCkpt)
		due := e.st.logSinceCkpt >= e.cfg.CheckpointLogBytes || since >= e.cfg.CheckpointInterval ||
			e.st.wantCkpt && (pressure || since >= time.Second)
		if !due && low && since >= time.Second && e.awaitingCheckpoint() > 0 {
			due = true
		}
		if !due && pressure && e.awaitingCheckpoint() > 0 {
			due = true
		}
		if due {
			e.startCheckpoint("due")
		}
	}
	if low {
		e.maybeCompact(pressure)
	}
}

// reclaimable reports whether compaction or a checkpoint can still free an
// extent: something is in progress, an extent waits for a checkpoint, or a
// sealed extent is below the compaction threshold.
func (e *Engine) reclaimable() bool {
	if e.st.compact != nil || e.st.ckpt != nil {
		return true
	}
	return e.awaitingCheckpoint() > 0 || e.compactCandidate() >= 0
}
