package engine

import "errors"

// Sentinel errors returned (wrapped, with the object named) by the engine.
// The UDP server maps each to one wire status (daemon/server/status.go).
var (
	ErrNotFound       = errors.New("object not found")
	ErrNoSpace        = errors.New("no space left on disk")
	ErrCorrupt        = errors.New("stored data failed its checksum")
	ErrObjectTooLarge = errors.New("object would exceed the maximum object size")
	ErrInvalidName    = errors.New("invalid pool or object name")
	ErrInvalidArg     = errors.New("invalid argument")
	ErrIO             = errors.New("disk I/O error")
	ErrClosed         = errors.New("engine closed")
	ErrNotFormatted   = errors.New("disk is not formatted for this store")
	ErrForeignData    = errors.New("disk holds data that is not this store's; refusing to format it")
)
