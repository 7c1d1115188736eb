package engine

import (
	"fmt"
	"time"

	"github.com/store/store/daemon/format"
	"github.com/store/store/daemon/iodev"
)

// ownerState belongs to the owner goroutine.
type ownerState struct {
	nextSeq uint64
	// head is the open extent (-1: none); headOff is where its next batch
	// goes, relative to the extent start; headFromReserve: it was opened
	// from the reserve, so user writes may not use it.
	head            int
	headOff         int64
	headFromReserve bool

	pendingUser []*mutation
	pendingInt  []*mutation
	takeInt     bool // alternate internal and user mutations
	// userBlocked: user writes wait for compaction to free space (since
	// stallSince); only internal mutations are placed meanwhile.
	userBlocked bool
	stallSince  time.Time

	inflight []*batch // formed, not yet applied; in log order
	zombies  int      // failed batches whose write has not completed yet
	syncGen  uint64   // bumped when in-flight batches are failed
	sync     *syncOp  // the fdatasync in flight, if any
	freeBufs [][]byte
	ops      int // device ops submitted by the owner and not yet completed

	appliedSeq uint64
	appliedPos int64

	logSinceCkpt int64
	lastCkpt     time.Time
	changed      bool
	ckpt         *ckptState
	ckptSeq      uint64
	ckptPins     map[int]int64
	wantCkpt     bool

	compact       *compactState
	lastCompactAt time.Time

	freeCount int
	reserve   int
	closing   bool
	finalCkpt bool
}

type batch struct {
	buf     []byte
	off     int64 // disk offset of buf[0]
	end     int64 // disk offset just past the batch (block aligned)
	muts    []*mutation
	lastSeq uint64
	written bool
	durable bool
	failed  bool
	op      iodev.Op
}

type syncOp struct {
	gen    uint64
	covers []*batch
	op     iodev.Op
}

func (e *Engine) extentOf(loc int64) int { return int((loc - e.sb.DataStart) / e.sb.ExtentSize) }

func (e *Engine) extStart(i int) int64 { return e.sb.ExtentOffset(int64(i)) }

func (e *Engine) addLive(loc int64, n int64) {
	i := e.extentOf(loc)
	x := &e.ext[i]
	x.live += n
	e.stats.liveBytes.Add(n)
	if x.live == 0 && x.state == extSealed && x.maxSeq <= e.st.ckptSeq && e.st.ckptPins[i] == 0 {
		x.state = extFree
		x.compacting = false
		e.setFree(e.st.freeCount + 1)
	}
}

func (e *Engine) submit(ops ...*iodev.Op) {
	e.st.ops += len(ops)
	e.dev.Submit(ops...)
}

// loop is the owner goroutine.
func (e *Engine) loop() {
	defer close(e.done)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		mutCh := e.mutCh
		if e.st.closing || len(e.st.pendingUser) >= 4096 {
			mutCh = nil
		}
		select {
		case m := <-mutCh:
			e.st.pendingUser = append(e.st.pendingUser, m)
		drain:
			for len(e.st.pendingUser) < 4096 {
				select {
				case m := <-e.mutCh:
					e.st.pendingUser = append(e.st.pendingUser, m)
				default:
					break drain
				}
			}
		case op := <-e.ioCh:
			e.onIO(op)
		drainIO:
			for {
				select {
				case op := <-e.ioCh:
					e.onIO(op)
				default:
					break drainIO
				}
			}
		case <-tick.C:
		case <-e.closeCh:
			e.st.closing = true
			e.closeCh = nil
		}
		e.formBatches()
		e.housekeeping()
		if e.st.closing && e.closeDone() {
			return
		}
	}
}

// closeDone drives shutdown: flush, final checkpoint, wait for I/O.
func (e *Engine) closeDone() bool {
	if len(e.st.pendingUser) > 0 || len(e.st.pendingInt) > 0 || len(e.st.inflight) > 0 || e.st.compact != nil {
		return false
	}
	if e.st.ckpt != nil {
		return false
	}
	if !e.st.finalCkpt {
		e.st.finalCkpt = true
		if e.st.changed && e.st.head >= 0 {
			e.startCheckpoint("shutdown")
			return false
		}
	}
	if e.st.ops > 0 {
		return false
	}
	// Reject anyone still trying to send.
	for {
		select {
		case m := <-e.mutCh:
			e.finish(m, ObjectInfo{}, ErrClosed)
		default:
			return true
		}
	}
}

func (e *Engine) finish(m *mutation, info ObjectInfo, err error) {
	if m.done != nil {
		m.done <- mutResult{info: info, err: err}
	}
	if m.applied != nil {
		m.applied(m, err)
	}
}

