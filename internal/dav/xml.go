package dav

// The XML of WebDAV requests and responses (RFC 4918 14): requests are decoded into a
// small element tree that each method reads; responses are written with fixed
// prefixes for the namespaces in use.

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
)

// Namespaces.
const (
	nsDAV      = "DAV:"
	nsCalDAV   = "urn:ietf:params:xml:ns:caldav"
	nsCardDAV  = "urn:ietf:params:xml:ns:carddav"
	nsCS       = "http://calendarserver.org/ns/"
	nsApple    = "http://apple.com/ns/ical/"
	nsMailroom = "urn:mailroom:dav"
)

// prefixes are the namespace prefixes responses declare once on the root element.
var prefixes = []struct{ prefix, ns string }{
	{"d", nsDAV}, {"c", nsCalDAV}, {"card", nsCardDAV}, {"cs", nsCS}, {"a", nsApple}, {"m", nsMailroom},
}

// maxXMLBody bounds a request's XML body.
const maxXMLBody = 1 << 20

// maxXMLElements bounds the elements of one request, however small its bytes.
const maxXMLElements = 20000

// node is one element of a request body.
type node struct {
	Name     xml.Name
	Attrs    []xml.Attr
	Children []*node
	Text     string
}

// child returns the first child with the given name, or nil.
func (n *node) child(ns, local string) *node {
	if n == nil {
		return nil
	}
	for _, c := range n.Children {
		if c.Name.Space == ns && c.Name.Local == local {
			return c
		}
	}
	return nil
}

// all returns the children with the given name.
func (n *node) all(ns, local string) []*node {
	if n == nil {
		return nil
	}
	var out []*node
	for _, c := range n.Children {
		if c.Name.Space == ns && c.Name.Local == local {
			out = append(out, c)
		}
	}
	return out
}

func (n *node) attr(local string) string {
	for _, a := range n.Attrs {
		if a.Name.Space == "" && a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// xmlNameAny lets readXML accept any root element.
var xmlNameAny = xml.Name{}

// readXML reads a request body of at most maxXMLBody bytes into an element tree whose
// root must be want; an empty body gives nil (several methods allow one).
func readXML(r *http.Request, want xml.Name) (*node, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxXMLBody+1))
	if err != nil {
		return nil, errStatus(http.StatusBadRequest, "cannot read the request body: %v", err)
	}
	if len(body) > maxXMLBody {
		return nil, errStatus(http.StatusRequestEntityTooLarge, "the request body is larger than %d bytes", maxXMLBody)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil
	}
	root, err := parseXML(body)
	if err != nil {
		return nil, errStatus(http.StatusBadRequest, "the request body is not valid XML: %v", err)
	}
	if want != xmlNameAny && root.Name != want {
		return nil, errStatus(http.StatusBadRequest, "the request body is a {%s}%s element; expected {%s}%s", root.Name.Space, root.Name.Local, want.Space, want.Local)
	}
	return root, nil
}

// parseXML builds the element tree of a document, bounded in elements and depth.
func parseXML(body []byte) (*node, error) {
	dec := xml.NewDecoder(bytes.NewReader(body))
	var stack []*node
	var root *node
	count := 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if count++; count > maxXMLElements {
				return nil, fmt.Errorf("more than %d elements", maxXMLElements)
			}
			if len(stack) >= 64 {
				return nil, errors.New("elements nest deeper than 64 levels")
			}
			n := &node{Name: t.Name, Attrs: t.Attr}
			if len(stack) == 0 {
				if root != nil {
					return nil, errors.New("more than one root element")
				}
				root = n
			} else {
				p := stack[len(stack)-1]
				p.Children = append(p.Children, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].Text += string(t)
			} else if len(bytes.TrimSpace(t)) > 0 {
				return nil, errors.New("text outside the root element")
			}
		}
	}
	if root == nil {
		return nil, errors.New("no root element")
	}
	return root, nil
}

