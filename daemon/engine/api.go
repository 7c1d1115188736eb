package engine

import (
	"context"
	"time"
)

// ObjectInfo describes one object as the engine stores it.
type ObjectInfo struct {
	Pool string
	Name string
	// Size is the object's logical size: one past its highest written byte,
	// or what the last truncate set. Unwritten ranges below Size read as zeros.
	Size uint64
	// MTime is when the object was last modified.
	MTime time.Time
	// Version increases with every modification of the object (it is the
	// log sequence number of the last record that changed it).
	Version uint64
}

// Store is what the UDP server (and later the peer protocol) needs from a
// disk. *Engine implements it. Every method is safe for concurrent use and
// honours ctx while waiting.
type Store interface {
	// Write stores data at off; it returns once the data is durable.
	Write(ctx context.Context, pool, name string, off uint64, data []byte) (ObjectInfo, error)
	// Read fills buf from off; holes read as zeros. n is short only at the
	// end of the object (n == 0 when off >= Size). ErrNotFound if absent.
	Read(ctx context.Context, pool, name string, off uint64, buf []byte) (n int, info ObjectInfo, err error)
	// Stat returns the object's info, or ErrNotFound.
	Stat(ctx context.Context, pool, name string) (ObjectInfo, error)
	// Delete removes the object durably, or returns ErrNotFound.
	Delete(ctx context.Context, pool, name string) error
	// Truncate sets the object's size (creating it when absent), durably.
	Truncate(ctx context.Context, pool, name string, size uint64) (ObjectInfo, error)
	// List returns up to limit objects of pool whose names start with
	// prefix and sort strictly after `after`, in byte order; more reports
	// whether further objects match.
	List(ctx context.Context, pool, prefix, after string, limit int) (objs []ObjectInfo, more bool, err error)
}

// Limits enforced by the engine (and documented in docs/format.md).
const (
	MaxPoolName   = 64      // bytes; [A-Za-z0-9._-]
	MaxObjectName = 1024    // bytes; any bytes except NUL
	MaxObjectSize = 1 << 40 // 1 TiB: offset+length of any write or truncate
)
