// Package format is the on-disk format of a storage daemon's disk: the
// superblock, the extent header, the log record, and the checkpoint (index
// snapshot). Every constant and layout here is part of the disk format: a
// change bumps Version and is listed in the history below; a daemon refuses
// a disk whose version it does not know.
//
// Disk layout (all integers little-endian, offsets in bytes):
//
//	0        4 KiB     8 KiB                1 MiB (DataStart)
//	+--------+---------+--------------------+-----------+-----------+---
//	| super  | super   | reserved (zero)    | extent 0  | extent 1  | ...
//	| slot A | slot B  |                    |           |           |
//	+--------+---------+--------------------+-----------+-----------+---
//
// The superblock is written alternately to slot A and slot B with an
// increasing generation; on open the valid slot (magic, version, crc32c) with
// the highest generation wins, so a torn superblock write loses nothing.
//
// Superblock (one 4096-byte block):
//
//	off  size  field
//	0    8     magic "STORDISK"
//	8    4     format version
//	12   4     flags (0)
//	16   16    disk uuid (random at format time)
//	32   8     daemon id (0 = not yet registered with a master)
//	40   16    cluster uuid (zero = standalone)
//	56   8     extent size (bytes, power of two)
//	64   8     extent count
//	72   8     data start (byte offset of extent 0)
//	80   8     created (unix ns)
//	88   8     generation (increments with every superblock write)
//	96   8     checkpoint manifest location (byte offset of its record; 0 = none)
//	104  4     checkpoint manifest record length
//	108  4     reserved (0)
//	112  8     checkpoint sequence number S (the index snapshot holds every record <= S)
//	120  8     replay start: byte offset P where the log continued after S
//	128  ...   zero
//	4092 4     crc32c (Castagnoli) of bytes 0..4091
//
// Extents are fixed-size (default 16 MiB). Each starts with a 4096-byte
// header block, then records appended back to back (8-byte aligned):
//
//	off  size  field
//	0    8     magic "STOREXT1"
//	8    4     extent index
//	12   4     reserved
//	16   8     open sequence number: lower than every record written in this
//	           use of the extent, higher than every record of its earlier uses
//	24   16    disk uuid
//	40   ...   zero
//	4092 4     crc32c of bytes 0..4091
//
// Record (RecordHeaderSize bytes of header, then pool, name, data):
//
//	off  size  field
//	0    4     magic "SREC"
//	4    4     crc32c of bytes 8..end of record
//	8    1     type (RecWrite, RecDelete, RecTruncate, RecMove, RecPad, RecCkptChunk, RecCkptManifest)
//	9    1     flags (0)
//	10   1     pool length
//	11   1     reserved
//	12   2     name length
//	14   2     reserved
//	16   4     data length
//	20   4     reserved
//	24   8     sequence number (strictly increasing along the log)
//	32   8     object offset (RecTruncate: the new size)
//	40   8     mtime (unix ns)
//	48   8     aux (RecMove: byte offset of the record the data was copied
//	           from; RecCkptChunk: chunk number)
//	56   ...   pool, name, data
//
// The log is the sequence of records of all extents in the order of their
// open sequence numbers. Writes are group-committed: a batch of records is
// written with one aligned write, padded to the block size with a RecPad
// record, and acknowledged after a following fdatasync completes. Reading the
// log stops, within an extent, at the first record whose magic, length, crc
// or sequence number (not greater than the previous, not greater than the
// extent's open sequence) is wrong: that is the torn tail of the last write
// or an earlier use of the extent.
//
// A checkpoint is a snapshot of the index at sequence S, written into the log
// as RecCkptChunk records and one RecCkptManifest record listing them, then
// published by a superblock write. Recovery loads it and replays the records
// after S: those from byte P to the end of P's extent, and those of every
// extent whose open sequence is greater than S, in open-sequence order.
//
// RecMove records are written by compaction: they carry live data copied
// out of a mostly dead extent. On replay (and when applied live) a move
// replaces only the parts of the object that still point at the record it
// was copied from, so it can never undo a newer write.
//
// Version history:
//
//	1 (2026-11-25)  first version.
package format