// innerXML renders a request element's content back to XML, for keeping a dead
// property's value as the client sent it.
func (n *node) innerXML() string {
	var b strings.Builder
	var write func(n *node)
	write = func(n *node) {
		b.WriteString("<x:" + n.Name.Local + ` xmlns:x="` + escape(n.Name.Space) + `">`)
		b.WriteString(escape(n.Text))
		for _, c := range n.Children {
			write(c)
		}
		b.WriteString("</x:" + n.Name.Local + ">")
	}
	b.WriteString(escape(strings.TrimSpace(n.Text)))
	for _, c := range n.Children {
		write(c)
	}
	return b.String()
}

func escape(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// qname writes an element name with its namespace's prefix, declaring an unknown
// namespace on the element itself.
func qname(n xml.Name) (name, decl string) {
	for _, p := range prefixes {
		if p.ns == n.Space {
			return p.prefix + ":" + n.Local, ""
		}
	}
	if n.Space == "" {
		return n.Local, ` xmlns=""`
	}
	return "x:" + n.Local, ` xmlns:x="` + escape(n.Space) + `"`
}

// elem renders <name>inner</name>; inner is XML already.
func elem(n xml.Name, inner string) string {
	q, decl := qname(n)
	if inner == "" {
		return "<" + q + decl + "/>"
	}
	return "<" + q + decl + ">" + inner + "</" + q + ">"
}

func dav(local string) xml.Name     { return xml.Name{Space: nsDAV, Local: local} }
func caldav(local string) xml.Name  { return xml.Name{Space: nsCalDAV, Local: local} }
func carddav(local string) xml.Name { return xml.Name{Space: nsCardDAV, Local: local} }

// text renders an element holding escaped text.
func text(n xml.Name, s string) string { return elem(n, escape(s)) }

// hrefElem renders DAV:href.
func hrefElem(href string) string { return text(dav("href"), href) }

// prop is one property in a response: its name and rendered content.
type prop struct {
	name  xml.Name
	inner string
}

// response is one DAV:response of a multistatus.
type response struct {
	href    string
	status  int // a response without properties (a member gone, RFC 6578 3.5.2)
	found   []prop
	missing []xml.Name // 404 Not Found
	failed  map[int][]xml.Name
}

// multistatus collects responses and writes them as 207 Multi-Status (RFC 4918 13).
type multistatus struct {
	responses []response
	syncToken string
}

func statusLine(code int) string {
	return fmt.Sprintf("HTTP/1.1 %d %s", code, http.StatusText(code))
}

func (ms *multistatus) write(w http.ResponseWriter) {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	b.WriteString("<d:multistatus")
	for _, p := range prefixes {
		b.WriteString(" xmlns:" + p.prefix + `="` + p.ns + `"`)
	}
	b.WriteString(">")
	for _, r := range ms.responses {
		b.WriteString("<d:response>" + hrefElem(r.href))
		if r.status != 0 {
			b.WriteString(text(dav("status"), statusLine(r.status)))
		}
		if len(r.found) > 0 {
			b.WriteString("<d:propstat><d:prop>")
			for _, p := range r.found {
				b.WriteString(elem(p.name, p.inner))
			}
			b.WriteString("</d:prop>" + text(dav("status"), statusLine(http.StatusOK)) + "</d:propstat>")
		}
		writeNames := func(code int, names []xml.Name) {
			if len(names) == 0 {
				return
			}
			b.WriteString("<d:propstat><d:prop>")
			for _, n := range names {
				b.WriteString(elem(n, ""))
			}
			b.WriteString("</d:prop>" + text(dav("status"), statusLine(code)) + "</d:propstat>")
		}
		writeNames(http.StatusNotFound, r.missing)
		codes := make([]int, 0, len(r.failed))
		for c := range r.failed {
			codes = append(codes, c)
		}
		slices.Sort(codes)
		for _, c := range codes {
			writeNames(c, r.failed[c])
		}
		b.WriteString("</d:response>")
	}
	if ms.syncToken != "" {
		b.WriteString(text(dav("sync-token"), ms.syncToken))
	}
	b.WriteString("</d:multistatus>")
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	w.WriteHeader(http.StatusMultiStatus)
	w.Write(b.Bytes())
}
