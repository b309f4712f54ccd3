package wbxml

import (
	"errors"
	"fmt"
	"testing"
)

// TestRoundTripEveryTag encodes every current tag of every current page,
// alone and with each kind of content, and decodes it back.
func TestRoundTripEveryTag(t *testing.T) {
	all := New(NSAirSync, "Sync") // one document switching through every page
	n := 0
	for num := range codePages {
		p := &codePages[num]
		for id, tag := range p.tags {
			if tag.status != statusCurrent {
				continue
			}
			n++
			for _, el := range []*Element{
				New(p.space, tag.name),
				{Page: num, Space: p.space, Name: tag.name, Text: fmt.Sprintf("%s=0x%02X ✓", tag.name, id)},
				{Page: num, Space: p.space, Name: tag.name, Opaque: []byte{0, byte(id), 0xFF}},
				{Page: num, Space: p.space, Name: tag.name, Children: []*Element{New(NSAirSync, "Status")}},
			} {
				roundTrip(t, el)
			}
			all.AddText(p.space, tag.name, tag.name)
		}
	}
	if n != 583 {
		t.Errorf("%d current tags, want 583", n)
	}
	roundTrip(t, all)
}

func roundTrip(t *testing.T, el *Element) {
	t.Helper()
	b, err := Encode(el)
	if err != nil {
		t.Fatalf("Encode %s:%s: %v", el.Space, el.Name, err)
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatalf("Decode %s:%s: %v\n% X", el.Space, el.Name, err, b)
	}
	if !got.Equal(el) {
		t.Fatalf("round trip %s:%s =\n%s\nwant\n%s", el.Space, el.Name, got.XML(), el.XML())
	}
}

// TestLegacyTags checks AS 2.5 tags and the AirNotify page are read but
// never written.
func TestLegacyTags(t *testing.T) {
	for num := range codePages {
		p := &codePages[num]
		for id, tag := range p.tags {
			if tag.status != statusLegacy && tag.status != statusObsolete {
				continue
			}
			b := []byte{version13, publicIDNone, charsetUTF8, 0, tokSwitchPage, byte(num), byte(id) | tagHasContent, tokStrI, 'x', 0, tokEnd}
			got, err := Decode(b)
			if err != nil {
				t.Fatalf("Decode legacy %s:%s: %v", p.space, tag.name, err)
			}
			if got.Space != p.space || got.Name != tag.name || got.Text != "x" {
				t.Fatalf("Decode legacy = %+v", got)
			}
			_, err = Encode(got)
			var ee *EncodeError
			if !errors.Is(err, ErrLegacyTag) || !errors.As(err, &ee) {
				t.Fatalf("Encode legacy %s:%s: %v, want ErrLegacyTag", p.space, tag.name, err)
			}
		}
	}
}
