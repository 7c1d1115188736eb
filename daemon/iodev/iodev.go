// Package iodev is the storage engine's I/O seam: the one place where bytes
// reach a disk. The production Device drives a block device or a regular
// file through io_uring (package iodev, uring.go) with O_DIRECT and batched
// submissions; tests use an in-memory Device that models a volatile write
// cache and can "lose power", and a Faulty wrapper that injects EIO, short
// writes and torn writes.
//
// Contract for every Device:
//   - Buffers passed to OpRead and OpWrite are aligned to BlockSize in both
//     address and length, and offsets are multiples of BlockSize.
//   - A completed OpWrite is NOT durable until an OpSync submitted after that
//     completion has completed without error.
//   - Submit never blocks on I/O; each op's completion is reported by sending
//     the op on its Complete channel (which must have room or a reader).
//   - Submit after Close reports ErrClosed through the op's Complete channel.
package iodev

import (
	"errors"
)

// OpKind says what an Op does.
type OpKind uint8

const (
	OpRead  OpKind = 1 // read len(Buf) bytes at Off
	OpWrite OpKind = 2 // write Buf at Off
	OpSync  OpKind = 3 // make every completed write durable (fdatasync)
)

func (k OpKind) String() string {
	switch k {
	case OpRead:
		return "read"
	case OpWrite:
		return "write"
	case OpSync:
		return "sync"
	}
	return "unknown"
}

// Op is one I/O request. The submitter owns it until it arrives on Complete.
type Op struct {
	Kind OpKind
	Buf  []byte
	Off  int64
	// Complete receives the op when it finishes. Required.
	Complete chan<- *Op
	// Tag is free for the submitter's use (the device never touches it).
	Tag any

	// Results, valid once the op arrived on Complete.
	N   int   // bytes transferred
	Err error // nil, or an error wrapping the cause (EIO, ENOSPC, ...)
}

// Device is a disk (or a model of one) that accepts batches of operations.
type Device interface {
	// Submit queues the ops and submits them to the kernel with as few
	// system calls as possible (one io_uring_enter for the batch when it fits
	// the ring). It does not wait for completion.
	Submit(ops ...*Op)
	// Size is the usable size in bytes (a multiple of BlockSize).
	Size() int64
	// BlockSize is the alignment required for buffers, lengths and offsets.
	BlockSize() int
	// Close waits for in-flight ops to complete and releases the device.
	Close() error
}

// Sentinel errors.
var (
	ErrClosed     = errors.New("iodev: device closed")
	ErrMisaligned = errors.New("iodev: buffer, length or offset not aligned to the block size")
	ErrOutOfRange = errors.New("iodev: operation beyond the end of the device")
	ErrShortIO    = errors.New("iodev: short read or write")
)