func (e *Engine) getBuf() []byte {
	if n := len(e.st.freeBufs); n > 0 {
		b := e.st.freeBufs[n-1]
		e.st.freeBufs = e.st.freeBufs[:n-1]
		return b[:0]
	}
	size := e.cfg.MaxBatchBytes + e.cfg.MaxRecordData + 4*format.BlockSize
	return iodev.AlignedBuffer(size)[:0]
}

func (e *Engine) putBuf(b []byte) {
	if len(e.st.freeBufs) < e.cfg.MaxInflightBatches+2 {
		e.st.freeBufs = append(e.st.freeBufs, b)
	}
}

// nextMutation pops the next mutation to place, alternating sources.
func (e *Engine) peekMutation() (*mutation, bool) {
	useInt := len(e.st.pendingInt) > 0 && (e.st.takeInt || len(e.st.pendingUser) == 0 || e.st.userBlocked)
	if useInt {
		return e.st.pendingInt[0], true
	}
	if len(e.st.pendingUser) > 0 && !e.st.userBlocked {
		return e.st.pendingUser[0], false
	}
	return nil, false
}

func (e *Engine) popMutation(internal bool) {
	if internal {
		e.st.pendingInt[0] = nil
		e.st.pendingInt = e.st.pendingInt[1:]
	} else {
		e.st.pendingUser[0] = nil
		e.st.pendingUser = e.st.pendingUser[1:]
	}
	e.st.takeInt = !e.st.takeInt
}

func (e *Engine) formBatches() {
	e.st.userBlocked = false
	for len(e.st.inflight) < e.cfg.MaxInflightBatches &&
		len(e.st.pendingUser)+len(e.st.pendingInt) > 0 {
		if !e.formBatch() {
			return
		}
	}
}

// padReserve is the room kept at an extent's end for a batch's padding.
const padReserve = format.BlockSize + format.RecordHeaderSize

// formBatch places as many pending mutations as fit into one batch and
// submits it. It returns false when nothing could be placed.
func (e *Engine) formBatch() bool {
	var b *batch
	for {
		m, internal := e.peekMutation()
		if m == nil {
			break
		}
		alen := int64(format.AlignRecord(format.RecordLen(len(m.pool), len(m.name), len(m.data))))
		if b != nil {
			if int64(len(b.buf))+alen > int64(e.cfg.MaxBatchBytes) ||
				e.st.headOff+int64(len(b.buf))+alen+padReserve > e.sb.ExtentSize {
				break
			}
		} else {
			if e.st.head < 0 || e.st.headOff+alen+padReserve > e.sb.ExtentSize {
				if err := e.openExtent(); err != nil {
					// No extent at all: fail what is pending.
					e.popMutation(internal)
					e.stats.noSpace.Add(1)
					e.finish(m, ObjectInfo{}, err)
					continue
				}
			}
			b = &batch{buf: e.getBuf(), off: e.extStart(e.st.head) + e.st.headOff}
			if e.st.headOff == 0 {
				h := format.ExtentHeader{Index: uint32(e.st.head), OpenSeq: e.ext[e.st.head].openSeq, DiskUUID: e.sb.DiskUUID}
				b.buf = b.buf[:format.ExtentHeaderSize]
				h.Encode(b.buf)
			}
		}
		if e.st.headFromReserve && e.st.freeCount >= e.st.reserve {
			e.st.headFromReserve = false
		}
		if m.typ == format.RecWrite && !internal && e.st.headFromReserve {
			// Wait while compaction or a checkpoint can still free space.
			now := e.cfg.Now()
			if e.st.stallSince.IsZero() {
				e.st.stallSince = now
			}
			if e.reclaimable() && now.Sub(e.st.stallSince) < e.cfg.NoSpaceWait {
				e.st.userBlocked = true
				continue
			}
			e.popMutation(internal)
			e.stats.noSpace.Add(1)
			e.log.Debug().Int("free", e.st.freeCount).Int("awaiting", e.awaitingCheckpoint()).Int("candidate", e.compactCandidate()).
				Bool("compacting", e.st.compact != nil).Bool("ckpt", e.st.ckpt != nil).Dur("stalled", now.Sub(e.st.stallSince)).Msg("write refused: no space")
			e.finish(m, ObjectInfo{}, fmt.Errorf("%d of %d extents free, the rest reserved for deletes and compaction: %w",
				e.st.freeCount, len(e.ext), ErrNoSpace))
			continue
		}
		e.popMutation(internal)
		if !internal {
			e.st.stallSince = time.Time{}
		}
		m.seq = e.st.nextSeq
		e.st.nextSeq++
		m.mtime = e.cfg.Now().UnixNano()
		m.loc = b.off + int64(len(b.buf))
		m.recLen = uint32(format.RecordLen(len(m.pool), len(m.name), len(m.data)))
		b.buf = format.AppendRecord(b.buf, &format.Record{
			Type: m.typ, Seq: m.seq, Offset: m.off, MTime: m.mtime, Aux: m.aux,
			Pool: []byte(m.pool), Name: []byte(m.name), Data: m.data,
		})
		b.muts = append(b.muts, m)
		switch m.typ {
		case format.RecWrite, format.RecMove:
			e.ext[e.st.head].data += int64(len(m.data))
		case format.RecCkptChunk, format.RecCkptManifest:
			e.ext[e.st.head].data += int64(m.recLen)
		}
	}
	if b == nil || len(b.muts) == 0 {
		if b != nil {
			e.putBuf(b.buf)
		}
		return false
	}
	// Pad to the block size so the next batch starts on a block boundary.
	if rem := len(b.buf) % format.BlockSize; rem != 0 {
		gap := format.BlockSize - rem
		if gap < format.RecordHeaderSize {
			gap += format.BlockSize
		}
		b.buf = format.AppendPad(b.buf, e.st.nextSeq, gap)
		e.st.nextSeq++
	}
	b.lastSeq = e.st.nextSeq - 1
	b.end = b.off + int64(len(b.buf))
	x := &e.ext[e.st.head]
	x.maxSeq = b.lastSeq
	e.st.headOff += int64(len(b.buf))
	x.used = e.st.headOff
	e.st.logSinceCkpt += int64(len(b.buf))
	e.st.changed = true
	e.stats.batches.Add(1)
	if n := uint64(len(b.muts)); n > e.stats.maxRecsPerBatch.Load() {
		e.stats.maxRecsPerBatch.Store(n)
	}
	b.op = iodev.Op{Kind: iodev.OpWrite, Buf: b.buf, Off: b.off, Complete: e.ioCh, Tag: b}
	e.st.inflight = append(e.st.inflight, b)
	e.submit(&b.op)
	return true
}

