package wbxml

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Decode parses a WBXML document and returns its root element.
//
// It follows WBXML 1.3 (WAP-192-WBXML) as profiled by [MS-ASWBXML]: tags
// carry no attributes, content is STR_I, STR_T, ENTITY or OPAQUE, and the
// current code page persists across elements until the next SWITCH_PAGE
// (the SWITCH_PAGE token, WBXML 1.3 section 7.1). Errors are *DecodeError values.
func Decode(b []byte) (*Element, error) {
	d := decoder{b: b}
	root, err := d.document()
	if err != nil {
		return nil, &DecodeError{Offset: d.at, Err: err}
	}
	return root, nil
}

type decoder struct {
	b      []byte
	i      int // next unread byte
	at     int // start of the token being decoded, for errors
	strtbl []byte
	// expanded counts bytes copied out of the string table: STR_T is two bytes
	// on the wire but may name a long string, so without this bound a small
	// input could expand quadratically.
	expanded int
}

// frame is an open element and the character data collected for it.
type frame struct {
	el   *Element
	text []byte
}

func (d *decoder) header() error {
	// WBXML 1.3 section 5.4: version is one byte, major-1 in the high nibble.
	// 1.1 to 1.3 share this header layout; 1.0 had no charset field.
	if d.i >= len(d.b) {
		return ErrTruncated
	}
	if v := d.b[d.i]; v < 0x01 || v > version13 {
		return fmt.Errorf("%w: version byte 0x%02X (want 0x01–0x03)", ErrHeader, v)
	}
	d.i++
	pubID, err := d.mbUint32()
	if err != nil {
		return err
	}
	// Section 5.5: public id 0 means a string table index follows, naming the
	// public identifier (libwbxml's xml2wbxml writes the ActiveSync DTD name
	// this way). The index is only checked once the table has been read.
	strIndex := uint32(0)
	if pubID == 0 {
		if strIndex, err = d.mbUint32(); err != nil {
			return err
		}
	}
	d.at = d.i
	charset, err := d.mbUint32()
	if err != nil {
		return err
	}
	// Section 5.6. ActiveSync sends UTF-8; US-ASCII is a subset and 0 means
	// "unknown", which for ActiveSync is UTF-8 too. Anything else would need
	// transcoding that no ActiveSync client asks for.
	switch charset {
	case charsetUTF8, charsetASCII, charsetUnknown:
	default:
		return fmt.Errorf("%w: charset MIBenum %d (ActiveSync uses UTF-8, 106)", ErrHeader, charset)
	}
	d.at = d.i
	n, err := d.mbUint32()
	if err != nil {
		return err
	}
	if uint64(n) > uint64(len(d.b)-d.i) {
		return fmt.Errorf("%w: string table of %d bytes", ErrLength, n)
	}
	d.strtbl = d.b[d.i : d.i+int(n)]
	d.i += int(n)
	if pubID == 0 && uint64(strIndex) >= uint64(len(d.strtbl)) {
		return fmt.Errorf("%w: public identifier at index %d", ErrStringTable, strIndex)
	}
	return nil
}

func (d *decoder) mbUint32() (uint32, error) {
	v, next, err := readMBUint32(d.b, d.i)
	d.i = next
	return v, err
}

func (d *decoder) document() (*Element, error) {
	if err := d.header(); err != nil {
		return nil, err
	}
	var (
		root  *Element
		stack []frame
		page  int
	)
	for d.i < len(d.b) {
		d.at = d.i
		tok := d.b[d.i]
		d.i++
		if root != nil && len(stack) == 0 {
			// WBXML 1.3 section 5.3 allows processing instructions after the
			// body element; ActiveSync never sends any.
			return nil, ErrTrailingData
		}
		switch tok {
		case tokSwitchPage:
			if d.i >= len(d.b) {
				return nil, ErrTruncated
			}
			p := int(d.b[d.i])
			d.i++
			if p >= len(codePages) {
				return nil, fmt.Errorf("%w: SWITCH_PAGE to %d (ActiveSync defines 0–%d)", ErrUnknownPage, p, len(codePages)-1)
			}
			page = p
		case tokEnd:
			if len(stack) == 0 {
				return nil, ErrUnexpectedEnd
			}
			if err := closeFrame(&stack[len(stack)-1]); err != nil {
				return nil, err
			}
			stack = stack[:len(stack)-1]
		case tokStrI:
			s, err := d.inlineString()
			if err != nil {
				return nil, err
			}
			if err := appendText(stack, s); err != nil {
				return nil, err
			}
		case tokStrT:
			s, err := d.tableString()
			if err != nil {
				return nil, err
			}
			if err := appendText(stack, s); err != nil {
				return nil, err
			}
		case tokEntity:
			s, err := d.entity()
			if err != nil {
				return nil, err
			}
			if err := appendText(stack, s); err != nil {
				return nil, err
			}
		case tokOpaque:
			data, err := d.opaque()
			if err != nil {
				return nil, err
			}
			if len(stack) == 0 {
				return nil, fmt.Errorf("%w: OPAQUE outside an element", ErrNoRoot)
			}
			el := stack[len(stack)-1].el
			if el.Opaque == nil {
				el.Opaque = make([]byte, 0, len(data))
			}
			el.Opaque = append(el.Opaque, data...)
		case tokLiteral, tokLiteralA, tokLiteralC, tokLiteralAC:
			return nil, fmt.Errorf("%w: LITERAL tag 0x%02X (ActiveSync tags are all on code pages)", ErrUnsupported, tok)
		case tokExtI0, tokExtI1, tokExtI2, tokExtT0, tokExtT1, tokExtT2, tokExt0, tokExt1, tokExt2:
			return nil, fmt.Errorf("%w: extension token 0x%02X", ErrUnsupported, tok)
		case tokPI:
			return nil, fmt.Errorf("%w: processing instruction", ErrUnsupported)
		default:
			if tok&tagHasAttrs != 0 {
				return nil, fmt.Errorf("%w: tag token 0x%02X on code page %d has the attribute bit set", ErrAttributes, tok, page)
			}
			t, ok := lookupToken(page, tok&tagIDMask)
			if !ok {
				return nil, fmt.Errorf("%w: token 0x%02X on code page %d (%s)", ErrUnknownTag, tok&tagIDMask, page, codePages[page].name)
			}
			el := &Element{Page: page, Space: codePages[page].space, Name: t.name}
			if root == nil {
				root = el
			} else {
				parent := stack[len(stack)-1].el
				parent.Children = append(parent.Children, el)
			}
			if tok&tagHasContent != 0 {
				if len(stack) >= MaxDepth {
					return nil, fmt.Errorf("%w: more than %d levels", ErrTooDeep, MaxDepth)
				}
				stack = append(stack, frame{el: el})
			}
		}
	}
	d.at = d.i
	if root == nil {
		return nil, ErrNoRoot
	}
	if len(stack) != 0 {
		return nil, fmt.Errorf("%w: %d element(s) not closed", ErrTruncated, len(stack))
	}
	return root, nil
}

