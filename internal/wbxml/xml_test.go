package wbxml

import (
	"errors"
	"strings"
	"testing"
)

func TestXMLForm(t *testing.T) {
	root := New(NSAirSync, "Sync")
	add := root.Add(NSAirSync, "Collections").Add(NSAirSync, "Collection").Add(NSAirSync, "Commands").Add(NSAirSync, "Add")
	data := add.Add(NSAirSync, "ApplicationData")
	data.AddText(NSEmail, "Subject", "a<b> & \"c\"\r\n\td")
	data.AddOpaque(NSEmail2, "ConversationId", []byte{0xDE, 0xAD})
	data.AddOpaque(NSAirSyncBase, "Data", []byte("hi")) // OPAQUE outside the binary set
	data.AddText(NSComposeMail, "Mime", "plain")        // text on a binary element
	data.AddOpaque(NSGAL, "Data", nil)                  // empty OPAQUE
	data.Add(NSAirSync, "Class")

	want := xmlDeclaration + xmlDoctype +
		`<Sync xmlns="AirSync:" xmlns:email="Email:" xmlns:gal="GAL:" xmlns:airsyncbase="AirSyncBase:" xmlns:composemail="ComposeMail:" xmlns:email2="Email2:">` +
		`<Collections><Collection><Commands><Add><ApplicationData>` +
		`<email:Subject>a&lt;b&gt; &amp; &#34;c&#34;&#xD;&#xA;&#x9;d</email:Subject>` +
		`<email2:ConversationId>3q0=</email2:ConversationId>` +
		`<airsyncbase:Data content="opaque">aGk=</airsyncbase:Data>` +
		`<composemail:Mime content="text">plain</composemail:Mime>` +
		`<gal:Data content="opaque"/>` +
		`<Class/>` +
		`</ApplicationData></Add></Commands></Collection></Collections></Sync>`
	if got := string(root.XML()); got != want {
		t.Fatalf("XML =\n%s\nwant\n%s", got, want)
	}
	back, err := ParseXML(root.XML())
	if err != nil {
		t.Fatal(err)
	}
	if !back.Equal(root) {
		t.Fatalf("ParseXML(XML) =\n%s", back.XML())
	}
}

// TestParseXMLForms checks the namespace spellings found in the wild: the
// XSD's "Email", the examples' "Email:", and libwbxml's "Gal:".
func TestParseXMLForms(t *testing.T) {
	for _, in := range []string{
		`<Search xmlns="Search" xmlns:gal="GAL"><Response><gal:Data>aGk=</gal:Data></Response></Search>`,
		`<Search xmlns="Search:" xmlns:g="GAL:"><Response><g:Data>aGk=</g:Data></Response></Search>`,
		`<?xml version="1.0"?><!DOCTYPE ActiveSync PUBLIC "-//MICROSOFT//DTD ActiveSync//EN" "http://www.microsoft.com/"><Search xmlns="Search:"><Response><Data xmlns="Gal:">aGk=</Data></Response></Search>`,
		"<!-- comment --><Search xmlns='Search:'>\n  <Response>\n    <Data xmlns='GAL:'>aG\n  k=</Data>\n  </Response>\n</Search>\n",
	} {
		got, err := ParseXML([]byte(in))
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		d := got.Child(NSSearch, "Response").Child(NSGAL, "Data")
		if d == nil || string(d.Opaque) != "hi" || d.Page != 16 {
			t.Fatalf("%s: got\n%s", in, got.XML())
		}
	}
}

func TestParseXMLErrors(t *testing.T) {
	deep := strings.Repeat(`<Sync xmlns="AirSync:">`, MaxDepth+1)
	tests := []struct {
		name, in string
		want     error
	}{
		{"malformed", `<Sync xmlns="AirSync:">`, ErrXMLSyntax},
		{"mismatched", `<Sync xmlns="AirSync:"></Ping>`, ErrXMLSyntax},
		{"empty", ``, ErrNoRoot},
		{"no namespace", `<Sync/>`, ErrUnknownSpace},
		{"unknown namespace", `<Sync xmlns="Exchange:"/>`, ErrUnknownSpace},
		{"unknown tag", `<Synchronize xmlns="AirSync:"/>`, ErrUnknownTag},
		{"tag case", `<sync xmlns="AirSync:"/>`, ErrUnknownTag},
		{"attribute", `<Sync xmlns="AirSync:" id="1"/>`, ErrAttributes},
		{"bad content value", `<Sync xmlns="AirSync:" content="base64"/>`, ErrAttributes},
		{"mixed", `<Sync xmlns="AirSync:">x<Status/></Sync>`, ErrMixedContent},
		{"bad base64", `<Mime xmlns="ComposeMail:">not base64!</Mime>`, ErrXMLSyntax},
		{"two roots", `<Sync xmlns="AirSync:"/><Sync xmlns="AirSync:"/>`, ErrTrailingData},
		{"text outside", `<Sync xmlns="AirSync:"/>x`, ErrXMLSyntax},
		{"too deep", deep, ErrTooDeep},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			el, err := ParseXML([]byte(tt.in))
			var xe *XMLError
			if el != nil || !errors.Is(err, tt.want) || !errors.As(err, &xe) {
				t.Fatalf("ParseXML = %v, %v; want %v", el, err, tt.want)
			}
		})
	}
}

func TestElementHelpers(t *testing.T) {
	root := New(NSPing, "Ping")
	folders := root.Add(NSPing, "Folders")
	folders.AddText(NSPing, "Folder", "1")
	folders.AddText(NSPing, "Folder", "2")
	root.AddText(NSPing, "Status", "2")
	if root.Page != 13 || !root.Is(NSPing, "Ping") || root.Is(NSPing, "Folder") {
		t.Fatalf("root = %+v", root)
	}
	if got := root.ChildText(NSPing, "Status"); got != "2" {
		t.Errorf("ChildText = %q", got)
	}
	if got := root.ChildText(NSPing, "Missing"); got != "" {
		t.Errorf("ChildText(missing) = %q", got)
	}
	if got := len(root.Child(NSPing, "Folders").All(NSPing, "Folder")); got != 2 {
		t.Errorf("All = %d", got)
	}
	var none *Element
	if none.Child(NSPing, "Folders").Child(NSPing, "Folder") != nil || none.All(NSPing, "Folder") != nil || none.Is(NSPing, "Ping") {
		t.Error("nil element helpers")
	}
	if New("Nope", "X").Page != -1 {
		t.Error("unknown namespace page")
	}
	if !none.Equal(nil) || root.Equal(nil) || root.Equal(New(NSPing, "Ping")) {
		t.Error("Equal")
	}
	empty := &Element{Page: 21, Space: NSComposeMail, Name: "Mime", Opaque: []byte{}}
	if empty.Equal(New(NSComposeMail, "Mime")) {
		t.Error("Equal must tell empty OPAQUE from none")
	}
}
