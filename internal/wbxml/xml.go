package wbxml

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// The XML form follows the examples of [MS-ASCMD] and what libwbxml's
// wbxml2xml prints with -l ACTIVESYNC, so fixtures pipe through xml2wbxml:
//
//   - namespaces are written with a trailing colon (xmlns="AirSync:",
//     xmlns:email="Email:"); xml2wbxml only finds a tag's code page that way.
//     ParseXML accepts them with or without the colon and in any letter case
//     (libwbxml spells GAL "Gal:").
//   - the elements listed in base64Element hold binary data: their XML text is
//     base64 and stands for OPAQUE, as libwbxml converts them.
//   - elsewhere OPAQUE would be lost in text, so it is written as base64 with
//     the attribute content="opaque"; the rare text on a base64 element gets
//     content="text". libwbxml never sees these, since ActiveSync has no
//     attributes; they keep XML and ParseXML exact inverses.
const (
	xmlDeclaration = `<?xml version="1.0" encoding="utf-8"?>` + "\n"
	xmlDoctype     = `<!DOCTYPE ActiveSync PUBLIC "-//MICROSOFT//DTD ActiveSync//EN" "http://www.microsoft.com/">` + "\n"
	attrContent    = "content"
	contentOpaque  = "opaque"
	contentText    = "text"
)

// base64Element reports whether the XML text of space:name is base64 standing
// for OPAQUE data. These are the elements [MS-ASCMD] and [MS-ASWBXML] type as
// binary (MIME message, conversation ids, pictures, attachment content) and
// libwbxml marks WBXML_TAG_OPTION_BINARY.
func base64Element(space, name string) bool {
	switch space + ":" + name {
	case NSComposeMail + ":Mime",
		NSEmail2 + ":ConversationId",
		NSEmail2 + ":ConversationIndex",
		NSSearch + ":ConversationId",
		NSItemOperations + ":ConversationId",
		NSAirSyncBase + ":Content",
		NSGAL + ":Data",
		NSResolveRecipients + ":Data":
		return true
	}
	return false
}

// spaceOf returns the namespace of el, from its Page when Space is empty.
func spaceOf(el *Element) string {
	if el.Space == "" && el.Page >= 0 && el.Page < len(codePages) {
		return codePages[el.Page].space
	}
	return el.Space
}

// XML returns the XML form of the tree rooted at e: an XML declaration, the
// ActiveSync DOCTYPE libwbxml needs, and the elements without added
// whitespace. The root's namespace is the default one; every other namespace
// used in the tree is declared on the root with its lower-case name as prefix
// (xmlns:email="Email:"). An element that mixes text and children, which
// Encode refuses, is written as it is, for debug logs.
func (e *Element) XML() []byte {
	var b bytes.Buffer
	b.WriteString(xmlDeclaration)
	b.WriteString(xmlDoctype)
	if e == nil {
		return b.Bytes()
	}
	rootSpace := spaceOf(e)
	prefixes := map[string]string{rootSpace: ""}
	var others []string
	var collect func(el *Element, depth int)
	collect = func(el *Element, depth int) {
		if el == nil || depth > MaxDepth {
			return
		}
		if s := spaceOf(el); prefixes[s] == "" && s != rootSpace {
			prefixes[s] = "?"
			others = append(others, s)
		}
		for _, c := range el.Children {
			collect(c, depth+1)
		}
	}
	collect(e, 1)
	sort.Slice(others, func(i, j int) bool { return spaceOrder(others[i]) < spaceOrder(others[j]) })
	used := map[string]bool{}
	for _, s := range others {
		p := strings.ToLower(s)
		for n := 2; used[p] || p == "" || p == "xmlns" || strings.HasPrefix(p, "xml"); n++ {
			p = fmt.Sprintf("ns%d", n)
		}
		used[p] = true
		prefixes[s] = p
	}
	w := xmlWriter{b: &b, prefixes: prefixes}
	w.element(e, others, 1)
	return b.Bytes()
}

// spaceOrder sorts namespaces by code page, unknown ones last by name.
func spaceOrder(s string) string {
	if p, ok := pageBySpace[s]; ok {
		return fmt.Sprintf("0%03d", p)
	}
	return "1" + s
}

type xmlWriter struct {
	b        *bytes.Buffer
	prefixes map[string]string
}