// appendText adds character data to the innermost open element.
func appendText(stack []frame, s []byte) error {
	if len(stack) == 0 {
		return fmt.Errorf("%w: text outside an element", ErrNoRoot)
	}
	f := &stack[len(stack)-1]
	if f.text == nil {
		// Usually the only piece: keep it as a capacity-limited view of the
		// input, so a later append copies instead of writing into the input.
		f.text = s[:len(s):len(s)]
		return nil
	}
	f.text = append(f.text, s...)
	return nil
}

// closeFrame settles an element's content at its END. Whitespace between child
// elements is formatting (libwbxml's xml2wbxml -k keeps it as STR_I) and is
// dropped; anything else that mixes kinds of content has no meaning in
// ActiveSync and is refused, so a decoded tree always re-encodes.
func closeFrame(f *frame) error {
	text := string(f.text)
	el := f.el
	switch {
	case len(el.Children) > 0 && el.Opaque != nil:
		return fmt.Errorf("%w: <%s:%s> has OPAQUE data and children", ErrMixedContent, el.Space, el.Name)
	case len(el.Children) > 0 && strings.TrimLeft(text, " \t\r\n") != "":
		return fmt.Errorf("%w: <%s:%s> has text and children", ErrMixedContent, el.Space, el.Name)
	case len(el.Children) > 0:
		return nil
	case el.Opaque != nil && text != "":
		return fmt.Errorf("%w: <%s:%s> has text and OPAQUE data", ErrMixedContent, el.Space, el.Name)
	}
	el.Text = text
	return nil
}

// inlineString reads a STR_I body: UTF-8 up to a NUL (section 5.8.4.1).
func (d *decoder) inlineString() ([]byte, error) {
	end := bytes.IndexByte(d.b[d.i:], 0)
	if end < 0 {
		return nil, fmt.Errorf("%w: STR_I without terminating NUL", ErrTruncated)
	}
	s := d.b[d.i : d.i+end]
	d.i += end + 1
	return s, nil
}

// tableString resolves a STR_T reference: an offset into the string table
// where a NUL-terminated string starts (section 5.7).
func (d *decoder) tableString() ([]byte, error) {
	off, err := d.mbUint32()
	if err != nil {
		return nil, err
	}
	if uint64(off) >= uint64(len(d.strtbl)) {
		return nil, fmt.Errorf("%w: offset %d in a %d-byte table", ErrStringTable, off, len(d.strtbl))
	}
	rest := d.strtbl[off:]
	end := bytes.IndexByte(rest, 0)
	if end < 0 {
		return nil, fmt.Errorf("%w: string at offset %d has no NUL", ErrStringTable, off)
	}
	d.expanded += end
	if d.expanded > len(d.b) {
		return nil, ErrTooLarge
	}
	return rest[:end], nil
}

// entity reads an ENTITY token: a character given by its UCS-4 code
// (section 5.8.4.3).
func (d *decoder) entity() ([]byte, error) {
	c, err := d.mbUint32()
	if err != nil {
		return nil, err
	}
	r := rune(c)
	if c == 0 || c > utf8.MaxRune || !utf8.ValidRune(r) {
		return nil, fmt.Errorf("%w: ENTITY %d is not a character", ErrUnsupported, c)
	}
	return utf8.AppendRune(nil, r), nil
}

// opaque reads an OPAQUE body: a length and that many bytes (section 5.8.4.6).
func (d *decoder) opaque() ([]byte, error) {
	n, err := d.mbUint32()
	if err != nil {
		return nil, err
	}
	if uint64(n) > uint64(len(d.b)-d.i) {
		return nil, fmt.Errorf("%w: OPAQUE of %d bytes, %d left", ErrLength, n, len(d.b)-d.i)
	}
	data := d.b[d.i : d.i+int(n)]
	d.i += int(n)
	return data, nil
}
