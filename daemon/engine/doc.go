// Package engine is the per-disk object store of a storage daemon: a
// log-structured layout of fixed-size extents (see daemon/format for the
// bytes), an in-memory index from (pool, object, offset range) to records,
// group commit, checkpoints, crash recovery and compaction.
//
// Concurrency: one goroutine (the owner, loop.go) forms write batches,
// submits them, applies completed ones to the index, takes checkpoints and
// runs compaction. It alone changes the index, under mu; readers (Read,
// Stat, List) take mu's read lock just long enough to copy what they need
// and then read the disk themselves, pinning the extents they read so that
// compaction cannot reuse them underneath.
//
// Durability: a mutation is acknowledged after the batch holding it was
// written and a later fdatasync completed; batches are applied to the index
// and acknowledged strictly in log order. A failed write or sync fails every
// unacknowledged batch and abandons the open extent, so an acknowledged
// record never sits behind a hole in the log.
//
// Space: when free extents fall to the reserve, writes fail with ErrNoSpace;
// deletes, truncates, checkpoints and compaction may still use the reserve,
// so space comes back after deletes.
package engine
