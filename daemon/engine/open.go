package engine

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/rs/zerolog"

	"github.com/store/store/daemon/format"
	"github.com/store/store/daemon/iodev"
)

// FormatOptions control Format.
type FormatOptions struct {
	// ExtentSize in bytes: a power of two from 1 MiB to 256 MiB (default 16 MiB).
	ExtentSize int64
	// Force formats a disk that holds data: another store's superblock or
	// anything else that is not zeros.
	Force bool
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

// syncIO runs ops on dev and waits for all of them.
func syncIO(ctx context.Context, dev iodev.Device, ops ...*iodev.Op) error {
	ch := make(chan *iodev.Op, len(ops))
	for _, op := range ops {
		op.Complete = ch
	}
	dev.Submit(ops...)
	var first error
	for range ops {
		op := <-ch
		if op.Err != nil && first == nil {
			first = op.Err
		}
	}
	return first
}

// Format writes a new, empty store onto dev. It refuses (ErrForeignData)
// a disk whose first MiB is not all zeros unless opts.Force is set.
func Format(ctx context.Context, dev iodev.Device, opts FormatOptions) error {
	if opts.ExtentSize == 0 {
		opts.ExtentSize = format.DefaultExtentSize
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	es := opts.ExtentSize
	if es < format.MinExtentSize || es > format.MaxExtentSize || es&(es-1) != 0 {
		return fmt.Errorf("format: extent size %d is not a power of two between 1 MiB and 256 MiB: %w", es, ErrInvalidArg)
	}
	if dev.Size() < format.DataStart {
		return fmt.Errorf("format: disk of %d bytes is smaller than 1 MiB: %w", dev.Size(), ErrNoSpace)
	}
	head := iodev.AlignedBuffer(format.DataStart)
	if err := syncIO(ctx, dev, &iodev.Op{Kind: iodev.OpRead, Buf: head, Off: 0}); err != nil {
		return fmt.Errorf("format: read the first MiB: %w", err)
	}
	if !opts.Force {
		for _, slot := range []int{format.SuperblockSlotA, format.SuperblockSlotB} {
			if sb, err := format.DecodeSuperblock(head[slot:]); err == nil {
				return fmt.Errorf("format: disk already holds a store (disk %x, daemon %d); use --force to erase it: %w", sb.DiskUUID, sb.DaemonID, ErrForeignData)
			}
		}
		if !allZero(head) {
			return fmt.Errorf("format: the first MiB of the disk is not zeros (a filesystem or other data?); use --force to erase it: %w", ErrForeignData)
		}
	}
	count := (dev.Size() - format.DataStart) / es
	if count < 8 {
		return fmt.Errorf("format: disk of %d bytes holds %d extents of %d bytes, need at least 8: %w", dev.Size(), max(count, 0), es, ErrNoSpace)
	}
	sb := format.Superblock{
		Version: format.Version, ExtentSize: es, ExtentCount: count, DataStart: format.DataStart,
		CreatedNano: opts.Now().UnixNano(), Generation: 1,
	}
	if _, err := rand.Read(sb.DiskUUID[:]); err != nil {
		return fmt.Errorf("format: disk uuid: %w", err)
	}
	clear(head)
	sb.Encode(head[format.SuperblockSlotA:])
	if err := syncIO(ctx, dev, &iodev.Op{Kind: iodev.OpWrite, Buf: head, Off: 0}); err != nil {
		return fmt.Errorf("format: write superblock: %w", err)
	}
	if err := syncIO(ctx, dev, &iodev.Op{Kind: iodev.OpSync}); err != nil {
		return fmt.Errorf("format: sync: %w", err)
	}
	return nil
}

func allZero(b []byte) bool {
	for len(b) > 0 {
		n := min(len(b), 4096)
		if !bytes.Equal(b[:n], zeroBlock[:n]) {
			return false
		}
		b = b[n:]
	}
	return true
}

var zeroBlock [4096]byte

// readSuperblock returns the newest valid superblock.
func readSuperblock(ctx context.Context, dev iodev.Device) (format.Superblock, error) {
	buf := iodev.AlignedBuffer(2 * format.BlockSize)
	if err := syncIO(ctx, dev, &iodev.Op{Kind: iodev.OpRead, Buf: buf, Off: 0}); err != nil {
		return format.Superblock{}, fmt.Errorf("read superblock: %v: %w", err, ErrIO)
	}
	a, errA := format.DecodeSuperblock(buf[format.SuperblockSlotA:])
	b, errB := format.DecodeSuperblock(buf[format.SuperblockSlotB:])
	switch {
	case errA == nil && errB == nil:
		if b.Generation > a.Generation {
			return b, nil
		}
		return a, nil
	case errA == nil:
		return a, nil
	case errB == nil:
		return b, nil
	case errors.Is(errA, format.ErrMagic) && errors.Is(errB, format.ErrMagic):
		return format.Superblock{}, ErrNotFormatted
	}
	return format.Superblock{}, fmt.Errorf("superblock slots unreadable (A: %v; B: %v): %w", errA, errB, ErrCorrupt)
}

// DiskInfo is what a disk's superblock says about it.
type DiskInfo struct {
	DiskUUID    [16]byte
	DaemonID    uint64
	ClusterUUID [16]byte
	ExtentSize  int64
	ExtentCount int64
	Created     time.Time
}

// Info returns the disk's identity.
func (e *Engine) Info() DiskInfo {
	return DiskInfo{DiskUUID: e.sb.DiskUUID, DaemonID: e.sb.DaemonID, ClusterUUID: e.sb.ClusterUUID,
		ExtentSize: e.sb.ExtentSize, ExtentCount: e.sb.ExtentCount, Created: time.Unix(0, e.sb.CreatedNano)}
}

// Open mounts a formatted disk: it loads the latest checkpoint, replays the
// log after it and starts the engine. ErrNotFormatted if dev holds no store.
func Open(ctx context.Context, dev iodev.Device, cfg Config, log zerolog.Logger) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	began := time.Now()
	sb, err := readSuperblock(ctx, dev)
	if err != nil {
		return nil, err
	}
	if need := sb.DataStart + sb.ExtentCount*sb.ExtentSize; need > dev.Size() {
		return nil, fmt.Errorf("disk is %d bytes but its superblock describes %d: truncated? %w", dev.Size(), need, ErrCorrupt)
	}
	cfg.MaxRecordData = min(cfg.MaxRecordData, int(sb.ExtentSize/4))
	cfg.MaxBatchBytes = min(cfg.MaxBatchBytes, int(sb.ExtentSize/2))
	e := &Engine{
		dev: dev, cfg: cfg, log: log, sb: sb,
		objects: newObjectTree(),
		ext:     make([]extent, sb.ExtentCount),
		mutCh:   make(chan *mutation, 1024),
		ioCh:    make(chan *iodev.Op, 4096),
		closeCh: make(chan struct{}),
		done:    make(chan struct{}),
	}
	e.st.head = -1
	e.st.reserve = cfg.ReserveExtents
	if e.st.reserve == 0 {
		e.st.reserve = max(3, int(sb.ExtentCount/50))
	}
	if err := e.recover(ctx); err != nil {
		return nil, err
	}
	e.st.lastCkpt = cfg.Now()
	log.Info().Int("objects", e.objects.Len()).Int("free_extents", e.st.freeCount).Int64("extents", sb.ExtentCount).
		Uint64("recovered_records", e.stats.recovered.Load()).Dur("took", time.Since(began)).Msg("disk opened")
	go e.loop()
	return e, nil
}

// Close flushes pending writes, writes a checkpoint so the next start is
// fast, and stops the engine. The device stays open.
func (e *Engine) Close() error {
	if e.closing.Swap(true) {
		<-e.done
		return nil
	}
	close(e.closeCh)
	<-e.done
	return nil
}

// recover loads the checkpoint and replays the log (Open, before the owner
// goroutine starts).
func (e *Engine) recover(ctx context.Context) error {
	sb := e.sb
	// Extent headers.
	hdrs := make([]format.ExtentHeader, sb.ExtentCount)
	valid := make([]bool, sb.ExtentCount)
	const group = 256
	for first := int64(0); first < sb.ExtentCount; first += group {
		n := min(group, sb.ExtentCount-first)
		buf := iodev.AlignedBuffer(int(n) * format.ExtentHeaderSize)
		ops := make([]*iodev.Op, n)
		for i := range ops {
			ops[i] = &iodev.Op{Kind: iodev.OpRead, Buf: buf[i*format.ExtentHeaderSize : (i+1)*format.ExtentHeaderSize], Off: sb.ExtentOffset(first + int64(i))}
		}
		if err := syncIO(ctx, e.dev, ops...); err != nil {
			return fmt.Errorf("read extent headers: %v: %w", err, ErrIO)
		}
		for i := range ops {
			h, err := format.DecodeExtentHeader(ops[i].Buf)
			if err == nil && h.DiskUUID == sb.DiskUUID && int64(h.Index) == first+int64(i) {
				hdrs[first+int64(i)] = h
				valid[first+int64(i)] = true
			}
		}
	}
	var maxOpen uint64
	for i := range hdrs {
		if valid[i] {
			maxOpen = max(maxOpen, hdrs[i].OpenSeq)
		}
	}

	// Checkpoint.
	S := sb.CkptSeq
	e.st.ckptPins = map[int]int64{}
	if sb.ManifestLoc != 0 {
		if err := e.loadCheckpoint(ctx, sb); err != nil {
			return err
		}
	}

	// Replay: P's extent from P (when it was not reused since), then every
	// extent opened after S, in open order.
	type span struct {
		ext   int
		start int
	}
	var spans []span
	if sb.ReplayStart != 0 {
		x := e.extentOf(sb.ReplayStart)
		if valid[x] && hdrs[x].OpenSeq <= S {
			spans = append(spans, span{x, int(sb.ReplayStart - e.extStart(x))})
		}
	}
	var later []int
	for i := range hdrs {
		if valid[i] && hdrs[i].OpenSeq > S {
			later = append(later, i)
		}
	}
	sort.Slice(later, func(a, b int) bool { return hdrs[later[a]].OpenSeq < hdrs[later[b]].OpenSeq })
	for _, x := range later {
		e.ext[x].data = 0
		spans = append(spans, span{x, format.ExtentHeaderSize})
	}
	maxSeq := make([]uint64, sb.ExtentCount)
	for i := range hdrs {
		if valid[i] {
			maxSeq[i] = hdrs[i].OpenSeq
		}
	}
	prev := S
	lastExt, lastEnd := -1, 0
	var buf []byte
	var recovered uint64
	for _, sp := range spans {
		if buf == nil {
			buf = iodev.AlignedBuffer(int(sb.ExtentSize))
		}
		readStart := sp.start &^ (format.BlockSize - 1)
		if err := syncIO(ctx, e.dev, &iodev.Op{Kind: iodev.OpRead, Buf: buf[readStart:], Off: e.extStart(sp.ext) + int64(readStart)}); err != nil {
			return fmt.Errorf("replay extent %d: %v: %w", sp.ext, err, ErrIO)
		}
		base := e.extStart(sp.ext)
		last, end := e.scanExtent(buf, hdrs[sp.ext].OpenSeq, prev, sp.start, func(r *format.Record, off int, recLen uint32) {
			recovered++
			switch r.Type {
			case format.RecWrite, format.RecMove:
				e.ext[sp.ext].data += int64(len(r.Data))
			case format.RecCkptChunk, format.RecCkptManifest:
				e.ext[sp.ext].data += int64(recLen)
			}
			_, _ = e.apply(applyArgs{
				typ: r.Type, pool: string(r.Pool), name: string(r.Name), off: r.Offset, aux: r.Aux,
				dataLen: len(r.Data), seq: r.Seq, mtime: r.MTime, loc: base + int64(off), recLen: recLen,
			})
		})
		if last > prev {
			maxSeq[sp.ext] = last
			prev = last
		}
		lastExt, lastEnd = sp.ext, end
	}
	e.stats.recovered.Store(recovered)

	// Extent states.
	e.st.ckptSeq = S
	e.stats.ckptSeq.Store(S)
	free := 0
	for i := range e.ext {
		x := &e.ext[i]
		x.openSeq = hdrs[i].OpenSeq
		x.maxSeq = maxSeq[i]
		x.used = sb.ExtentSize
		switch {
		case !valid[i]:
			x.state = extFree
		case x.live == 0 && x.maxSeq <= S && e.st.ckptPins[i] == 0 && i != lastExt:
			x.state = extFree
		default:
			x.state = extSealed
		}
		if x.state == extFree {
			free++
		}
	}
	e.setFree(free)
	// Continue the log where it ended, in the last replayed extent, or
	// start a fresh extent if that one is full.
	if lastExt >= 0 {
		off := (int64(lastEnd) + format.BlockSize - 1) &^ (format.BlockSize - 1)
		if off+padReserve+format.BlockSize < sb.ExtentSize {
			e.ext[lastExt].state = extOpen
			e.ext[lastExt].used = off
			e.st.head = lastExt
			e.st.headOff = off
			e.st.appliedPos = e.extStart(lastExt) + off
		}
	}
	// New sequence numbers must exceed anything a torn, unreplayed write
	// may have left on disk: leave a wide gap.
	e.st.nextSeq = max(prev, S, maxOpen) + 1<<32
	e.st.appliedSeq = prev
	if e.st.appliedPos == 0 {
		e.st.appliedPos = sb.ReplayStart
	}
	if recovered > 0 {
		e.st.changed = true
	}
	return nil
}

func (e *Engine) loadCheckpoint(ctx context.Context, sb format.Superblock) error {
	readRecord := func(loc int64, recLen uint32, want format.RecType) (format.Record, error) {
		start := loc &^ (format.BlockSize - 1)
		end := (loc + int64(recLen) + format.BlockSize - 1) &^ (format.BlockSize - 1)
		buf := iodev.AlignedBuffer(int(end - start))
		if err := syncIO(ctx, e.dev, &iodev.Op{Kind: iodev.OpRead, Buf: buf, Off: start}); err != nil {
			return format.Record{}, fmt.Errorf("read checkpoint record at %d: %v: %w", loc, err, ErrIO)
		}
		r, _, err := format.DecodeRecord(buf[loc-start:])
		if err == nil && r.Type != want {
			err = fmt.Errorf("found a %s record", r.Type)
		}
		if err != nil {
			return r, fmt.Errorf("checkpoint %s record at %d: %v: %w", want, loc, err, ErrCorrupt)
		}
		e.ext[e.extentOf(loc)].live += int64(recLen)
		e.stats.liveBytes.Add(int64(recLen))
		e.st.ckptPins[e.extentOf(loc)] += int64(recLen)
		return r, nil
	}
	mr, err := readRecord(sb.ManifestLoc, sb.ManifestLen, format.RecCkptManifest)
	if err != nil {
		return err
	}
	man, err := format.DecodeManifest(mr.Data)
	if err != nil || man.Seq != sb.CkptSeq {
		return fmt.Errorf("checkpoint manifest at %d (seq %d, superblock says %d): %v: %w", sb.ManifestLoc, man.Seq, sb.CkptSeq, err, ErrCorrupt)
	}
	payload := make([]byte, 0, man.PayloadLen)
	for _, c := range man.Chunks {
		r, err := readRecord(c.Loc, c.RecLen, format.RecCkptChunk)
		if err != nil {
			return err
		}
		payload = append(payload, r.Data...)
	}
	_, _, extData, err := format.ParseCheckpoint(payload, func(o format.CkptObject) error {
		obj := &object{key: objectKey(string(o.Pool), string(o.Name)), size: o.Size, mtime: o.MTime, version: o.Version, segs: o.Segs}
		for _, s := range o.Segs {
			x := e.extentOf(s.RecLoc)
			if x < 0 || x >= len(e.ext) {
				return fmt.Errorf("checkpoint object %s/%s points outside the disk (%d): %w", o.Pool, o.Name, s.RecLoc, ErrCorrupt)
			}
			e.ext[x].live += int64(s.Len)
			e.stats.liveBytes.Add(int64(s.Len))
		}
		e.objects.ReplaceOrInsert(obj)
		return nil
	})
	if err != nil {
		return fmt.Errorf("load checkpoint at seq %d: %w", sb.CkptSeq, err)
	}
	for i := range e.ext {
		if i < len(extData) {
			e.ext[i].data = extData[i]
		}
	}
	return nil
}
