package wire

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

// Golden datagrams. The hex was produced by an independent encoder written
// from the diagram in doc.go (with a bitwise crc32c), not by Append: if one
// of these fails, the wire format changed, which needs a new Version.
var golden = []struct {
	name string
	h    Header
	hex  string
}{
	{
		name: "write request",
		h: Header{
			Op: OpWrite, ClientID: 0x0102030405060708, RequestID: 0x1112131415161718,
			Epoch: 0x2122232425262728, Offset: 0x3132333435363738, Aux: 0x4142434445464748,
			Length: 5, Pool: []byte("rbd"), Name: []byte("img.0004"), Payload: []byte("hello"),
		},
		hex: "5344" + "01" + "03" + "0000" + "0000" +
			"0102030405060708" + "1112131415161718" + "2122232425262728" +
			"3132333435363738" + "4142434445464748" + "00000005" +
			"03" + "00" + "0008" + "0000" + "0000" + "2a26bb1f" +
			"726264" + "696d672e30303034" + "68656c6c6f",
	},
	{
		name: "read response",
		h: Header{
			Op: OpRead | OpResponse, Flags: FlagMore, Status: StatusNotFound,
			ClientID: 1, RequestID: 2, Offset: 4096, Aux: 7,
		},
		hex: "53440182000100010000000000000001000000000000000200000000000000000000000000001000" +
			"0000000000000007000000000000000000000000a84dbff8",
	},
	{
		name: "list request with auth",
		h: Header{
			Op: OpList, ClientID: 9, RequestID: 10, Length: 100,
			Pool: []byte("p"), Name: []byte("pre"), Auth: []byte("tkt"), Payload: []byte("cursor"),
		},
		hex: "53440107000000000000000000000009000000000000000a0000000000000000000000000000000000" +
			"000000000000000000006401000003000300006edd8b5a70707265746b74637572736f72",
	},
}

func TestGolden(t *testing.T) {
	for _, g := range golden {
		t.Run(g.name, func(t *testing.T) {
			want, err := hex.DecodeString(g.hex)
			if err != nil {
				t.Fatal(err)
			}
			got, err := g.h.Append(nil)
			if err != nil {
				t.Fatalf("Append: %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("Append:\n got %x\nwant %x", got, want)
			}
			// Append onto a non-empty slice: the checksum covers only the datagram.
			prefixed, err := g.h.Append([]byte("xyz"))
			if err != nil || !bytes.Equal(prefixed[3:], want) {
				t.Fatalf("Append after a prefix:\n got %x\nwant %x (err %v)", prefixed[3:], want, err)
			}
			h, err := Parse(want)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !sameHeader(h, g.h) {
				t.Fatalf("Parse:\n got %+v\nwant %+v", h, g.h)
			}
			if g.h.Size() != len(want) {
				t.Fatalf("Size %d, encoded %d", g.h.Size(), len(want))
			}
		})
	}
}

func sameHeader(a, b Header) bool {
	return a.Op == b.Op && a.Flags == b.Flags && a.Status == b.Status &&
		a.ClientID == b.ClientID && a.RequestID == b.RequestID && a.Epoch == b.Epoch &&
		a.Offset == b.Offset && a.Aux == b.Aux && a.Length == b.Length &&
		bytes.Equal(a.Pool, b.Pool) && bytes.Equal(a.Name, b.Name) &&
		bytes.Equal(a.Auth, b.Auth) && bytes.Equal(a.Payload, b.Payload)
}

// valid returns a well-formed write datagram to damage.
func valid(t testing.TB) []byte {
	h := Header{Op: OpWrite, ClientID: 1, RequestID: 2, Length: 4,
		Pool: []byte("pool"), Name: []byte("obj"), Auth: []byte("a"), Payload: []byte("data")}
	b, err := h.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// reseal recomputes the checksum of a datagram.
func reseal(b []byte) []byte {
	binary.BigEndian.PutUint32(b[60:], 0)
	binary.BigEndian.PutUint32(b[60:], Checksum(b))
	return b
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name   string
		damage func([]byte) []byte
		want   error
	}{
		{"empty", func(b []byte) []byte { return nil }, ErrShort},
		{"one byte short", func(b []byte) []byte { return b[:HeaderSize-1] }, ErrShort},
		{"too large", func(b []byte) []byte { return append(b, make([]byte, MaxDatagram)...) }, ErrTooLarge},
		{"magic", func(b []byte) []byte { b[0] = 'X'; return b }, ErrMagic},
		{"version 0", func(b []byte) []byte { b[2] = 0; return reseal(b) }, ErrVersion},
		{"version 2", func(b []byte) []byte { b[2] = 2; return reseal(b) }, ErrVersion},
		{"reserved 53", func(b []byte) []byte { b[53] = 1; return reseal(b) }, ErrReserved},
		{"reserved 58", func(b []byte) []byte { b[58] = 1; return reseal(b) }, ErrReserved},
		{"reserved 59", func(b []byte) []byte { b[59] = 1; return reseal(b) }, ErrReserved},
		{"pool too long", func(b []byte) []byte { b[52] = MaxPool + 1; return reseal(b) }, ErrFieldLength},
		{"name too long", func(b []byte) []byte { binary.BigEndian.PutUint16(b[54:], MaxName+1); return reseal(b) }, ErrFieldLength},
		{"auth too long", func(b []byte) []byte { binary.BigEndian.PutUint16(b[56:], MaxAuth+1); return reseal(b) }, ErrFieldLength},
		{"fields beyond the datagram", func(b []byte) []byte { return reseal(b[:HeaderSize+5]) }, ErrFieldLength},
		{"op 0", func(b []byte) []byte { b[3] = 0; return reseal(b) }, ErrBadOp},
		{"op 8", func(b []byte) []byte { b[3] = 8; return reseal(b) }, ErrBadOp},
		{"op 0x80", func(b []byte) []byte { b[3] = 0x80; return reseal(b) }, ErrBadOp},
		{"checksum", func(b []byte) []byte { b[60] ^= 1; return b }, ErrChecksum},
		{"payload bit flip", func(b []byte) []byte { b[len(b)-1] ^= 0x40; return b }, ErrChecksum},
		{"truncated payload", func(b []byte) []byte { return b[:len(b)-1] }, ErrChecksum},
		{"extra byte", func(b []byte) []byte { return append(b, 0) }, ErrChecksum},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.damage(valid(t)))
			if !errors.Is(err, tt.want) {
				t.Fatalf("Parse: %v, want %v", err, tt.want)
			}
		})
	}
}

