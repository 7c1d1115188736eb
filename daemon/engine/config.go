package engine

import (
	"fmt"
	"time"
)

// Config tunes an Engine. A zero field means its default.
type Config struct {
	// MaxBatchBytes bounds one group-commit write (default 4 MiB).
	MaxBatchBytes int
	// MaxInflightBatches bounds batches written but not yet acknowledged
	// (default 4).
	MaxInflightBatches int
	// MaxRecordData bounds one record's data; larger writes are split into
	// several records (default 1 MiB).
	MaxRecordData int
	// CheckpointLogBytes: a checkpoint is taken after this much log was
	// written since the last one, which bounds restart time (default 1 GiB).
	CheckpointLogBytes int64
	// CheckpointInterval: a checkpoint is taken this long after the last one
	// if anything changed (default 5 minutes).
	CheckpointInterval time.Duration
	// ReserveExtents are kept free for deletes, checkpoints and compaction
	// (default max(3, 2% of the extents)).
	ReserveExtents int
	// CompactBelowFree starts compaction when the fraction of free extents
	// falls below it (default 0.25).
	CompactBelowFree float64
	// CompactMaxLive: only extents with less than this fraction of live
	// data are compacted (default 0.8).
	CompactMaxLive float64
	// NoSpaceWait is how long a write waits for compaction to free space
	// before it fails with ErrNoSpace (default 20s). Writes fail at once
	// when nothing can be reclaimed.
	NoSpaceWait time.Duration
	// Now returns the time (tests); default time.Now.
	Now func() time.Time
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		MaxBatchBytes:      4 << 20,
		MaxInflightBatches: 4,
		MaxRecordData:      1 << 20,
		CheckpointLogBytes: 1 << 30,
		CheckpointInterval: 5 * time.Minute,
		CompactBelowFree:   0.25,
		CompactMaxLive:     0.8,
		NoSpaceWait:        20 * time.Second,
		Now:                time.Now,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.MaxBatchBytes == 0 {
		c.MaxBatchBytes = d.MaxBatchBytes
	}
	if c.MaxInflightBatches == 0 {
		c.MaxInflightBatches = d.MaxInflightBatches
	}
	if c.MaxRecordData == 0 {
		c.MaxRecordData = d.MaxRecordData
	}
	if c.CheckpointLogBytes == 0 {
		c.CheckpointLogBytes = d.CheckpointLogBytes
	}
	if c.CheckpointInterval == 0 {
		c.CheckpointInterval = d.CheckpointInterval
	}
	if c.CompactBelowFree == 0 {
		c.CompactBelowFree = d.CompactBelowFree
	}
	if c.CompactMaxLive == 0 {
		c.CompactMaxLive = d.CompactMaxLive
	}
	if c.NoSpaceWait == 0 {
		c.NoSpaceWait = d.NoSpaceWait
	}
	if c.Now == nil {
		c.Now = d.Now
	}
	return c
}

// Validate checks bounds (after defaults are applied).
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.MaxBatchBytes < 64<<10 || c.MaxBatchBytes > 64<<20:
		return fmt.Errorf("engine config: MaxBatchBytes %d outside 64 KiB..64 MiB: %w", c.MaxBatchBytes, ErrInvalidArg)
	case c.MaxInflightBatches < 1 || c.MaxInflightBatches > 64:
		return fmt.Errorf("engine config: MaxInflightBatches %d outside 1..64: %w", c.MaxInflightBatches, ErrInvalidArg)
	case c.MaxRecordData < 4096 || c.MaxRecordData > c.MaxBatchBytes/2:
		return fmt.Errorf("engine config: MaxRecordData %d outside 4 KiB..MaxBatchBytes/2: %w", c.MaxRecordData, ErrInvalidArg)
	case c.CheckpointLogBytes < 1<<20:
		return fmt.Errorf("engine config: CheckpointLogBytes %d below 1 MiB: %w", c.CheckpointLogBytes, ErrInvalidArg)
	case c.CompactBelowFree <= 0 || c.CompactBelowFree >= 1 || c.CompactMaxLive <= 0 || c.CompactMaxLive >= 1:
		return fmt.Errorf("engine config: compaction ratios must be in (0,1): %w", ErrInvalidArg)
	case c.ReserveExtents < 0:
		return fmt.Errorf("engine config: ReserveExtents %d negative: %w", c.ReserveExtents, ErrInvalidArg)
	}
	return nil
}
