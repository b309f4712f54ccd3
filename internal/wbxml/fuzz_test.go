package wbxml

import (
	"errors"
	"testing"
)

// FuzzDecode checks Decode never panics, that what it builds is bounded by
// the input size, and that anything it accepts re-encodes to the same tree
// (legacy tags excepted: Encode refuses them by design).
func FuzzDecode(f *testing.F) {
	for _, tt := range goldenTests {
		f.Add(wire(f, tt.wire))
	}
	for _, fx := range fixtures(f) {
		b, err := Encode(fx.tree)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(wire(f, `03 01 6A 04 "a" 00 "b" 00 00 07 56 52 83 00 02 C1 2C 83 02 01 01`))
	f.Add(wire(f, `03 00 00 6A 04 "-//" 00 00 02 45 C3 81 01 01`))
	f.Fuzz(func(t *testing.T, b []byte) {
		root, err := Decode(b)
		if err != nil {
			return
		}
		// Every element costs at least one input byte, and text can only
		// come from the input or, bounded, from the string table.
		elements, content := 0, 0
		walk(root, func(e *Element) {
			elements++
			content += len(e.Text) + len(e.Opaque)
		})
		if elements > len(b) || content > 2*len(b) {
			t.Fatalf("%d elements and %d content bytes from %d input bytes", elements, content, len(b))
		}
		enc, err := Encode(root)
		if errors.Is(err, ErrLegacyTag) {
			return
		}
		if err != nil {
			t.Fatalf("Encode of a decoded tree: %v", err)
		}
		again, err := Decode(enc)
		if err != nil {
			t.Fatalf("Decode(Encode): %v", err)
		}
		if !again.Equal(root) {
			t.Fatalf("Decode(Encode) =\n%s\nwant\n%s", again.XML(), root.XML())
		}
	})
}
