package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/google/btree"
	"github.com/rs/zerolog"

	"github.com/store/store/daemon/format"
	"github.com/store/store/daemon/iodev"
)

// Engine is one disk's object store. Create it with Open.
type Engine struct {
	dev iodev.Device
	cfg Config
	log zerolog.Logger
	// sb is the disk's superblock as last written (owner goroutine only
	// after Open returns).
	sb format.Superblock

	// mu guards objects and, for writers, every object's fields. Only the
	// owner goroutine takes it for writing.
	mu      sync.RWMutex
	objects *btree.BTreeG[*object]

	// ext is indexed by extent number. Its fields belong to the owner
	// goroutine, except refs (atomic, taken by readers under mu.RLock).
	ext []extent

	mutCh   chan *mutation
	ioCh    chan *iodev.Op
	closeCh chan struct{}
	done    chan struct{}
	closing atomic.Bool
	stats   statCounters

	// Owner-goroutine state (loop.go).
	st ownerState
}

type extState uint8

const (
	extFree extState = iota
	extOpen
	extSealed
)

type extent struct {
	state   extState
	openSeq uint64
	maxSeq  uint64
	// live is the number of bytes of object data the index references in
	// this extent, plus bytes of the current checkpoint pinned here.
	live int64
	// used is how far the extent is filled (sealed extents: their end).
	used int64
	// data counts object data and checkpoint bytes written into the
	// extent's current use; data-live estimates what compaction can gain.
	data int64
	refs atomic.Int32
	// compacting: compaction has copied (or is copying) this extent out.
	compacting bool
}

// mutation is one record to append, with its waiter.
type mutation struct {
	typ      format.RecType
	pool     string
	name     string
	off      uint64
	aux      uint64
	data     []byte
	internal bool // compaction or checkpoint: may use the reserve
	// done receives the result for user mutations (buffered).
	done chan mutResult
	// applied is called by the owner once the record is durable and
	// applied (internal mutations).
	applied func(m *mutation, err error)

	// Set when the record is placed in a batch.
	seq    uint64
	loc    int64
	recLen uint32
	mtime  int64
}

type mutResult struct {
	info ObjectInfo
	err  error
}

// Stats are the engine's counters.
type Stats struct {
	Writes, Reads, Deletes, Truncates uint64
	BytesWritten, BytesRead           uint64
	Batches, Syncs                    uint64
	RecordsPerBatchMax                uint64
	ChecksumErrors, IOErrors          uint64
	Checkpoints, CompactedExtents     uint64
	MovedBytes                        uint64
	NoSpaceErrors                     uint64
	FreeExtents, TotalExtents         int64
	ExtentSize                        int64
	LiveBytes                         int64
	Objects                           int
	LastCheckpointSeq                 uint64
	RecoveredRecords                  uint64
}

type statCounters struct {
	writes, reads, deletes, truncates atomic.Uint64
	bytesWritten, bytesRead           atomic.Uint64
	batches, syncs                    atomic.Uint64
	maxRecsPerBatch                   atomic.Uint64
	checksumErrors, ioErrors          atomic.Uint64
	checkpoints, compacted, moved     atomic.Uint64
	noSpace                           atomic.Uint64
	freeExtents, liveBytes            atomic.Int64
	ckptSeq, recovered                atomic.Uint64
}

// Stats returns a snapshot of the counters.
func (e *Engine) Stats() Stats {
	s := &e.stats
	e.mu.RLock()
	n := e.objects.Len()
	e.mu.RUnlock()
	return Stats{
		Writes: s.writes.Load(), Reads: s.reads.Load(), Deletes: s.deletes.Load(), Truncates: s.truncates.Load(),
		BytesWritten: s.bytesWritten.Load(), BytesRead: s.bytesRead.Load(),
		Batches: s.batches.Load(), Syncs: s.syncs.Load(), RecordsPerBatchMax: s.maxRecsPerBatch.Load(),
		ChecksumErrors: s.checksumErrors.Load(), IOErrors: s.ioErrors.Load(),
		Checkpoints: s.checkpoints.Load(), CompactedExtents: s.compacted.Load(), MovedBytes: s.moved.Load(),
		NoSpaceErrors: s.noSpace.Load(),
		FreeExtents:   s.freeExtents.Load(), TotalExtents: int64(len(e.ext)), ExtentSize: e.sb.ExtentSize,
		LiveBytes: s.liveBytes.Load(), Objects: n, LastCheckpointSeq: s.ckptSeq.Load(),
		RecoveredRecords: s.recovered.Load(),
	}
}

var _ Store = (*Engine)(nil)

