package mime

import "strings"

// addrToken is a lexical unit of an RFC 5322 section 3.4 address list.
type addrToken struct {
	kind  byte   // 'a' atom (dots included), 'q' quoted-string, 'c' comment, 'd' domain literal, or the special itself
	text  string // quotes and quoted-pairs removed for 'q' and 'c'
	space bool   // whitespace came before it
}

// lexAddresses splits an address-list header value into tokens. Specials are the ones
// that give a list its structure (RFC 5322 section 3.2.3); "." stays inside atoms so
// dot-atoms and obsolete phrases with periods (section 4.1) read as one word. Unclosed
// quotes, comments and literals run to the end of the value.
func lexAddresses(s string) []addrToken {
	var toks []addrToken
	space := false
	for i := 0; i < len(s); {
		c := s[i]
		switch c {
		case ' ', '\t', '\r', '\n':
			space = true
			i++
			continue
		case '"':
			text, next := readQuoted(s, i)
			toks = append(toks, addrToken{'q', text, space})
			i = next
		case '(':
			next := skipComment(s, i)
			text := strings.TrimSuffix(s[i+1:next], ")")
			toks = append(toks, addrToken{'c', unescape(text), space})
			i = next
		case '[':
			end := strings.IndexByte(s[i:], ']')
			next := len(s)
			if end >= 0 {
				next = i + end + 1
			}
			toks = append(toks, addrToken{'d', s[i:next], space})
			i = next
		case '<', '>', '@', ',', ';', ':':
			toks = append(toks, addrToken{c, s[i : i+1], space})
			i++
		default:
			start := i
			for i < len(s) && !strings.ContainsRune(" \t\r\n\"(<>@,;:[", rune(s[i])) {
				i++
			}
			toks = append(toks, addrToken{'a', s[start:i], space})
		}
		space = false
	}
	return toks
}

// unescape removes quoted-pairs from comment text.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// parseAddressList turns an address-list header into RFC 3501 ENVELOPE addresses. It
// accepts what RFC 5322 sections 3.4 and 4.4 allow (display names, angle addresses with
// obsolete routes, groups, comments) and makes a best reading of anything else:
//   - a name given only as a trailing comment, "a@b (Name)", becomes the display name;
//   - a group that is never closed with ";" is closed at the end;
//   - a missing local part or domain becomes MissingMailbox or MissingHost;
//   - an empty "<>" yields nothing.
//
// It returns nil for an empty list.
func parseAddressList(s string) []Address {
	toks := lexAddresses(s)
	var (
		out     []Address
		pending []addrToken // phrase or addr-spec tokens of the current address
		comment string      // first comment of the current address
		angle   *Address    // result of "<...>" in the current address
		inGroup bool
	)
	finish := func() {
		switch {
		case angle != nil:
			if angle.Name == "" {
				angle.Name = comment
			}
			if angle.Mailbox != "" || angle.Host != "" {
				out = append(out, *angle)
			}
		case len(pending) > 0:
			out = append(out, plainAddress(pending, comment))
		}
		pending, comment, angle = nil, "", nil
	}
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		switch {
		case t.kind == 'c':
			if comment == "" {
				comment = strings.TrimSpace(t.text)
			}
		case angle != nil && t.kind != ',' && t.kind != ';':
			// Anything between ">" and the next separator is junk.
		case t.kind == ':' && !inGroup && len(pending) > 0:
			// RFC 5322 section 3.4 group: display-name ":" [group-list] ";".
			name := phrase(pending)
			if name == "" {
				name = MissingMailbox // an empty Mailbox would read as a group end
			}
			out = append(out, Address{Mailbox: name})
			inGroup = true
			pending, comment = nil, ""
		case t.kind == '<':
			j := i + 1
			for j < len(toks) && toks[j].kind != '>' {
				j++
			}
			a := angleAddress(toks[i+1 : j])
			a.Name = phrase(pending)
			angle = &a
			i = j
		case t.kind == ',':
			finish()
		case t.kind == ';':
			finish()
			if inGroup {
				out = append(out, Address{})
				inGroup = false
			}
		case t.kind == ':' || t.kind == '>':
			// A stray ":" (nested group, or a route outside "<>") or ">" carries nothing.
		default:
			pending = append(pending, t)
		}
	}
	finish()
	if inGroup {
		out = append(out, Address{})
	}
	return out
}

// angleAddress reads the tokens between "<" and ">": an addr-spec, possibly preceded by
// an obsolete route "@a,@b:" (RFC 5322 section 4.4) which is dropped. The empty "<>" gives
// an empty Address.
func angleAddress(toks []addrToken) Address {
	for k := len(toks) - 1; k >= 0; k-- {
		if toks[k].kind == ':' {
			toks = toks[k+1:]
			break
		}
	}
	var spec []addrToken
	for _, t := range toks {
		if t.kind != 'c' {
			spec = append(spec, t)
		}
	}
	if len(spec) == 0 {
		return Address{}
	}
	return addrSpec(spec)
}

// plainAddress reads an address that was not in angle brackets: normally a bare
// addr-spec; without "@", a lone atom is taken as a local part and anything else as a
// display name with nothing else.
func plainAddress(toks []addrToken, comment string) Address {
	for _, t := range toks {
		if t.kind == '@' {
			a := addrSpec(toks)
			a.Name = comment
			return a
		}
	}
	if len(toks) == 1 && toks[0].kind == 'a' {
		return Address{Name: comment, Mailbox: toks[0].text, Host: MissingHost}
	}
	return Address{Name: phrase(toks), Mailbox: MissingMailbox, Host: MissingHost}
}

// addrSpec splits tokens at the last "@" into local part and domain. Whitespace between
// tokens is dropped (obsolete CFWS around dots, RFC 5322 section 4.4).
func addrSpec(toks []addrToken) Address {
	at := -1
	for k, t := range toks {
		if t.kind == '@' {
			at = k
		}
	}
	var local, domain strings.Builder
	if at < 0 {
		at = len(toks)
	}
	for _, t := range toks[:at] {
		local.WriteString(word(t))
	}
	if at < len(toks) {
		for _, t := range toks[at+1:] {
			domain.WriteString(word(t))
		}
	}
	a := Address{Mailbox: local.String(), Host: domain.String()}
	if a.Mailbox == "" {
		a.Mailbox = MissingMailbox
	}
	if a.Host == "" {
		a.Host = MissingHost
	}
	return a
}

// word renders a token as it appears in an addr-spec; a quoted local part keeps its
// quotes so that Mailbox "@" Host is again a valid address.
func word(t addrToken) string {
	if t.kind == 'q' {
		return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(t.text) + `"`
	}
	return t.text
}

// phrase renders display-name tokens as text: quoted-strings lose their quotes and words
// are separated by a single space wherever the header had whitespace.
func phrase(toks []addrToken) string {
	var b strings.Builder
	for k, t := range toks {
		if k > 0 && t.space {
			b.WriteByte(' ')
		}
		b.WriteString(t.text)
	}
	return b.String()
}