// openExtent seals the head and opens a free extent.
func (e *Engine) openExtent() error {
	if e.st.head >= 0 {
		e.sealHead()
	}
	pick := -1
	for i := range e.ext {
		if e.ext[i].state == extFree && e.ext[i].refs.Load() == 0 {
			pick = i
			break
		}
	}
	if pick < 0 {
		return fmt.Errorf("all %d extents in use: %w", len(e.ext), ErrNoSpace)
	}
	x := &e.ext[pick]
	x.state = extOpen
	x.openSeq = e.st.nextSeq
	x.maxSeq = x.openSeq
	x.live = 0
	x.used = 0
	x.data = 0
	x.compacting = false
	e.setFree(e.st.freeCount - 1)
	e.st.head = pick
	e.st.headOff = 0
	e.st.headFromReserve = e.st.freeCount < e.st.reserve
	return nil
}

func (e *Engine) sealHead() {
	if e.st.head < 0 {
		return
	}
	x := &e.ext[e.st.head]
	x.state = extSealed
	x.used = e.st.headOff
	e.st.head = -1
	e.st.headOff = 0
}

func (e *Engine) setFree(n int) {
	e.st.freeCount = n
	e.stats.freeExtents.Store(int64(n))
}

// onIO handles one completed owner op.
func (e *Engine) onIO(op *iodev.Op) {
	e.st.ops--
	switch t := op.Tag.(type) {
	case *batch:
		e.onBatchWritten(t, op.Err)
	case *syncOp:
		e.onSynced(t, op.Err)
	case *superOp:
		e.onSuperIO(t, op)
	case *compactState:
		e.onCompactRead(t, op)
	default:
		e.log.Error().Msgf("engine: completion with unknown tag %T", op.Tag)
	}
}

func (e *Engine) onBatchWritten(b *batch, err error) {
	if b.failed {
		e.st.zombies--
		e.putBuf(b.buf)
		return
	}
	if err != nil {
		e.stats.ioErrors.Add(1)
		e.failInflight(fmt.Errorf("log write of %d bytes at %d: %v: %w", len(b.buf), b.off, err, ErrIO))
		return
	}
	b.written = true
	e.maybeSync()
}

func (e *Engine) maybeSync() {
	if e.st.sync != nil {
		return
	}
	var covers []*batch
	for _, b := range e.st.inflight {
		if b.written && !b.durable {
			covers = append(covers, b)
		}
	}
	if len(covers) == 0 {
		return
	}
	s := &syncOp{gen: e.st.syncGen, covers: covers}
	s.op = iodev.Op{Kind: iodev.OpSync, Complete: e.ioCh, Tag: s}
	e.st.sync = s
	e.stats.syncs.Add(1)
	e.submit(&s.op)
}