func TestAppendErrors(t *testing.T) {
	for _, h := range []Header{
		{Op: OpWrite, Pool: make([]byte, MaxPool+1)},
		{Op: OpWrite, Name: make([]byte, MaxName+1)},
		{Op: OpWrite, Auth: make([]byte, MaxAuth+1)},
		{Op: OpWrite, Payload: make([]byte, MaxDatagram-HeaderSize+1)},
	} {
		out, err := h.Append([]byte("x"))
		if !errors.Is(err, ErrTooLarge) || string(out) != "x" {
			t.Errorf("Append(pool %d name %d auth %d payload %d): %q, %v; want ErrTooLarge and dst untouched",
				len(h.Pool), len(h.Name), len(h.Auth), len(h.Payload), out, err)
		}
	}
	// The largest datagram: every field at its maximum.
	h := Header{Op: OpWrite, Pool: make([]byte, MaxPool), Name: make([]byte, MaxName),
		Auth: make([]byte, MaxAuth), Payload: make([]byte, MaxPayload)}
	b, err := h.Append(nil)
	if err != nil || len(b) != MaxDatagram {
		t.Fatalf("largest datagram: %d bytes, %v", len(b), err)
	}
	if _, err := Parse(b); err != nil {
		t.Fatalf("Parse largest: %v", err)
	}
}

func TestPeekIDs(t *testing.T) {
	b := valid(t)
	c, r, op, ok := PeekIDs(b[:24])
	if !ok || c != 1 || r != 2 || op != OpWrite {
		t.Fatalf("PeekIDs = %d %d %v %v", c, r, op, ok)
	}
	if _, _, _, ok := PeekIDs(b[:23]); ok {
		t.Fatal("PeekIDs accepted 23 bytes")
	}
	b[1] = 0
	if _, _, _, ok := PeekIDs(b); ok {
		t.Fatal("PeekIDs accepted a bad magic")
	}
}

