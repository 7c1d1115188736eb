package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand"
	"syscall"
	"testing"
	"time"

	"github.com/store/store/daemon/format"
	"github.com/store/store/daemon/iodev"
)

// TestCompactionReclaimsSpace overwrites a small working set many times the
// disk's size: compaction and checkpoints must keep up, and the data must
// be right before and after a restart.
func TestCompactionReclaimsSpace(t *testing.T) {
	d := newTestDisk(t, 24<<20, 1<<20) // 23 extents
	cfg := Config{CheckpointLogBytes: 4 << 20}
	e := openTest(t, d, cfg)
	want := map[string][]byte{}
	written := 0
	rng := rand.New(rand.NewSource(1))
	for i := 0; written < 100<<20; i++ {
		name := fmt.Sprintf("o%d", i%8)
		data := pattern(i, 16<<10)
		off := rng.Intn(64) * (16 << 10) // 8 objects of 1 MiB: 8 MiB live

		mustWrite(t, e, "p", name, uint64(off), data)
		want[name] = applyModel(want[name], off, data)
		written += len(data)
	}
	st := e.Stats()
	if st.CompactedExtents == 0 || st.Checkpoints == 0 {
		t.Fatalf("wrote %d MiB on a 24 MiB disk without compaction (%d) or checkpoints (%d)", written>>20, st.CompactedExtents, st.Checkpoints)
	}
	t.Logf("wrote %d MiB: %d checkpoints, %d extents compacted, %d MiB moved, %d free of %d",
		written>>20, st.Checkpoints, st.CompactedExtents, st.MovedBytes>>20, st.FreeExtents, st.TotalExtents)
	check := func(e *Engine) {
		for name, w := range want {
			if got := mustRead(t, e, "p", name, 0, len(w)); !bytes.Equal(got, w) {
				t.Fatalf("%s: mismatch at %d", name, firstDiff(got, w))
			}
		}
	}
	check(e)
	e.Close()
	e = openTest(t, d, cfg)
	defer e.Close()
	check(e)
}

// TestFullDisk fills the disk: writes fail with ErrNoSpace, reads and
// deletes keep working, and space comes back after deletes.
func TestFullDisk(t *testing.T) {
	d := newTestDisk(t, 24<<20, 1<<20)
	e := openTest(t, d, Config{NoSpaceWait: 2 * time.Second})
	defer e.Close()
	ctx := context.Background()
	var names []string
	var full error
	for i := 0; i < 1000; i++ {
		name := fmt.Sprintf("f%d", i)
		if _, err := e.Write(ctx, "p", name, 0, pattern(i, 256<<10)); err != nil {
			full = err
			break
		}
		names = append(names, name)
	}
	if !errors.Is(full, ErrNoSpace) {
		t.Fatalf("filling the disk ended with %v, want ErrNoSpace", full)
	}
	t.Logf("disk full after %d objects of 256 KiB: %v", len(names), full)
	for i, name := range names {
		if got := mustRead(t, e, "p", name, 0, 256<<10); !bytes.Equal(got, pattern(i, 256<<10)) {
			t.Fatalf("%s unreadable when full", name)
		}
	}
	for _, name := range names[:len(names)/2] {
		if err := e.Delete(ctx, "p", name); err != nil {
			t.Fatalf("delete %s on a full disk: %v", name, err)
		}
	}
	// Space returns (after compaction and a checkpoint).
	for i := 0; i < len(names)/3; i++ {
		if _, err := e.Write(ctx, "p", fmt.Sprintf("g%d", i), 0, pattern(i, 256<<10)); err != nil {
			t.Fatalf("write %d after deletes: %v", i, err)
		}
	}
	for i, name := range names[len(names)/2:] {
		j := i + len(names)/2
		if got := mustRead(t, e, "p", name, 0, 256<<10); !bytes.Equal(got, pattern(j, 256<<10)) {
			t.Fatalf("%s wrong after refill", name)
		}
	}
}