func (e *Engine) onSynced(s *syncOp, err error) {
	e.st.sync = nil
	if s.gen != e.st.syncGen {
		e.maybeSync()
		return
	}
	if err != nil {
		e.stats.ioErrors.Add(1)
		e.failInflight(fmt.Errorf("fdatasync: %v: %w", err, ErrIO))
		return
	}
	for _, b := range s.covers {
		b.durable = true
	}
	e.applyDurable()
	e.maybeSync()
}

// failInflight fails every unacknowledged batch and abandons the open
// extent, so nothing acknowledged later sits behind a possibly-missing
// region of the log.
func (e *Engine) failInflight(err error) {
	e.log.Error().Err(err).Int("batches", len(e.st.inflight)).Msg("log write failed; failing unacknowledged writes and abandoning the open extent")
	e.st.syncGen++
	for _, b := range e.st.inflight {
		b.failed = true
		for _, m := range b.muts {
			e.finish(m, ObjectInfo{}, err)
		}
		if b.written {
			e.putBuf(b.buf)
		} else {
			e.st.zombies++
		}
	}
	e.st.inflight = nil
	e.sealHead()
}

// applyDurable applies durable batches, in log order, and acknowledges them.
func (e *Engine) applyDurable() {
	for len(e.st.inflight) > 0 && e.st.inflight[0].durable {
		b := e.st.inflight[0]
		e.st.inflight = e.st.inflight[1:]
		type res struct {
			info ObjectInfo
			err  error
		}
		results := make([]res, len(b.muts))
		e.mu.Lock()
		for i, m := range b.muts {
			results[i].info, results[i].err = e.apply(applyArgs{
				typ: m.typ, pool: m.pool, name: m.name, off: m.off, aux: m.aux,
				dataLen: len(m.data), seq: m.seq, mtime: m.mtime, loc: m.loc, recLen: m.recLen,
			})
		}
		e.mu.Unlock()
		for i, m := range b.muts {
			if m.typ == format.RecWrite && results[i].err == nil {
				e.stats.bytesWritten.Add(uint64(len(m.data)))
			}
			e.finish(m, results[i].info, results[i].err)
		}
		e.st.appliedSeq = b.lastSeq
		e.st.appliedPos = b.end
		e.putBuf(b.buf)
	}
}

type applyArgs struct {
	typ        format.RecType
	pool, name string
	off, aux   uint64
	dataLen    int
	seq        uint64
	mtime      int64
	loc        int64
	recLen     uint32
}

// apply changes the index for one durable record (live, or on replay).
// Caller holds mu for writing (or is recovering alone).
func (e *Engine) apply(a applyArgs) (ObjectInfo, error) {
	dropped := func(old format.Segment, n uint32) { e.addLive(old.RecLoc, -int64(n)) }
	switch a.typ {
	case format.RecWrite:
		o := e.getOrCreate(a.pool, a.name)
		if a.dataLen > 0 {
			o.put(format.Segment{Off: a.off, Len: uint32(a.dataLen), RecLoc: a.loc, RecLen: a.recLen}, dropped)
			e.addLive(a.loc, int64(a.dataLen))
			o.size = max(o.size, a.off+uint64(a.dataLen))
		}
		o.mtime, o.version = a.mtime, a.seq
		return o.info(), nil
	case format.RecTruncate:
		o := e.getOrCreate(a.pool, a.name)
		if a.off < o.size {
			o.cut(a.off, dropped)
		}
		o.size = a.off
		o.mtime, o.version = a.mtime, a.seq
		return o.info(), nil
	case format.RecDelete:
		o, ok := e.objects.Get(&object{key: objectKey(a.pool, a.name)})
		if !ok {
			return ObjectInfo{}, ErrNotFound
		}
		o.cut(0, dropped)
		e.objects.Delete(o)
		return ObjectInfo{}, nil
	case format.RecMove:
		o, ok := e.objects.Get(&object{key: objectKey(a.pool, a.name)})
		if !ok {
			return ObjectInfo{}, nil
		}
		src := int64(a.aux)
		end := a.off + uint64(a.dataLen)
		var pieces []format.Segment
		for _, s := range o.overlapping(a.off, end) {
			if s.RecLoc != src {
				continue
			}
			lo, hi := max(s.Off, a.off), min(segEnd(s), end)
			pieces = append(pieces, format.Segment{Off: lo, Len: uint32(hi - lo), RecLoc: a.loc, RecLen: a.recLen, Skip: uint32(lo - a.off)})
		}
		for _, p := range pieces {
			o.put(p, dropped)
			e.addLive(a.loc, int64(p.Len))
		}
		return o.info(), nil
	}
	return ObjectInfo{}, nil
}

func (e *Engine) getOrCreate(pool, name string) *object {
	key := objectKey(pool, name)
	if o, ok := e.objects.Get(&object{key: key}); ok {
		return o
	}
	o := &object{key: key}
	e.objects.ReplaceOrInsert(o)
	return o
}
