package mime

// PartAt returns the part an IMAP section number designates (RFC 3501 section 6.4.5):
// in a multipart, n selects the n-th body part; in a message that is not multipart,
// section 1 is its body (the root part); the parts of a message/rfc822 part are numbered
// within its encapsulated message, by the same two rules. An empty section returns the
// root. It reports false for a number that designates nothing.
func (m *Message) PartAt(section []int) (*Part, bool) {
	if len(section) == 0 {
		return &m.Root, true
	}
	p, ok := m.child(section[0])
	for _, n := range section[1:] {
		if !ok {
			break
		}
		switch {
		case len(p.Parts) > 0:
			if n < 1 || n > len(p.Parts) {
				return nil, false
			}
			p = &p.Parts[n-1]
		case p.Message != nil:
			p, ok = p.Message.child(n)
		default:
			return nil, false
		}
	}
	if !ok {
		return nil, false
	}
	return p, true
}

// child applies the first number of a section to a message.
func (m *Message) child(n int) (*Part, bool) {
	switch {
	case len(m.Root.Parts) > 0:
		if n < 1 || n > len(m.Root.Parts) {
			return nil, false
		}
		return &m.Root.Parts[n-1], true
	case n == 1:
		return &m.Root, true
	}
	return nil, false
}