func validPool(pool string) bool {
	if len(pool) == 0 || len(pool) > MaxPoolName {
		return false
	}
	for i := 0; i < len(pool); i++ {
		c := pool[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func checkNames(pool, name string) error {
	if !validPool(pool) {
		return fmt.Errorf("pool %q: must be 1-%d bytes of [A-Za-z0-9._-]: %w", pool, MaxPoolName, ErrInvalidName)
	}
	if len(name) == 0 || len(name) > MaxObjectName {
		return fmt.Errorf("pool=%s object name of %d bytes: must be 1-%d bytes: %w", pool, len(name), MaxObjectName, ErrInvalidName)
	}
	for i := 0; i < len(name); i++ {
		if name[i] == 0 {
			return fmt.Errorf("pool=%s object name contains a NUL byte: %w", pool, ErrInvalidName)
		}
	}
	if !utf8.ValidString(name) {
		return fmt.Errorf("pool=%s object name is not valid UTF-8: %w", pool, ErrInvalidName)
	}
	return nil
}

func objErr(op, pool, name string, err error) error {
	return fmt.Errorf("%s pool=%s obj=%s: %w", op, pool, name, err)
}

// submitMutations hands ms to the owner and waits for all of them.
func (e *Engine) submitMutations(ctx context.Context, ms []*mutation) (ObjectInfo, error) {
	if e.closing.Load() {
		return ObjectInfo{}, ErrClosed
	}
	for _, m := range ms {
		m.done = make(chan mutResult, 1)
		select {
		case e.mutCh <- m:
		case <-ctx.Done():
			return ObjectInfo{}, ctx.Err()
		case <-e.done:
			return ObjectInfo{}, ErrClosed
		}
	}
	var info ObjectInfo
	var firstErr error
	for _, m := range ms {
		select {
		case r := <-m.done:
			if r.err != nil && firstErr == nil {
				firstErr = r.err
			}
			if r.err == nil && r.info.Version >= info.Version {
				info = r.info
			}
		case <-ctx.Done():
			return ObjectInfo{}, ctx.Err()
		}
	}
	return info, firstErr
}

// Write stores data at off and returns once it is durable.
func (e *Engine) Write(ctx context.Context, pool, name string, off uint64, data []byte) (ObjectInfo, error) {
	if err := checkNames(pool, name); err != nil {
		return ObjectInfo{}, objErr("write", pool, name, err)
	}
	if off > MaxObjectSize || uint64(len(data)) > MaxObjectSize-off {
		return ObjectInfo{}, objErr("write", pool, name, fmt.Errorf("offset %d + %d bytes: %w", off, len(data), ErrObjectTooLarge))
	}
	e.stats.writes.Add(1)
	var ms []*mutation
	for first := true; first || len(data) > 0; first = false {
		n := min(len(data), e.cfg.MaxRecordData)
		ms = append(ms, &mutation{typ: format.RecWrite, pool: pool, name: name, off: off, data: data[:n]})
		off += uint64(n)
		data = data[n:]
	}
	info, err := e.submitMutations(ctx, ms)
	if err != nil {
		return info, objErr("write", pool, name, err)
	}
	return info, nil
}

// Delete removes the object durably.
func (e *Engine) Delete(ctx context.Context, pool, name string) error {
	if err := checkNames(pool, name); err != nil {
		return objErr("delete", pool, name, err)
	}
	e.stats.deletes.Add(1)
	_, err := e.submitMutations(ctx, []*mutation{{typ: format.RecDelete, pool: pool, name: name}})
	if err != nil {
		return objErr("delete", pool, name, err)
	}
	return nil
}

// Truncate sets the object's size, creating it if absent.
func (e *Engine) Truncate(ctx context.Context, pool, name string, size uint64) (ObjectInfo, error) {
	if err := checkNames(pool, name); err != nil {
		return ObjectInfo{}, objErr("truncate", pool, name, err)
	}
	if size > MaxObjectSize {
		return ObjectInfo{}, objErr("truncate", pool, name, fmt.Errorf("size %d: %w", size, ErrObjectTooLarge))
	}
	e.stats.truncates.Add(1)
	info, err := e.submitMutations(ctx, []*mutation{{typ: format.RecTruncate, pool: pool, name: name, off: size}})
	if err != nil {
		return info, objErr("truncate", pool, name, err)
	}
	return info, nil
}

// Stat returns the object's info.
func (e *Engine) Stat(ctx context.Context, pool, name string) (ObjectInfo, error) {
	if err := checkNames(pool, name); err != nil {
		return ObjectInfo{}, objErr("stat", pool, name, err)
	}
	e.mu.RLock()
	o, ok := e.objects.Get(&object{key: objectKey(pool, name)})
	var info ObjectInfo
	if ok {
		info = o.info()
	}
	e.mu.RUnlock()
	if !ok {
		return ObjectInfo{}, objErr("stat", pool, name, ErrNotFound)
	}
	return info, nil
}

// List returns objects of pool with the prefix, after the cursor.
func (e *Engine) List(ctx context.Context, pool, prefix, after string, limit int) ([]ObjectInfo, bool, error) {
	if !validPool(pool) {
		return nil, false, fmt.Errorf("list pool %q: %w", pool, ErrInvalidName)
	}
	if limit <= 0 {
		limit = 1000
	}
	start := objectKey(pool, prefix)
	if after >= prefix {
		start = objectKey(pool, after) + "\x00"
	}
	keyPrefix := objectKey(pool, prefix)
	var out []ObjectInfo
	more := false
	e.mu.RLock()
	e.objects.AscendGreaterOrEqual(&object{key: start}, func(o *object) bool {
		if len(o.key) < len(keyPrefix) || o.key[:len(keyPrefix)] != keyPrefix {
			return false
		}
		if len(out) == limit {
			more = true
			return false
		}
		out = append(out, o.info())
		return true
	})
	e.mu.RUnlock()
	return out, more, nil
}

// errIsSpace reports whether err is a no-space failure.
func errIsSpace(err error) bool { return errors.Is(err, ErrNoSpace) }
