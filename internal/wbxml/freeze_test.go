package wbxml

import (
	"bytes"
	"testing"
)

// TestFreeze puts a frozen run of subtrees into documents that reach it from different
// code pages and leave it for others: each encodes exactly as with the run unfrozen.
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
	runs := []struct {
		name string
		run  func() []*Element
	}{
		{"one", func() []*Element { return []*Element{item()} }},
		{"two pages", func() []*Element { return []*Element{subject(), item(), subject()} }},
	}
	tests := []struct {
		name string
		doc  func(run []*Element) *Element
	}{
		{"from another page, then back", func(run []*Element) *Element {
			d := New(NSAirSync, "ApplicationData")
			d.Children = append(d.Children, subject())
			d.Children = append(d.Children, run...)
			d.Children = append(d.Children, subject())
			return d
		}},
		{"from its own page", func(run []*Element) *Element {
			d := New(NSAirSyncBase, "Attachments")
			d.Children = append(d.Children, run...)
			d.AddText(NSAirSyncBase, "Type", "2")
			return d
		}},
		{"twice", func(run []*Element) *Element {
			d := New(NSAirSync, "ApplicationData")
			d.Children = append(d.Children, run...)
			d.Children = append(d.Children, run...)
			return d
		}},
	}
	for _, r := range runs {
		for _, tt := range tests {
			t.Run(r.name+"/"+tt.name, func(t *testing.T) {
				want, err := Encode(tt.doc(r.run()))
				if err != nil {
					t.Fatal(err)
				}
				f, err := Freeze(r.run()...)
				if err != nil {
					t.Fatal(err)
				}
				if f.FrozenLen() == 0 {
					t.Error("FrozenLen 0")
				}
				got, err := Encode(tt.doc([]*Element{f}))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("frozen % x\nwant   % x", got, want)
				}
			})
		}
	}
	if f, err := Freeze(); f != nil || err != nil {
		t.Errorf("Freeze of nothing: %v, %v", f, err)
	}
	if _, err := Freeze(&Element{Page: -1, Space: "Nope", Name: "x"}); err == nil {
		t.Error("Freeze of an element Encode refuses: no error")
	}
}
