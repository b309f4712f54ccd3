package wbxml

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestDecodeErrors(t *testing.T) {
	deep := []byte{version13, publicIDNone, charsetUTF8, 0}
	for i := 0; i <= MaxDepth; i++ {
		deep = append(deep, 0x45)
	}
	// 200 STR_T references to a 100-byte string: 400 input bytes asking for
	// 20,000 bytes of text.
	bomb := wire(t, `03 01 6A 64`)
	bomb = append(bomb, bytes.Repeat([]byte{'a'}, 99)...)
	bomb = append(bomb, 0, 0x45)
	for i := 0; i < 200; i++ {
		bomb = append(bomb, tokStrT, 0)
	}
	bomb = append(bomb, tokEnd)

	tests := []struct {
		name   string
		in     []byte
		want   error
		detail string // substring of the message
	}{
		{"empty", nil, ErrTruncated, ""},
		{"version 1.0", wire(t, `00 01 6A 00 45 01`), ErrHeader, "0x00"},
		{"charset latin1", wire(t, `03 01 04 00 45 01`), ErrHeader, "MIBenum 4"},
		{"header truncated", wire(t, `03 01`), ErrTruncated, ""},
		{"oversized mb_u_int32", wire(t, `03 81 81 81 81 81 01 6A 00 45 01`), ErrIntOverflow, ""},
		{"mb_u_int32 above 32 bits", wire(t, `03 90 80 80 80 00 6A 00 45 01`), ErrIntOverflow, ""},
		{"string table longer than input", wire(t, `03 01 6A 7F 00`), ErrLength, "string table"},
		{"no body", wire(t, `03 01 6A 00`), ErrNoRoot, ""},
		{"unknown page", wire(t, `03 01 6A 00 00 1A 45 01`), ErrUnknownPage, "SWITCH_PAGE to 26"},
		{"switch page truncated", wire(t, `03 01 6A 00 00`), ErrTruncated, ""},
		{"unknown token", wire(t, `03 01 6A 00 00 05 7F 01`), ErrUnknownTag, "token 0x3F on code page 5 (Move)"},
		{"unassigned Find token", wire(t, `03 01 6A 00 00 19 5A 01`), ErrUnknownTag, "token 0x1A on code page 25 (Find)"},
		{"attributes", wire(t, `03 01 6A 00 C5 01 01`), ErrAttributes, "attribute bit"},
		{"END without element", wire(t, `03 01 6A 00 01`), ErrUnexpectedEnd, ""},
		{"unclosed", wire(t, `03 01 6A 00 45 5C`), ErrTruncated, "not closed"},
		{"STR_I unterminated", wire(t, `03 01 6A 00 45 03 "abc"`), ErrTruncated, "NUL"},
		{"OPAQUE too long", wire(t, `03 01 6A 00 45 C3 10 "abc" 01`), ErrLength, "OPAQUE of 16 bytes"},
		{"OPAQUE length truncated", wire(t, `03 01 6A 00 45 C3 81`), ErrTruncated, ""},
		{"too deep", deep, ErrTooDeep, "64"},
		{"trailing data", wire(t, `03 01 6A 00 45 01 45 01`), ErrTrailingData, ""},
		{"second root after empty root", wire(t, `03 01 6A 00 05 05`), ErrTrailingData, ""},
		{"text before root", wire(t, `03 01 6A 00 03 "x" 00 45 01`), ErrNoRoot, ""},
		{"literal tag", wire(t, `03 01 6A 00 04 00 01`), ErrUnsupported, "LITERAL"},
		{"extension", wire(t, `03 01 6A 00 45 C0 01`), ErrUnsupported, "extension"},
		{"processing instruction", wire(t, `03 01 6A 00 43 01`), ErrUnsupported, "processing instruction"},
		{"entity zero", wire(t, `03 01 6A 00 45 02 00 01`), ErrUnsupported, "ENTITY 0"},
		{"entity surrogate", wire(t, `03 01 6A 00 45 02 83 B0 00 01`), ErrUnsupported, "ENTITY"},
		{"STR_T out of table", wire(t, `03 01 6A 02 "a" 00 45 83 05 01`), ErrStringTable, "offset 5"},
		{"STR_T without NUL", wire(t, `03 01 6A 02 "ab" 45 83 00 01`), ErrStringTable, "no NUL"},
		{"public id index outside table", wire(t, `03 00 05 6A 00 45 01`), ErrStringTable, "public identifier"},
		{"string table bomb", bomb, ErrTooLarge, ""},
		{"text and children", wire(t, `03 01 6A 00 45 03 "x" 00 4E 01 01`), ErrMixedContent, "text and children"},
		{"opaque and children", wire(t, `03 01 6A 00 45 C3 01 "x" 4E 01 01`), ErrMixedContent, "OPAQUE data and children"},
		{"text and opaque", wire(t, `03 01 6A 00 45 03 "x" 00 C3 01 "x" 01`), ErrMixedContent, "text and OPAQUE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			el, err := Decode(tt.in)
			if el != nil || !errors.Is(err, tt.want) {
				t.Fatalf("Decode = %v, %v; want %v", el, err, tt.want)
			}
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %T is not *DecodeError", err)
			}
			if !strings.Contains(err.Error(), tt.detail) {
				t.Errorf("error %q does not mention %q", err, tt.detail)
			}
		})
	}
}