func TestOpAndStatusStrings(t *testing.T) {
	for op := OpPing; op <= OpList; op++ {
		if !op.Valid() || !(op | OpResponse).Valid() || op.IsResponse() || !(op | OpResponse).IsResponse() {
			t.Errorf("op %d: validity or response bit wrong", op)
		}
		if s := op.String(); s == "unknown" || (op|OpResponse).String() != s+"-response" {
			t.Errorf("op %d: strings %q, %q", op, s, (op | OpResponse).String())
		}
		if (op | OpResponse).Request() != op {
			t.Errorf("op %d: Request() lost the op", op)
		}
	}
	if Op(0).Valid() || Op(8).Valid() || Op(0x7f).Valid() {
		t.Error("unknown ops are valid")
	}
	seen := map[string]Status{}
	for s := StatusOK; s < statusFirstUnknown; s++ {
		str := s.String()
		if !s.Known() || str == "" || str == "unknown status" {
			t.Errorf("status %d: %q", s, str)
		}
		if prev, dup := seen[str]; dup {
			t.Errorf("statuses %d and %d share the text %q", prev, s, str)
		}
		seen[str] = s
	}
	if statusFirstUnknown.Known() || statusFirstUnknown.String() != "unknown status" || Status(math.MaxUint16).Known() {
		t.Error("unknown status reported as known")
	}
}

func TestStatPayload(t *testing.T) {
	for _, v := range []int64{0, 1, -1, math.MaxInt64, math.MinInt64, 1_700_000_000_123_456_789} {
		b := AppendStat([]byte("x"), StatPayload{MTimeUnixNano: v})
		if len(b) != 1+StatPayloadSize {
			t.Fatalf("AppendStat: %d bytes", len(b))
		}
		p, err := ParseStat(b[1:])
		if err != nil || p.MTimeUnixNano != v {
			t.Fatalf("ParseStat(%d) = %d, %v", v, p.MTimeUnixNano, err)
		}
	}
	if _, err := ParseStat(make([]byte, StatPayloadSize-1)); !errors.Is(err, ErrShort) {
		t.Fatalf("ParseStat short: %v", err)
	}
	want, _ := hex.DecodeString("0000000000000102" + "0000000000000000")
	if got := AppendStat(nil, StatPayload{MTimeUnixNano: 0x102}); !bytes.Equal(got, want) {
		t.Fatalf("AppendStat golden: %x, want %x", got, want)
	}
}

func TestListEntries(t *testing.T) {
	entries := []ListEntry{
		{Name: []byte("a"), Size: 1, MTimeUnixNano: 2, Version: 3},
		{Name: []byte(strings.Repeat("n", MaxName)), Size: math.MaxUint64, MTimeUnixNano: -1, Version: 0},
		{Name: []byte{}, Size: 0},
	}
	var b []byte
	for _, e := range entries {
		b = AppendListEntry(b, e)
	}
	got, err := ParseListEntries(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(entries) {
		t.Fatalf("%d entries, want %d", len(got), len(entries))
	}
	for i := range got {
		if !bytes.Equal(got[i].Name, entries[i].Name) || got[i].Size != entries[i].Size ||
			got[i].MTimeUnixNano != entries[i].MTimeUnixNano || got[i].Version != entries[i].Version {
			t.Errorf("entry %d: %+v, want %+v", i, got[i], entries[i])
		}
	}
	golden, _ := hex.DecodeString("0002" + "6869" + "0000000000000010" + "0000000000000020" + "0000000000000030")
	if enc := AppendListEntry(nil, ListEntry{Name: []byte("hi"), Size: 16, MTimeUnixNano: 32, Version: 48}); !bytes.Equal(enc, golden) {
		t.Fatalf("AppendListEntry golden: %x, want %x", enc, golden)
	}
	if got, err := ParseListEntries(nil); err != nil || len(got) != 0 {
		t.Fatalf("empty payload: %v, %v", got, err)
	}
	for _, bad := range [][]byte{
		{0},         // half a length
		{0, 1, 'x'}, // name but no fixed fields
		golden[:len(golden)-1],
		append([]byte{0x04, 0x01}, make([]byte, 2000)...), // name longer than MaxName
	} {
		if _, err := ParseListEntries(bad); !errors.Is(err, ErrListPayload) {
			t.Errorf("ParseListEntries(%x...): %v, want ErrListPayload", bad[:min(len(bad), 8)], err)
		}
	}
}

// FuzzParse checks both directions of the codec: a datagram Parse accepts
// re-encodes to the same bytes, and any header Append accepts parses back
// to itself.
func FuzzParse(f *testing.F) {
	for _, g := range golden {
		b, _ := hex.DecodeString(g.hex)
		f.Add(b)
	}
	f.Add(valid(f))
	f.Add([]byte{})
	f.Add(make([]byte, HeaderSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		// Parse, then Append.
		if h, err := Parse(b); err == nil {
			out, err := h.Append(nil)
			if err != nil {
				t.Fatalf("Append of a parsed header: %v", err)
			}
			if !bytes.Equal(out, b) {
				t.Fatalf("Parse then Append changed the datagram:\n in %x\nout %x", b, out)
			}
		} else if !isParseError(err) {
			t.Fatalf("Parse: error without a sentinel: %v", err)
		}
		_, _, _, _ = PeekIDs(b)

		// Append, then Parse: build a header from the input.
		h := headerFrom(b)
		out, err := h.Append(nil)
		if err != nil {
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("Append: %v", err)
			}
			return
		}
		if len(out) != h.Size() {
			t.Fatalf("Append wrote %d bytes, Size says %d", len(out), h.Size())
		}
		got, err := Parse(out)
		if !h.Op.Valid() {
			if !errors.Is(err, ErrBadOp) {
				t.Fatalf("Parse of op %#x: %v, want ErrBadOp", uint8(h.Op), err)
			}
			return
		}
		if err != nil {
			t.Fatalf("Parse of an appended header: %v", err)
		}
		if !sameHeader(got, h) {
			t.Fatalf("Append then Parse:\n got %+v\nwant %+v", got, h)
		}
	})
}

