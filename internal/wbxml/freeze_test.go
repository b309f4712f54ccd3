package wbxml

import (
	"bytes"
	"testing"
)

// TestFreeze puts a frozen subtree into documents that reach it from different code
// pages and leave it for others: each encodes exactly as with the subtree unfrozen.
func TestFreeze(t *testing.T) {
	item := func() *Element {
		body := New(NSAirSyncBase, "Body")
		body.AddText(NSAirSyncBase, "Type", "1")
		body.AddText(NSAirSyncBase, "Data", "hello")
		return body
	}
	subject := func() *Element {
		e := New(NSEmail, "Subject")
		e.Text = "hi"
		return e
	}
	tests := []struct {
		name string
		doc  func(frozen *Element) *Element
	}{
		{"alone", func(f *Element) *Element { return f }},
		{"from another page, then back", func(f *Element) *Element {
			d := New(NSAirSync, "ApplicationData")
			d.Children = append(d.Children, subject(), f, subject())
			return d
		}},
		{"from its own page", func(f *Element) *Element {
			d := New(NSAirSyncBase, "Attachments")
			d.Children = append(d.Children, f)
			d.AddText(NSAirSyncBase, "Type", "2")
			return d
		}},
		{"twice", func(f *Element) *Element {
			d := New(NSAirSync, "ApplicationData")
			d.Children = append(d.Children, f, f)
			return d
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, err := Encode(tt.doc(item()))
			if err != nil {
				t.Fatal(err)
			}
			f := item()
			if err := f.Freeze(); err != nil {
				t.Fatal(err)
			}
			got, err := Encode(tt.doc(f))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("frozen % x\nwant   % x", got, want)
			}
		})
	}
	if err := (&Element{Page: -1, Space: "Nope", Name: "x"}).Freeze(); err == nil {
		t.Error("Freeze of an element Encode refuses: no error")
	}
}
