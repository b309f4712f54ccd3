package imap

// LIST (RFC 9051 section 6.3.9) with LIST-EXTENDED (RFC 5258), SPECIAL-USE (RFC 6154)
// and LIST-STATUS (RFC 5819), and LSUB (RFC 3501 section 6.3.9).

import (
	"context"
	"slices"
	"strings"

	"mailroom/internal/acl"
	"mailroom/internal/imap/imapwire"
	"mailroom/internal/store"
)

// listEntry is one name LIST can show: a folder, or a node of the other-users
// namespace ("Shared", "Shared/<address>"), which cannot be selected.
type listEntry struct {
	mailbox
	node       bool // a namespace node, not a folder
	children   bool
	subscribed bool
	specialUse string
}

// entries returns every name the user can see, in hierarchy order.
func (c *session) entries(ctx context.Context) ([]listEntry, error) {
	st := c.srv.cfg.Store
	own, err := st.Folders(ctx, c.account)
	if err != nil {
		return nil, noErr(err, codeUnavailable, "cannot list mailboxes now, try again later")
	}
	var out []listEntry
	add := func(prefix string, account store.AccountID, folders []store.Folder, own bool) {
		hidden := map[store.FolderID]bool{} // folders below a hidden one are hidden too
		for _, f := range folders {
			if !visible(f, own) || hidden[f.Parent] {
				hidden[f.ID] = true
				continue
			}
			out = append(out, listEntry{
				mailbox:    mailbox{name: prefix + strings.Join(f.Path, delimiter), account: account, folder: f, shared: !own, rights: acl.All},
				subscribed: f.Subscribed,
				specialUse: specialUse[f.Role],
			})
		}
	}
	add("", c.account, own, true)
	gs, err := c.grants(ctx)
	if err != nil {
		return nil, err
	}
	byACL, err := c.aclEntries(ctx, gs)
	if err != nil {
		return nil, err
	}
	if len(gs) > 0 || len(byACL) > 0 {
		out = append(out, listEntry{mailbox: mailbox{name: sharedPrefix}, node: true})
	}
	for _, g := range gs {
		acct := store.AccountID(g.Mailbox.ID)
		if _, err := st.EnsureAccount(ctx, acct); err != nil {
			return nil, noErr(err, codeUnavailable, "cannot open shared mailboxes now, try again later")
		}
		folders, err := st.Folders(ctx, acct)
		if err != nil {
			return nil, noErr(err, codeUnavailable, "cannot list shared mailboxes now, try again later")
		}
		prefix := sharedPrefix + delimiter + g.Mailbox.Address
		out = append(out, listEntry{mailbox: mailbox{name: prefix, account: acct, shared: true}, node: true})
		add(prefix+delimiter, acct, folders, false)
	}
	out = append(out, byACL...)
	for i := range out {
		p := out[i].name + delimiter
		for j := i + 1; j < len(out) && !out[i].children; j++ {
			out[i].children = strings.HasPrefix(out[j].name, p)
		}
	}
	return out, nil
}

// cmdList answers LIST in its basic and extended forms.
func (c *session) cmdList(ctx context.Context, a *imapwire.List) error {
	if len(a.Patterns) == 1 && a.Patterns[0] == "" && !a.Extended {
		// RFC 9051 section 6.3.9: an empty pattern asks for the delimiter and root.
		c.w.Untagged().Atom(`LIST (\Noselect) `).String(delimiter).SP().String("").CRLF()
		return nil
	}
	all, err := c.entries(ctx)
	if err != nil {
		return err
	}
	var matchers []*pattern
	for _, p := range a.Patterns {
		matchers = append(matchers, compilePattern(joinReference(a.Reference, p)))
	}
	matches := func(name string) bool {
		return slices.ContainsFunc(matchers, func(m *pattern) bool { return m.match(name) })
	}
	sel, ret := a.Select, a.Return
	showSubscribed := sel.Subscribed || ret.Subscribed
	for i, e := range all {
		if !matches(e.name) {
			continue
		}
		// A name that fails the selection is still listed, with CHILDINFO, when
		// RECURSIVEMATCH is given and a name below it meets SUBSCRIBED (RFC 5258
		// sections 3.1 and 3.5).
		childInfo := false
		if sel.Subscribed && !e.subscribed || sel.SpecialUse && e.specialUse == "" {
			if !sel.RecursiveMatch || !sel.Subscribed || !descendantMeets(all, i, sel) {
				continue
			}
			childInfo = true
		}
		w := c.w
		w.Untagged().Atom("LIST (")
		attrs := []string{}
		if e.node {
			attrs = append(attrs, `\Noselect`)
		}
		if e.children {
			attrs = append(attrs, `\HasChildren`)
		} else {
			attrs = append(attrs, `\HasNoChildren`)
		}
		if showSubscribed && e.subscribed {
			attrs = append(attrs, `\Subscribed`)
		}
		if e.specialUse != "" {
			attrs = append(attrs, e.specialUse)
		}
		w.Atom(strings.Join(attrs, " ")).Atom(") ").String(delimiter).SP().Mailbox(e.name)
		if childInfo {
			w.Atom(` ("CHILDINFO" ("SUBSCRIBED"))`)
		}
		w.CRLF()
		if ret.Status != nil && !e.node && e.rights.Has(acl.Read) {
			if err := c.writeStatus(ctx, e.mailbox, ret.Status); err != nil {
				return err
			}
		}
	}
	return nil
}

