package wbxml

import "bytes"

// Element is one XML element of an ActiveSync document.
//
// An element carries either character data (Text), or OPAQUE data (Opaque), or
// child elements, never two of them: ActiveSync has no mixed content.
type Element struct {
	Page     int    // code page number; -1 when Space is not an ActiveSync namespace
	Space    string // namespace as EAS XML writes it (e.g. "AirSync", "Email")
	Name     string // tag name
	Text     string // character data (STR_I/STR_T)
	Opaque   []byte // OPAQUE data; nil when none
	Children []*Element

	frozen *frozen // set by Freeze
}

// frozen is a run of sibling elements encoded once: their bytes from the first tag,
// without the SWITCH_PAGE to the page of that tag (first), and the page current after
// the last (last).
type frozen struct {
	data        []byte
	first, last int
}

// Freeze encodes the sibling elements es, in this order, once, and returns one element
// that stands for all of them: every later Encode of a document holding it copies those
// bytes instead of encoding es again. It is for subtrees that many documents repeat (an
// item sent to many devices). The returned element keeps only the bytes, not es (so it
// costs about its encoded size in memory), has no name, text or children of its own,
// and must not be changed; es may be changed or dropped afterwards. MaxDepth is checked
// within each of es. It reports what Encode would, and returns nil for no elements.
func Freeze(es ...*Element) (*Element, error) {
	if len(es) == 0 {
		return nil, nil
	}
	enc := encoder{page: -1} // so that the first tag always begins with a SWITCH_PAGE
	for _, e := range es {
		if err := enc.element(e, nil, 1); err != nil {
			return nil, err
		}
	}
	return &Element{Page: -1, frozen: &frozen{data: bytes.Clone(enc.buf[2:]), first: int(enc.buf[1]), last: enc.page}}, nil
}

// FrozenLen returns the length of the bytes an element made by Freeze holds, 0 for
// any other element.
func (e *Element) FrozenLen() int {
	if e.frozen == nil {
		return 0
	}
	return len(e.frozen.data)
}

// New returns a root element in namespace space. Space decides the code page;
// Encode reports an unknown namespace or tag.
func New(space, name string) *Element {
	page, ok := pageBySpace[space]
	if !ok {
		page = -1
	}
	return &Element{Page: page, Space: space, Name: name}
}

// Add appends a new empty child element and returns it, so trees can be built
// top down: sync.Add(NSAirSync, "Collections").Add(NSAirSync, "Collection").
func (e *Element) Add(space, name string) *Element {
	c := New(space, name)
	e.Children = append(e.Children, c)
	return c
}

// AddText appends a child holding text and returns the child.
func (e *Element) AddText(space, name, text string) *Element {
	c := e.Add(space, name)
	c.Text = text
	return c
}

// AddOpaque appends a child holding OPAQUE data (a MIME message, a
// ConversationId) and returns the child. A nil data is stored as empty, so the
// child is still written as OPAQUE.
func (e *Element) AddOpaque(space, name string, data []byte) *Element {
	c := e.Add(space, name)
	if data == nil {
		data = []byte{}
	}
	c.Opaque = data
	return c
}

// Is reports whether e is the element space:name. It is false for a nil e.
func (e *Element) Is(space, name string) bool {
	return e != nil && e.Space == space && e.Name == name
}

// Child returns the first child space:name, or nil. It is nil-safe, so lookups
// chain: root.Child(NSAirSync, "Collections").Child(NSAirSync, "Collection").
func (e *Element) Child(space, name string) *Element {
	if e == nil {
		return nil
	}
	for _, c := range e.Children {
		if c.Is(space, name) {
			return c
		}
	}
	return nil
}

// ChildText returns the text of the first child space:name, or "" when there
// is none.
func (e *Element) ChildText(space, name string) string {
	if c := e.Child(space, name); c != nil {
		return c.Text
	}
	return ""
}

// All returns every child space:name, in document order.
func (e *Element) All(space, name string) []*Element {
	if e == nil {
		return nil
	}
	var out []*Element
	for _, c := range e.Children {
		if c.Is(space, name) {
			out = append(out, c)
		}
	}
	return out
}

// Equal reports whether e and o are the same document: same code pages, names,
// text, opaque data and children in the same order. A nil Opaque differs from
// an empty one, because only the second is written as OPAQUE.
func (e *Element) Equal(o *Element) bool {
	if e == nil || o == nil {
		return e == o
	}
	if e.Page != o.Page || e.Space != o.Space || e.Name != o.Name || e.Text != o.Text ||
		(e.Opaque == nil) != (o.Opaque == nil) || !bytes.Equal(e.Opaque, o.Opaque) ||
		len(e.Children) != len(o.Children) {
		return false
	}
	for i, c := range e.Children {
		if !c.Equal(o.Children[i]) {
			return false
		}
	}
	return true
}