func (w *xmlWriter) element(el *Element, declare []string, depth int) {
	if el == nil || depth > MaxDepth {
		return
	}
	space, name := spaceOf(el), el.Name
	if p := w.prefixes[space]; p != "" {
		name = p + ":" + name
	}
	w.b.WriteString("<" + name)
	if depth == 1 {
		w.attr("xmlns", space+":")
		for _, s := range declare {
			w.attr("xmlns:"+w.prefixes[s], s+":")
		}
	}
	var text string
	binary := base64Element(space, el.Name)
	switch {
	case el.Opaque != nil:
		text = base64.StdEncoding.EncodeToString(el.Opaque)
		if !binary || len(el.Opaque) == 0 {
			w.attr(attrContent, contentOpaque)
		}
	case el.Text != "":
		text = el.Text
		if binary {
			w.attr(attrContent, contentText)
		}
	}
	if text == "" && len(el.Children) == 0 {
		w.b.WriteString("/>")
		return
	}
	w.b.WriteString(">")
	// EscapeText also escapes \t, \n and \r, so text survives parsing exactly.
	_ = xml.EscapeText(w.b, []byte(text)) // a bytes.Buffer never fails
	for _, c := range el.Children {
		w.element(c, nil, depth+1)
	}
	w.b.WriteString("</" + name + ">")
}

func (w *xmlWriter) attr(name, value string) {
	w.b.WriteString(" " + name + `="`)
	_ = xml.EscapeText(w.b, []byte(value)) // a bytes.Buffer never fails
	w.b.WriteString(`"`)
}

// ParseXML reads the XML form written by XML, by libwbxml's wbxml2xml or by
// hand after the [MS-ASCMD] examples, and returns the root element. Every
// element needs a namespace of an ActiveSync code page and a tag of that page
// (legacy tags included: Encode is where they are refused). Whitespace between
// elements is ignored, text inside a leaf element is kept exactly. Errors are
// *XMLError values.
func ParseXML(b []byte) (*Element, error) {
	d := xml.NewDecoder(bytes.NewReader(b))
	type xframe struct {
		el      *Element
		text    strings.Builder
		content string // contentOpaque or contentText
		set     bool   // content was given by attribute
	}
	var (
		root  *Element
		stack []*xframe
	)
	fail := func(err error) (*Element, error) {
		line, _ := d.InputPos()
		return nil, &XMLError{Line: line, Err: err}
	}
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fail(fmt.Errorf("%w: %w", ErrXMLSyntax, err))
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if root != nil && len(stack) == 0 {
				return fail(ErrTrailingData)
			}
			if len(stack) >= MaxDepth {
				return fail(fmt.Errorf("%w: more than %d levels", ErrTooDeep, MaxDepth))
			}
			el, err := xmlElement(t.Name)
			if err != nil {
				return fail(err)
			}
			f := &xframe{el: el, content: contentText}
			if base64Element(el.Space, el.Name) {
				f.content = contentOpaque
			}
			for _, a := range t.Attr {
				switch {
				case a.Name.Space == "xmlns" || a.Name.Space == "" && a.Name.Local == "xmlns":
				case a.Name.Space == "" && a.Name.Local == attrContent && (a.Value == contentOpaque || a.Value == contentText):
					f.content, f.set = a.Value, true
				default:
					return fail(fmt.Errorf("%w: attribute %s on <%s>", ErrAttributes, a.Name.Local, el.Name))
				}
			}
			if root == nil {
				root = el
			} else {
				parent := stack[len(stack)-1].el
				parent.Children = append(parent.Children, el)
			}
			stack = append(stack, f)
		case xml.EndElement:
			f := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			text := f.text.String()
			el := f.el
			switch {
			case len(el.Children) > 0:
				if strings.TrimLeft(text, " \t\r\n") != "" || f.set {
					return fail(fmt.Errorf("%w: <%s> has content and children", ErrMixedContent, el.Name))
				}
			case f.content == contentText:
				el.Text = text
			case text != "" || f.set:
				data, err := base64.StdEncoding.DecodeString(stripSpace(text))
				if err != nil {
					return fail(fmt.Errorf("%w: base64 in <%s>: %w", ErrXMLSyntax, el.Name, err))
				}
				el.Opaque = data
			}
		case xml.CharData:
			if len(stack) == 0 {
				if len(bytes.TrimLeft(t, " \t\r\n")) != 0 {
					return fail(fmt.Errorf("%w: text outside the root element", ErrXMLSyntax))
				}
				continue
			}
			stack[len(stack)-1].text.Write(t)
		}
	}
	if root == nil {
		return fail(ErrNoRoot)
	}
	return root, nil
}

// xmlElement maps an XML name to an element. The namespace is compared without
// its trailing colon and ignoring case, so "Email", "Email:" and libwbxml's
// "Gal:" all work; the tag name must match the code page exactly.
func xmlElement(n xml.Name) (*Element, error) {
	want := strings.TrimSuffix(n.Space, ":")
	for num := range codePages {
		p := &codePages[num]
		if !strings.EqualFold(p.space, want) {
			continue
		}
		if _, ok := p.tokens[n.Local]; !ok {
			return nil, fmt.Errorf("%w: no %q on code page %d (%s)", ErrUnknownTag, n.Local, num, p.space)
		}
		return &Element{Page: num, Space: p.space, Name: n.Local}, nil
	}
	return nil, fmt.Errorf("%w: %q on <%s>", ErrUnknownSpace, n.Space, n.Local)
}

// stripSpace removes the line breaks and indentation base64 text may carry.
func stripSpace(s string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, s)
}