// TestDecodeAccepts covers input that is valid WBXML although our Encode
// never writes it.
func TestDecodeAccepts(t *testing.T) {
	want := &Element{Page: 7, Space: NSFolderHierarchy, Name: "FolderSync", Children: []*Element{
		{Page: 7, Space: NSFolderHierarchy, Name: "SyncKey", Text: "a€b"},
	}}
	tests := []struct {
		name string
		in   string
	}{
		{"string table reference", `03 01 6A 04 "a" 00 "b" 00 00 07 56 52 83 00 03 "€" 00 83 02 01 01`},
		{"character entity", `03 01 6A 00 00 07 56 52 03 "a" 00 02 C1 2C 03 "b" 00 01 01`},
		{"libwbxml public id in string table", `03 00 00 6A 04 "-//" 00 00 07 56 52 03 "a€b" 00 01 01`},
		{"WBXML 1.2, unknown charset", `02 01 00 00 00 07 56 52 03 "a€b" 00 01 01`},
		{"whitespace between elements (xml2wbxml -k)", `03 01 6A 00 00 07 56 03 0A 20 20 00 52 03 "a€b" 00 01 03 0A 00 01`},
		{"split strings", `03 01 6A 00 00 07 56 52 03 "a" 00 03 "€b" 00 01 01`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(wire(t, tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(want) {
				t.Fatalf("Decode =\n%s", got.XML())
			}
		})
	}
}

func TestEncodeErrors(t *testing.T) {
	deep := New(NSAirSync, "Sync")
	for e, i := deep, 0; i < MaxDepth; i++ {
		e = e.Add(NSAirSync, "Collection")
	}
	nested := New(NSAirSync, "Sync")
	nested.Add(NSAirSync, "Collections").Add(NSEmail, "Bogus")
	tests := []struct {
		name string
		root *Element
		want error
		path string
	}{
		{"nil root", nil, ErrInvalidTree, "/"},
		{"unknown namespace", New("Exchange", "Sync"), ErrUnknownSpace, "/Exchange:Sync"},
		{"namespace without colon only", &Element{Space: "AirSync:", Name: "Sync"}, ErrUnknownSpace, ""},
		{"unknown tag", nested, ErrUnknownTag, "/AirSync:Sync/AirSync:Collections/Email:Bogus"},
		{"legacy tag", New(NSEmail, "MIMEData"), ErrLegacyTag, "/Email:MIMEData"},
		{"obsolete page", New(NSAirNotify, "Notify"), ErrLegacyTag, ""},
		{"text and children", &Element{Space: NSAirSync, Name: "Sync", Text: "x", Children: []*Element{New(NSAirSync, "Status")}}, ErrMixedContent, ""},
		{"opaque and children", &Element{Space: NSAirSync, Name: "Sync", Opaque: []byte{}, Children: []*Element{New(NSAirSync, "Status")}}, ErrMixedContent, ""},
		{"text and opaque", &Element{Space: NSAirSync, Name: "Sync", Text: "x", Opaque: []byte{1}}, ErrMixedContent, ""},
		{"NUL in text", &Element{Space: NSAirSync, Name: "Sync", Text: "a\x00b"}, ErrNUL, ""},
		{"nil child", &Element{Space: NSAirSync, Name: "Sync", Children: []*Element{nil}}, ErrInvalidTree, ""},
		{"too deep", deep, ErrTooDeep, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Encode(tt.root)
			if b != nil || !errors.Is(err, tt.want) {
				t.Fatalf("Encode = %x, %v; want %v", b, err, tt.want)
			}
			var ee *EncodeError
			if !errors.As(err, &ee) {
				t.Fatalf("error %T is not *EncodeError", err)
			}
			if tt.path != "" && ee.Path != tt.path {
				t.Errorf("path %q, want %q", ee.Path, tt.path)
			}
		})
	}
}

// TestEncodePageFromNumber checks an element built with Page alone encodes.
func TestEncodePageFromNumber(t *testing.T) {
	b, err := Encode(&Element{Page: 7, Name: "FolderSync", Children: []*Element{{Page: 7, Name: "SyncKey", Text: "0"}}})
	if err != nil || !bytes.Equal(b, wire(t, goldenTests[0].wire)) {
		t.Fatalf("Encode = % X, %v", b, err)
	}
}

func TestMBUint32(t *testing.T) {
	for _, v := range []uint32{0, 1, 0x7F, 0x80, 0xA0, 0x3FFF, 0x4000, 0xFFFFFFFF} {
		b := appendMBUint32(nil, v)
		got, n, err := readMBUint32(b, 0)
		if err != nil || got != v || n != len(b) {
			t.Errorf("%d: % X -> %d, %d, %v", v, b, got, n, err)
		}
	}
	// WBXML 1.3 section 5.1 example: 0xA0 is 81 20.
	if b := appendMBUint32(nil, 0xA0); !bytes.Equal(b, []byte{0x81, 0x20}) {
		t.Errorf("0xA0 = % X", b)
	}
}
