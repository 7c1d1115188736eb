package engine

import (
	"sort"
	"strings"
	"time"

	"github.com/google/btree"

	"github.com/store/store/daemon/format"
)

// object is one object's index entry. Segments are sorted by Off and do
// not overlap; ranges below size that no segment covers are holes.
type object struct {
	key     string // pool + "\x00" + name
	size    uint64
	mtime   int64
	version uint64
	segs    []format.Segment
}

func objectKey(pool, name string) string { return pool + "\x00" + name }

func splitKey(key string) (pool, name string) {
	i := strings.IndexByte(key, 0)
	return key[:i], key[i+1:]
}

func (o *object) info() ObjectInfo {
	pool, name := splitKey(o.key)
	return ObjectInfo{Pool: pool, Name: name, Size: o.size, MTime: time.Unix(0, o.mtime), Version: o.version}
}

func segEnd(s format.Segment) uint64 { return s.Off + uint64(s.Len) }

// firstOverlap returns the index of the first segment ending after off.
func (o *object) firstOverlap(off uint64) int {
	return sort.Search(len(o.segs), func(i int) bool { return segEnd(o.segs[i]) > off })
}

// put installs s, cutting whatever it overlaps; dropped is called for every
// piece of an old segment that s replaces (with that piece's length).
func (o *object) put(s format.Segment, dropped func(old format.Segment, n uint32)) {
	start, end := s.Off, segEnd(s)
	i := o.firstOverlap(start)
	j := i
	var keep []format.Segment
	for j < len(o.segs) && o.segs[j].Off < end {
		cur := o.segs[j]
		cEnd := segEnd(cur)
		if cur.Off < start {
			left := cur
			left.Len = uint32(start - cur.Off)
			keep = append(keep, left)
		}
		lo, hi := max(cur.Off, start), min(cEnd, end)
		dropped(cur, uint32(hi-lo))
		if cEnd > end {
			right := cur
			right.Off = end
			right.Skip += uint32(end - cur.Off)
			right.Len = uint32(cEnd - end)
			keep = append(keep, s, right)
			s.Len = 0 // already placed
		}
		j++
	}
	repl := keep
	if s.Len != 0 {
		// s goes after any left piece.
		repl = append(repl, s)
	}
	o.segs = splice(o.segs, i, j, repl)
}

// cut removes everything at or beyond size.
func (o *object) cut(size uint64, dropped func(old format.Segment, n uint32)) {
	i := o.firstOverlap(size)
	if i < len(o.segs) && o.segs[i].Off < size {
		cur := &o.segs[i]
		n := uint32(size - cur.Off)
		dropped(*cur, cur.Len-n)
		cur.Len = n
		i++
	}
	for _, s := range o.segs[i:] {
		dropped(s, s.Len)
	}
	o.segs = o.segs[:i]
}

func splice(s []format.Segment, i, j int, repl []format.Segment) []format.Segment {
	if len(repl) == j-i {
		copy(s[i:], repl)
		return s
	}
	out := make([]format.Segment, 0, len(s)-(j-i)+len(repl))
	out = append(out, s[:i]...)
	out = append(out, repl...)
	return append(out, s[j:]...)
}

// overlapping returns copies of the segments overlapping [off, end).
func (o *object) overlapping(off, end uint64) []format.Segment {
	var out []format.Segment
	for i := o.firstOverlap(off); i < len(o.segs) && o.segs[i].Off < end; i++ {
		out = append(out, o.segs[i])
	}
	return out
}

func lessObject(a, b *object) bool { return a.key < b.key }

func newObjectTree() *btree.BTreeG[*object] { return btree.NewG(32, lessObject) }
