package imap

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"mailroom/internal/imap/imapwire"
	"mailroom/internal/mime"
	"mailroom/internal/store"
)

// threadNode is one node of a THREAD result: a message, or with UID 0 a dummy that only
// groups its children (RFC 5256 section 4, a thread-list holding only thread-lists).
type threadNode struct {
	UID      store.UID
	Children []*threadNode
}

// threadUIDs threads msgs, given in sequence order, by the algorithm of RFC 5256
// section 3: "ORDEREDSUBJECT" or "REFERENCES" (upper case, as the parser leaves it).
// It returns the top-level threads in order.
func threadUIDs(msgs []store.Message, algorithm string) ([]*threadNode, error) {
	info := make([]threadMsg, len(msgs))
	for i := range msgs {
		m := &msgs[i]
		subj, reply := baseSubject(m.Envelope.Subject)
		info[i] = threadMsg{seq: i, uid: m.UID, date: sentDate(m), subject: subj, reply: reply, env: &m.Envelope}
	}
	switch algorithm {
	case "ORDEREDSUBJECT":
		return orderedSubject(info), nil
	case "REFERENCES":
		return references(info), nil
	}
	return nil, fmt.Errorf("unknown threading algorithm %q", algorithm)
}

// threadMsg is what threading looks at in a message.
type threadMsg struct {
	seq     int // position in the input: sequence order breaks ties
	uid     store.UID
	date    time.Time // sent date (RFC 5256 section 2.2)
	subject string    // base subject as a collation key (RFC 5256 section 2.1)
	reply   bool      // the subject marks a reply or forward
	env     *mime.Envelope
}

// byDate orders messages by sent date, then sequence order (RFC 5256 section 2.2).
func byDate(a, b *threadMsg) int {
	if c := a.date.Compare(b.date); c != 0 {
		return c
	}
	return cmp.Compare(a.seq, b.seq)
}

// orderedSubject is THREAD=ORDEREDSUBJECT (RFC 5256 section 3): messages sorted by base
// subject and then sent date, each run of one base subject a thread whose first message
// is the parent of all the others, threads sorted by the sent date of their first
// message.
func orderedSubject(msgs []threadMsg) []*threadNode {
	sorted := make([]*threadMsg, len(msgs))
	for i := range msgs {
		sorted[i] = &msgs[i]
	}
	slices.SortFunc(sorted, func(a, b *threadMsg) int {
		if c := cmp.Compare(a.subject, b.subject); c != 0 {
			return c
		}
		return byDate(a, b)
	})
	type thread struct {
		first *threadMsg
		node  *threadNode
	}
	var threads []thread
	for i, m := range sorted {
		if i > 0 && m.subject == sorted[i-1].subject {
			last := threads[len(threads)-1].node
			last.Children = append(last.Children, &threadNode{UID: m.uid})
			continue
		}
		threads = append(threads, thread{first: m, node: &threadNode{UID: m.uid}})
	}
	slices.SortStableFunc(threads, func(a, b thread) int { return byDate(a.first, b.first) })
	out := make([]*threadNode, len(threads))
	for i, t := range threads {
		out[i] = t.node
	}
	return out
}

// container is a node of the REFERENCES algorithm: a message, or a dummy (msg nil)
// standing for a message-id that is referenced but not among the messages.
type container struct {
	msg      *threadMsg
	parent   *container
	children []*container
}

// isAncestorOf reports whether a is c or one of c's ancestors.
func (a *container) isAncestorOf(c *container) bool {
	for ; c != nil; c = c.parent {
		if c == a {
			return true
		}
	}
	return false
}

func (c *container) unlink() {
	if p := c.parent; p != nil {
		p.children = slices.DeleteFunc(p.children, func(x *container) bool { return x == c })
		c.parent = nil
	}
}

func (c *container) adopt(child *container) {
	child.unlink()
	child.parent = c
	c.children = append(c.children, child)
}

// first returns the message that stands for c when sorting and grouping: c's own, or
// for a dummy that of its first child (RFC 5256 section 3, REFERENCES steps 4 to 6).
func (c *container) first() *threadMsg {
	for c.msg == nil && len(c.children) > 0 {
		c = c.children[0]
	}
	return c.msg
}

// references is THREAD=REFERENCES (RFC 5256 section 3), step by step.
func references(msgs []threadMsg) []*threadNode {
	// Step 1: link messages by their references. all keeps every container in order of
	// creation, so the root set below comes out in a stable order.
	var all []*container
	byID := map[string]*container{}
	lookup := func(id string) *container {
		c := byID[id]
		if c == nil {
			c = &container{}
			byID[id] = c
			all = append(all, c)
		}
		return c
	}
	for i := range msgs {
		m := &msgs[i]
		// A message without a valid Message-ID, or repeating an earlier one, gets a
		// unique id of its own: a container no reference can reach.
		var c *container
		if ids := mime.ParseMessageIDs(m.env.MessageID); len(ids) > 0 && (byID[ids[0]] == nil || byID[ids[0]].msg == nil) {
			c = lookup(ids[0])
		} else {
			c = &container{}
			all = append(all, c)
		}
		c.msg = m
		refs := m.env.References
		if len(refs) == 0 {
			// No References: the first message-id of In-Reply-To (RFC 5256 section 3).
			if ids := mime.ParseMessageIDs(m.env.InReplyTo); len(ids) > 0 {
				refs = ids[:1]
			}
		}
		// Step 1.A: each reference is the parent of the next, unless the next already
		// has a parent or the link would make a loop.
		var prev *container
		for _, id := range refs {
			r := lookup(id)
			if prev != nil && r.parent == nil && !r.isAncestorOf(prev) {
				prev.adopt(r)
			}
			prev = r
		}
		// Step 1.B: the last reference is the message's parent; an earlier parent,
		// from a truncated References, is dropped. No references: no parent.
		c.unlink()
		if prev != nil && !c.isAncestorOf(prev) {
			prev.adopt(c)
		}
	}
	// Step 2: the root set is every container without a parent.
	var roots []*container
	for _, c := range all {
		if c.parent == nil {
			roots = append(roots, c)
		}
	}
	// Step 3: prune dummies.
	roots = prune(roots, true)
	// Step 4: sort the root set by sent date, a dummy by its children's first.
	for _, c := range roots {
		if c.msg == nil {
			sortSiblings(c.children)
		}
	}
	sortSiblings(roots)
	// Step 5: merge threads with the same base subject.
	roots = groupBySubject(roots)
	// Step 6: sort every set of siblings by sent date, the deepest first.
	sortTree(roots)
	out := make([]*threadNode, len(roots))
	for i, c := range roots {
		out[i] = c.node()
	}
	return out
}