// descendantMeets reports whether a name below all[i] meets the selection options.
func descendantMeets(all []listEntry, i int, sel imapwire.ListSelect) bool {
	p := all[i].name + delimiter
	for _, e := range all[i+1:] {
		if !strings.HasPrefix(e.name, p) {
			continue
		}
		if (!sel.Subscribed || e.subscribed) && (!sel.SpecialUse || e.specialUse != "") {
			return true
		}
	}
	return false
}

// cmdLsub lists subscribed mailboxes (RFC 3501 section 6.3.9). A name that "%"
// matches and that is not subscribed itself but has subscribed mailboxes below it is
// listed with \Noselect.
func (c *session) cmdLsub(ctx context.Context, a *imapwire.Lsub) error {
	if a.Pattern == "" {
		c.w.Untagged().Atom(`LSUB (\Noselect) `).String(delimiter).SP().String("").CRLF()
		return nil
	}
	all, err := c.entries(ctx)
	if err != nil {
		return err
	}
	m := compilePattern(joinReference(a.Reference, a.Pattern))
	listed := map[string]bool{}
	for _, e := range all {
		if !e.subscribed {
			continue
		}
		name := e.name
		attrs := ""
		for !m.match(name) {
			i := strings.LastIndex(name, delimiter)
			if i < 0 {
				name = ""
				break
			}
			name, attrs = name[:i], `\Noselect`
		}
		if name == "" || listed[name] {
			continue
		}
		listed[name] = true
		c.w.Untagged().Atom("LSUB (" + attrs + ") ").String(delimiter).SP().Mailbox(name).CRLF()
	}
	return nil
}

// joinReference puts a LIST reference before a pattern (RFC 9051 section 6.3.9): a
// reference names a level of the hierarchy, so the delimiter goes between them when
// neither has it.
func joinReference(ref, pat string) string {
	if ref == "" || strings.HasSuffix(ref, delimiter) || strings.HasPrefix(pat, delimiter) {
		return ref + pat
	}
	return ref + delimiter + pat
}

// pattern is a compiled LIST pattern: "*" matches any text, "%" any text without the
// delimiter (RFC 9051 section 6.3.9).
type pattern struct{ p string }

// compilePattern makes a matcher of a LIST pattern; INBOX as the first level matches
// in any case (RFC 9051 section 5.1).
func compilePattern(p string) *pattern {
	first, rest, found := strings.Cut(p, delimiter)
	if strings.EqualFold(first, "INBOX") {
		p = "INBOX"
		if found {
			p += delimiter + rest
		}
	}
	return &pattern{p: p}
}

// match reports whether name matches, in time proportional to the product of the
// lengths, whatever wildcards a client sends.
func (m *pattern) match(name string) bool {
	p := m.p
	// cur[j]: p[:i] matches name[:j], for the current i.
	cur := make([]bool, len(name)+1)
	next := make([]bool, len(name)+1)
	cur[0] = true
	for i := 0; i < len(p); i++ {
		clear(next)
		switch p[i] {
		case '*', '%':
			for j := 0; j <= len(name); j++ {
				if cur[j] {
					next[j] = true
				} else if j > 0 && next[j-1] && (p[i] == '*' || name[j-1] != delimiter[0]) {
					next[j] = true
				}
			}
		default:
			for j := 1; j <= len(name); j++ {
				next[j] = cur[j-1] && name[j-1] == p[i]
			}
		}
		cur, next = next, cur
	}
	return cur[len(name)]
}
