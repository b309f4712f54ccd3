package wbxml

import (
	"fmt"
	"strings"
)

// Encode writes root as an ActiveSync WBXML document ([MS-ASWBXML]):
// header 03 01 6A 00, then tags with SWITCH_PAGE where the code page changes,
// text as STR_I and Opaque as OPAQUE. The code page of each element comes from
// its Space; Page is used only when Space is empty.
//
// Errors are *EncodeError values: an unknown namespace or tag, a legacy tag
// (emitting AS 2.5 tags would confuse current clients), an element with both
// content and children or both Text and Opaque, text containing NUL, or
// nesting deeper than MaxDepth.
func Encode(root *Element) ([]byte, error) {
	e := encoder{buf: make([]byte, 0, 256)}
	e.buf = append(e.buf, version13, publicIDNone, charsetUTF8, 0x00)
	if root == nil {
		return nil, &EncodeError{Path: "/", Err: fmt.Errorf("%w: nil root", ErrInvalidTree)}
	}
	if err := e.element(root, nil, 1); err != nil {
		return nil, err
	}
	return e.buf, nil
}

type encoder struct {
	buf  []byte
	page int
}

// element encodes el; path holds its ancestors, for error messages only.
func (e *encoder) element(el *Element, path []*Element, depth int) error {
	fail := func(err error) error {
		var b strings.Builder
		for _, p := range append(path, el) {
			b.WriteString("/" + p.Space + ":" + p.Name)
		}
		return &EncodeError{Path: b.String(), Err: err}
	}
	if depth > MaxDepth {
		return fail(fmt.Errorf("%w: more than %d levels", ErrTooDeep, MaxDepth))
	}
	if f := el.frozen; f != nil {
		if e.page != f.first {
			e.buf = append(e.buf, tokSwitchPage, byte(f.first))
		}
		e.buf = append(e.buf, f.data...)
		e.page = f.last
		return nil
	}
	space := el.Space
	if space == "" && el.Page >= 0 && el.Page < len(codePages) {
		space = codePages[el.Page].space
	}
	// New and Decode set Page from Space, so the lookup by name is rarely needed.
	page, ok := el.Page, el.Page >= 0 && el.Page < len(codePages) && codePages[el.Page].space == space
	if !ok {
		page, ok = pageBySpace[space]
	}
	if !ok {
		return fail(fmt.Errorf("%w: %q", ErrUnknownSpace, space))
	}
	token, ok := codePages[page].tokens[el.Name]
	if !ok {
		return fail(fmt.Errorf("%w: no %q on code page %d (%s)", ErrUnknownTag, el.Name, page, space))
	}
	switch codePages[page].tags[token].status {
	case statusLegacy:
		return fail(fmt.Errorf("%w: %s:%s is an AS 2.5 tag", ErrLegacyTag, space, el.Name))
	case statusObsolete:
		return fail(fmt.Errorf("%w: code page %d (%s) is obsolete", ErrLegacyTag, page, space))
	}
	hasContent := el.Text != "" || el.Opaque != nil
	if hasContent && len(el.Children) > 0 {
		return fail(fmt.Errorf("%w: text or opaque data with children", ErrMixedContent))
	}
	if el.Text != "" && el.Opaque != nil {
		return fail(fmt.Errorf("%w: both Text and Opaque", ErrMixedContent))
	}
	if strings.IndexByte(el.Text, 0) >= 0 {
		return fail(ErrNUL)
	}
	if page != e.page {
		e.buf = append(e.buf, tokSwitchPage, byte(page))
		e.page = page
	}
	if !hasContent && len(el.Children) == 0 {
		e.buf = append(e.buf, token)
		return nil
	}
	e.buf = append(e.buf, token|tagHasContent)
	switch {
	case el.Text != "":
		e.buf = append(e.buf, tokStrI)
		e.buf = append(e.buf, el.Text...)
		e.buf = append(e.buf, 0)
	case el.Opaque != nil:
		if uint64(len(el.Opaque)) > 0xFFFFFFFF {
			return fail(fmt.Errorf("%w: OPAQUE longer than 4 GiB", ErrInvalidTree))
		}
		e.buf = append(e.buf, tokOpaque)
		e.buf = appendMBUint32(e.buf, uint32(len(el.Opaque)))
		e.buf = append(e.buf, el.Opaque...)
	}
	for _, c := range el.Children {
		if c == nil {
			return fail(fmt.Errorf("%w: nil child", ErrInvalidTree))
		}
		if err := e.element(c, append(path, el), depth+1); err != nil {
			return err
		}
	}
	e.buf = append(e.buf, tokEnd)
	return nil
}