// prune removes dummies (RFC 5256 section 3, REFERENCES step 3): one without
// children goes; one with children is replaced by them, except at the top level where
// only a single child is promoted.
func prune(list []*container, top bool) []*container {
	var out []*container
	for _, c := range list {
		c.children = prune(c.children, false)
		for _, k := range c.children {
			k.parent = c
		}
		switch {
		case c.msg != nil:
			out = append(out, c)
		case len(c.children) == 0:
		case !top || len(c.children) == 1:
			for _, k := range c.children {
				k.parent = c.parent
			}
			out = append(out, c.children...)
		default:
			out = append(out, c)
		}
	}
	return out
}

func sortSiblings(list []*container) {
	slices.SortStableFunc(list, func(a, b *container) int { return byDate(a.first(), b.first()) })
}

func sortTree(list []*container) {
	for _, c := range list {
		sortTree(c.children)
	}
	sortSiblings(list)
}

// groupBySubject is REFERENCES step 5 (RFC 5256 section 3): threads whose first
// messages share a base subject are merged.
func groupBySubject(roots []*container) []*container {
	table := map[string]*container{}
	// 5.B: one thread per subject, preferring a dummy, then a message that is not a
	// reply or forward.
	for _, c := range roots {
		subj := c.first().subject
		if subj == "" {
			continue
		}
		t := table[subj]
		if t == nil || t.msg != nil && (c.msg == nil || t.msg.reply && !c.msg.reply) {
			table[subj] = c
		}
	}
	// 5.C: merge the others into it. A merged thread leaves the root set; a new dummy
	// takes the place of the thread it was made for.
	removed := map[*container]bool{}
	replaced := map[*container]*container{}
	for _, c := range roots {
		subj := c.first().subject
		if subj == "" {
			continue
		}
		t := table[subj]
		if t == c {
			continue
		}
		switch {
		case t.msg == nil && c.msg == nil:
			for _, k := range slices.Clone(c.children) {
				t.adopt(k)
			}
		case t.msg == nil:
			t.adopt(c)
		case c.msg != nil && c.msg.reply && !t.msg.reply:
			t.adopt(c)
		default:
			d := &container{}
			replaced[t] = d
			d.adopt(t)
			d.adopt(c)
			table[subj] = d
		}
		removed[c] = true
	}
	var out []*container
	for _, c := range roots {
		if removed[c] {
			continue
		}
		for replaced[c] != nil {
			c = replaced[c]
		}
		out = append(out, c)
	}
	return out
}

func (c *container) node() *threadNode {
	n := &threadNode{}
	if c.msg != nil {
		n.UID = c.msg.uid
	}
	for _, k := range c.children {
		n.Children = append(n.Children, k.node())
	}
	return n
}

// writeThread writes the thread-lists of a THREAD response (RFC 5256 section 4) after
// "* THREAD": "(2)(3 6 (4 23)(44 7 96))". A message with one child continues its list;
// with several, each child gets a list of its own. A dummy writes only its children:
// "((3)(5))". num maps a UID to the number the client wants (sequence number or UID).
// Dummies without children are left out and a dummy with one child stands for it, so
// the output is valid thread-list syntax for any tree.
func writeThread(w *imapwire.Writer, roots []*threadNode, num func(store.UID) uint32) {
	for _, n := range roots {
		if n = collapse(n); n != nil {
			w.Open()
			writeMembers(w, n, num)
			w.Close()
		}
	}
}

// collapse skips dummies with a single child and drops those without any; it returns
// nil when nothing is left.
func collapse(n *threadNode) *threadNode {
	for n != nil && n.UID == 0 {
		kids := liveChildren(n)
		switch len(kids) {
		case 0:
			return nil
		case 1:
			n = kids[0]
		default:
			return n
		}
	}
	return n
}

func liveChildren(n *threadNode) []*threadNode {
	var out []*threadNode
	for _, k := range n.Children {
		if k = collapse(k); k != nil {
			out = append(out, k)
		}
	}
	return out
}

// writeMembers writes the inside of a thread-list for n (collapsed): thread-members, or
// for a dummy the thread-nested of its children.
func writeMembers(w *imapwire.Writer, n *threadNode, num func(store.UID) uint32) {
	for {
		kids := liveChildren(n)
		if n.UID != 0 {
			w.Number32(num(n.UID))
			if len(kids) == 0 {
				return
			}
			w.SP()
			if len(kids) == 1 && kids[0].UID != 0 {
				n = kids[0]
				continue
			}
			if len(kids) == 1 {
				// A lone dummy child: its children are this message's.
				kids = liveChildren(kids[0])
			}
		}
		for _, k := range kids {
			w.Open()
			writeMembers(w, k, num)
			w.Close()
		}
		return
	}
}