// TestWriteErrorsFailCleanly injects EIO and short writes: the affected
// writes fail, later ones succeed, and a restart finds every acknowledged
// write.
func TestWriteErrorsFailCleanly(t *testing.T) {
	for _, mode := range []string{"eio-write", "eio-sync", "short"} {
		t.Run(mode, func(t *testing.T) {
			d := newTestDisk(t, 32<<20, 1<<20)
			e := openTest(t, d, Config{})
			ctx := context.Background()
			acked := map[string][]byte{}
			for i := 0; i < 20; i++ {
				name := fmt.Sprintf("a%d", i)
				data := pattern(i, 5000)
				mustWrite(t, e, "p", name, 0, data)
				acked[name] = data
			}
			switch mode {
			case "eio-write":
				d.dev.FailNext(iodev.OpWrite, 1, syscall.EIO)
			case "eio-sync":
				d.dev.FailNext(iodev.OpSync, 1, syscall.EIO)
			case "short":
				d.dev.ShortWrites(true)
			}
			_, err := e.Write(ctx, "p", "victim", 0, pattern(99, 5000))
			if !errors.Is(err, ErrIO) {
				t.Fatalf("write during %s: %v, want ErrIO", mode, err)
			}
			d.dev.ShortWrites(false)
			for i := 0; i < 20; i++ {
				name := fmt.Sprintf("b%d", i)
				data := pattern(100+i, 7000)
				mustWrite(t, e, "p", name, 0, data)
				acked[name] = data
			}
			if e.Stats().IOErrors == 0 {
				t.Fatalf("no I/O error counted")
			}
			e.Close()
			e = openTest(t, d, Config{})
			defer e.Close()
			for name, w := range acked {
				if got := mustRead(t, e, "p", name, 0, len(w)); !bytes.Equal(got, w) {
					t.Fatalf("%s lost after %s and restart", name, mode)
				}
			}
		})
	}
}

// TestCorruptRecordIsAnError flips bytes under a record: reads fail with
// ErrCorrupt instead of returning garbage, other objects stay readable.
func TestCorruptRecordIsAnError(t *testing.T) {
	d := newTestDisk(t, 32<<20, 1<<20)
	e := openTest(t, d, Config{})
	defer e.Close()
	mustWrite(t, e, "p", "good", 0, pattern(1, 9000))
	mustWrite(t, e, "p", "bad", 0, pattern(2, 9000))
	e.mu.RLock()
	o, _ := e.objects.Get(&object{key: objectKey("p", "bad")})
	loc := o.segs[0].RecLoc
	e.mu.RUnlock()
	img := d.mem.Snapshot()
	img[loc+format.RecordHeaderSize+100] ^= 0xff
	if err := d.mem.Load(img); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 9000)
	if _, _, err := e.Read(context.Background(), "p", "bad", 0, buf); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("read of a corrupted record: %v, want ErrCorrupt", err)
	}
	if got := mustRead(t, e, "p", "good", 0, 9000); !bytes.Equal(got, pattern(1, 9000)) {
		t.Fatalf("good object damaged")
	}
	if e.Stats().ChecksumErrors == 0 {
		t.Fatalf("checksum error not counted")
	}
}

// TestFormatRefusesData checks that formatting never silently erases.
func TestFormatRefusesData(t *testing.T) {
	d := newTestDisk(t, 32<<20, 1<<20)
	ctx := context.Background()
	if err := Format(ctx, d.dev, FormatOptions{}); !errors.Is(err, ErrForeignData) {
		t.Fatalf("format over a store: %v, want ErrForeignData", err)
	}
	mem := iodev.NewMem(32 << 20)
	img := make([]byte, 32<<20)
	copy(img[1024:], "ext4 superblock lookalike")
	mem.Load(img)
	if err := Format(ctx, mem, FormatOptions{}); !errors.Is(err, ErrForeignData) {
		t.Fatalf("format over foreign data: %v", err)
	}
	if _, err := Open(ctx, mem, Config{}, testLogger(t)); !errors.Is(err, ErrNotFormatted) {
		t.Fatalf("open unformatted: %v", err)
	}
	if err := Format(ctx, mem, FormatOptions{Force: true, ExtentSize: 1 << 20}); err != nil {
		t.Fatalf("forced format: %v", err)
	}
	e, err := Open(ctx, mem, Config{}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	e.Close()
}

// TestTornSuperblock: a garbled newest superblock slot falls back to the
// other one.
func TestTornSuperblock(t *testing.T) {
	d := newTestDisk(t, 32<<20, 1<<20)
	cfg := Config{CheckpointLogBytes: 1 << 20}
	e := openTest(t, d, cfg)
	for i := 0; i < 40; i++ {
		mustWrite(t, e, "p", fmt.Sprintf("o%d", i), 0, pattern(i, 60000))
	}
	e.Close()
	img := d.mem.Snapshot()
	a, errA := format.DecodeSuperblock(img[format.SuperblockSlotA:])
	b, errB := format.DecodeSuperblock(img[format.SuperblockSlotB:])
	if errA != nil || errB != nil {
		t.Fatalf("expected both slots written: %v %v", errA, errB)
	}
	newest := format.SuperblockSlotA
	if b.Generation > a.Generation {
		newest = format.SuperblockSlotB
	}
	img[newest+100] ^= 0xff
	d.mem.Load(img)
	e = openTest(t, d, cfg)
	defer e.Close()
	for i := 0; i < 40; i++ {
		if got := mustRead(t, e, "p", fmt.Sprintf("o%d", i), 0, 60000); !bytes.Equal(got, pattern(i, 60000)) {
			t.Fatalf("o%d lost after torn superblock", i)
		}
	}
}