func isParseError(err error) bool {
	for _, e := range []error{ErrShort, ErrMagic, ErrVersion, ErrChecksum, ErrFieldLength, ErrTooLarge, ErrBadOp, ErrReserved} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// headerFrom derives a header from arbitrary bytes: fixed fields from the
// first 52 bytes, then pool, name and auth lengths (bounded so that most
// inputs encode), the rest payload.
func headerFrom(b []byte) Header {
	var fixed [52 + 3]byte
	n := copy(fixed[:], b)
	rest := b[n:]
	take := func(max int, k byte) []byte {
		l := min(int(k)%(max+1), len(rest))
		v := rest[:l:l]
		rest = rest[l:]
		return v
	}
	h := Header{
		Op:        Op(fixed[0]),
		Flags:     Flags(binary.BigEndian.Uint16(fixed[1:])),
		Status:    Status(binary.BigEndian.Uint16(fixed[3:])),
		ClientID:  binary.BigEndian.Uint64(fixed[5:]),
		RequestID: binary.BigEndian.Uint64(fixed[13:]),
		Epoch:     binary.BigEndian.Uint64(fixed[21:]),
		Offset:    binary.BigEndian.Uint64(fixed[29:]),
		Aux:       binary.BigEndian.Uint64(fixed[37:]),
		Length:    binary.BigEndian.Uint32(fixed[45:]),
	}
	h.Pool = take(MaxPool, fixed[52])
	h.Name = take(255, fixed[53])
	h.Auth = take(255, fixed[54])
	h.Payload = rest
	return h
}

// FuzzParseListEntries: ParseListEntries never panics, and a payload it
// accepts re-encodes to the same bytes.
func FuzzParseListEntries(f *testing.F) {
	f.Add([]byte{})
	f.Add(AppendListEntry(AppendListEntry(nil, ListEntry{Name: []byte("a"), Size: 1}), ListEntry{Name: []byte("bb"), Version: 9}))
	f.Add([]byte{0xff, 0xff, 1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, err := ParseListEntries(b)
		if err != nil {
			if !errors.Is(err, ErrListPayload) {
				t.Fatalf("error without the sentinel: %v", err)
			}
			return
		}
		var out []byte
		for _, e := range entries {
			if len(e.Name) > MaxName {
				t.Fatalf("name of %d bytes accepted", len(e.Name))
			}
			out = AppendListEntry(out, e)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("round trip changed the payload:\n in %x\nout %x", b, out)
		}
		again, err := ParseListEntries(out)
		if err != nil || !reflect.DeepEqual(normalize(again), normalize(entries)) {
			t.Fatalf("second parse differs: %v", err)
		}
	})
}

func normalize(es []ListEntry) []ListEntry {
	out := make([]ListEntry, len(es))
	for i, e := range es {
		e.Name = append([]byte{}, e.Name...)
		out[i] = e
	}
	return out
}
