package imap

// The message commands: FETCH (RFC 9051 section 6.4.5, RFC 7162 sections 3.1.4 and
// 3.2.6), STORE (RFC 9051 section 6.4.6, RFC 7162 section 3.1.3), SEARCH (RFC 9051
// section 6.4.4, RFC 4731, RFC 5182, RFC 7162 section 3.1.5), SORT and THREAD
// (RFC 5256). Sequence sets are resolved here against the view; the message data is
// written by fetch.go, search.go, sort.go and thread.go.

import (
	"context"
	"errors"
	"slices"
	"strings"

	"mailroom/internal/acl"
	"mailroom/internal/imap/imapwire"
	"mailroom/internal/store"
)

// resolve returns the UIDs a sequence set names in the view, in UID order: sequence
// numbers (uid false) or UIDs, with "*" the last message and "$" the saved search
// result (RFC 5182). A sequence number beyond the messages, "*" in an empty mailbox
// included, is a BAD (RFC 9051 section 6.4); UIDs that do not exist are left out.
func (s *selection) resolve(set imapwire.SeqSet, uid bool) ([]store.UID, error) {
	if set.Saved {
		return s.known(s.saved), nil
	}
	v := s.view
	n := uint32(v.count())
	var out []store.UID
	if !uid {
		for _, r := range set.Ranges {
			if n == 0 || r.Start > n || r.Stop > n {
				return nil, bad("message sequence number out of range: the mailbox has %d messages", n)
			}
			lo, hi := r.Bounds(n)
			out = v.uids.appendSeqs(out, lo, hi)
		}
	} else {
		for _, r := range set.Ranges {
			lo, hi := r.Bounds(uint32(v.last()))
			out = v.uids.appendUIDs(out, store.UID(lo), store.UID(hi))
		}
	}
	if len(set.Ranges) > 1 {
		slices.Sort(out)
		out = slices.Compact(out)
	}
	return out, nil
}

// uidRanges implements seqResolver for searchCriteria: the UIDs of the view a set
// names, as ranges. Consecutive sequence numbers make one range, since no message of
// the folder has a UID between those of two neighbours in the view.
func (s *selection) uidRanges(set imapwire.SeqSet, uid bool) []store.UIDRange {
	out := []store.UIDRange{}
	v := s.view
	n := uint32(v.count())
	if n == 0 {
		return out
	}
	for _, r := range set.Ranges {
		if uid {
			lo, hi := r.Bounds(uint32(v.last()))
			out = append(out, store.UIDRange{First: store.UID(lo), Last: store.UID(hi)})
			continue
		}
		lo, hi := r.Bounds(n)
		lo, hi = max(lo, 1), min(hi, n)
		if lo <= hi {
			out = append(out, store.UIDRange{First: v.uid(lo), Last: v.uid(hi)})
		}
	}
	return out
}

// savedUIDs implements seqResolver: the SEARCHRES result.
func (s *selection) savedUIDs() []store.UID { return s.known(s.saved) }

// numbers maps UIDs to what the client asked for: UIDs, or sequence numbers.
func (s *selection) numbers(uids []store.UID, uid bool) []uint32 {
	out := make([]uint32, 0, len(uids))
	for _, u := range uids {
		if uid {
			out = append(out, uint32(u))
		} else if n := s.view.seq(u); n != 0 {
			out = append(out, n)
		}
	}
	return out
}

// cmdFetch answers FETCH and UID FETCH, reading the messages in batches. A body
// section fetched without PEEK sets \Seen first, and the response then carries the
// new FLAGS (RFC 9051 section 6.4.5). CHANGEDSINCE keeps the messages changed after
// a mod-sequence, and with VANISHED the UIDs of the set expunged since come first
// (RFC 7162 section 3.2.6).
func (c *session) cmdFetch(ctx context.Context, uidCmd bool, a *imapwire.Fetch) error {
	s := c.sel
	if a.Vanished && (!uidCmd || !c.qresync || a.ChangedSince == 0) {
		return bad("VANISHED needs UID FETCH, CHANGEDSINCE and QRESYNC enabled")
	}
	uids, err := s.resolve(a.Set, uidCmd)
	if err != nil {
		return err
	}
	if a.ChangedSince > 0 || slices.ContainsFunc(a.Items, func(it imapwire.FetchItem) bool { return it.Att == imapwire.FetchModSeq }) {
		c.condstore = true // RFC 7162 section 3.1: a CONDSTORE enabling command
	}
	if a.Vanished {
		last := uint32(0)
		if n := s.view.count(); n > 0 {
			last = uint32(s.view.uid(uint32(n)))
		}
		gone, err := c.expungedSince(ctx, store.ModSeq(a.ChangedSince), func(u store.UID) bool {
			return s.view.seq(u) == 0 && a.Set.Contains(uint32(u), last)
		})
		if err != nil {
			return err
		}
		if len(gone) > 0 {
			c.w.Vanished(true, uidSeqSet(gone))
		}
	}
	needMessage, needRaw, setsSeen := fetchNeeds(a.Items)
	setsSeen = setsSeen && !s.readOnly && s.mbox.rights.Has(acl.Seen) // RFC 4314 section 4, FETCH
	hasFlags := slices.ContainsFunc(a.Items, func(it imapwire.FetchItem) bool { return it.Att == imapwire.FetchFlags })
	withFlags := append(slices.Clone(a.Items), imapwire.FetchItem{Att: imapwire.FetchFlags})
	opts := fetchOptions{UID: uidCmd, ModSeq: c.condstore, UTF8: c.utf8}
	st := c.srv.cfg.Store
	folder := s.mbox.folder.ID
	for len(uids) > 0 {
		batch := uids[:min(len(uids), batchSize)]
		uids = uids[len(batch):]
		msgs, err := c.loadMessages(ctx, batch, needMessage)
		if err != nil {
			return err
		}
		if a.ChangedSince > 0 {
			msgs = slices.DeleteFunc(msgs, func(m store.Message) bool { return m.ModSeq <= store.ModSeq(a.ChangedSince) })
		}
		seenNow := map[store.UID]bool{}
		if setsSeen {
			var unseen []store.UID
			for _, m := range msgs {
				if !slices.Contains(m.Flags, store.FlagSeen) {
					unseen = append(unseen, m.UID)
				}
			}
			if len(unseen) > 0 {
				res, err := st.StoreFlags(ctx, store.FlagUpdate{Folder: folder, UIDs: unseen, Op: store.FlagsAdd, Flags: []string{store.FlagSeen}})
				if err != nil {
					return storeErr(err, "FETCH")
				}
				for _, in := range res.Updated {
					i := slices.IndexFunc(msgs, func(m store.Message) bool { return m.UID == in.UID })
					if i >= 0 {
						msgs[i].MessageInfo = in
						seenNow[in.UID] = true
					}
				}
			}
		}
		for len(msgs) > 0 {
			part := msgs
			var raws map[store.MessageID][]byte
			if needRaw {
				part = msgs[:rawBatch(msgs)]
				if raws, err = st.RawMany(ctx, messageIDs(part)); err != nil {
					return noErr(err, codeUnavailable, "cannot read messages now, try again later")
				}
			}
			msgs = msgs[len(part):]
			for i := range part {
				m := &part[i]
				raw, found := raws[m.ID]
				if needRaw && !found {
					continue // expunged meanwhile
				}
				items := a.Items
				if seenNow[m.UID] && !hasFlags {
					items = withFlags
				}
				if hasFlags || seenNow[m.UID] {
					c.noteKeywords(m.Flags)
				}
				if err := writeFetch(c.w, s.view.seq(m.UID), m, raw, items, opts); err != nil {
					var cte *unknownCTEError
					if errors.As(err, &cte) {
						return no(imapwire.Code("UNKNOWN-CTE"), "cannot decode the part's %s content-transfer-encoding", cte.Encoding)
					}
					if werr := c.w.Err(); werr != nil {
						return werr
					}
					return noErr(err, codeServerBug, "cannot fetch message %d", m.UID)
				}
				if hasFlags || seenNow[m.UID] {
					s.report(m.UID, m.ModSeq)
				}
			}
		}
	}
	return nil
}

// maxRawBatch bounds the bytes of the messages whose raw bytes one FETCH reads at once
// (one statement for all of them, RawMany); a bigger message is read alone.
const maxRawBatch = 1 << 20

// rawBatch returns how many of msgs, at least one, to read at once.
func rawBatch(msgs []store.Message) int {
	n, total := 1, msgs[0].Size
	for n < len(msgs) && total+msgs[n].Size <= maxRawBatch {
		total += msgs[n].Size
		n++
	}
	return n
}

func messageIDs(msgs []store.Message) []store.MessageID {
	ids := make([]store.MessageID, len(msgs))
	for i, m := range msgs {
		ids[i] = m.ID
	}
	return ids
}

// loadMessages reads messages of the selected folder: whole when full, else only
// their MessageInfo. Messages gone meanwhile are left out.
func (c *session) loadMessages(ctx context.Context, uids []store.UID, full bool) ([]store.Message, error) {
	st := c.srv.cfg.Store
	folder := c.sel.mbox.folder.ID
	if full {
		msgs, err := st.Messages(ctx, folder, uids)
		if err != nil {
			return nil, noErr(err, codeUnavailable, "cannot read messages now, try again later")
		}
		return msgs, nil
	}
	infos, err := st.Infos(ctx, folder, uids)
	if err != nil {
		return nil, noErr(err, codeUnavailable, "cannot read messages now, try again later")
	}
	msgs := make([]store.Message, len(infos))
	for i, in := range infos {
		msgs[i].MessageInfo = in
	}
	return msgs, nil
}

// cmdStore changes flags and answers with the new flags unless .SILENT. With
// UNCHANGEDSINCE, messages changed after that mod-sequence are left alone and named
// in [MODIFIED set]; a CONDSTORE client gets FETCH with MODSEQ for every message the
// STORE changed, .SILENT or not (RFC 7162 section 3.1.3).
func (c *session) cmdStore(ctx context.Context, uidCmd bool, a *imapwire.Store) error {
	s := c.sel
	// Missing rights come first: they are why a shared folder opened read-only.
	if err := require(s.mbox, flagRights(a.Flags, a.Op == imapwire.StoreReplace), "STORE"); err != nil {
		return err
	}
	if s.readOnly {
		return no(codeReadOnly, "the mailbox is read-only")
	}
	uids, err := s.resolve(a.Set, uidCmd)
	if err != nil {
		return err
	}
	if a.HasUnchangedSince {
		c.condstore = true
	}
	// \Recent cannot be changed by a client (RFC 3501 section 2.3.2).
	flags := slices.DeleteFunc(slices.Clone(a.Flags), func(f string) bool { return strings.EqualFold(f, `\Recent`) })
	op := map[imapwire.StoreOp]store.FlagOp{imapwire.StoreReplace: store.FlagsReplace, imapwire.StoreAdd: store.FlagsAdd, imapwire.StoreRemove: store.FlagsRemove}[a.Op]
	var res store.FlagResult
	switch {
	case len(uids) == 0:
	case a.HasUnchangedSince && a.UnchangedSince == 0:
		// RFC 7162 section 3.1.3: UNCHANGEDSINCE 0 fails for every message.
		res.Modified = uids
	default:
		res, err = c.srv.cfg.Store.StoreFlags(ctx, store.FlagUpdate{Folder: s.mbox.folder.ID, UIDs: uids, Op: op,
			Flags: flags, UnchangedSince: store.ModSeq(a.UnchangedSince)})
		if err != nil {
			return storeErr(err, "STORE")
		}
	}
	for _, in := range res.Updated {
		seq := s.view.seq(in.UID)
		switch {
		case !a.Silent:
			c.writeFlags(seq, in, uidCmd || c.qresync, c.condstore)
		case c.condstore && res.ModSeq != 0 && in.ModSeq == res.ModSeq:
			w := c.w
			w.Untagged().Number32(seq).Atom(" FETCH (")
			if uidCmd || c.qresync {
				w.Atom("UID ").Number32(uint32(in.UID)).SP()
			}
			w.Atom("MODSEQ (").Number(uint64(in.ModSeq)).Atom("))").CRLF()
		}
		s.report(in.UID, in.ModSeq)
	}
	if len(res.Modified) > 0 {
		set := imapwire.SeqSetOf(s.numbers(res.Modified, uidCmd))
		return okReply(imapwire.CodeModified(set), "conditional STORE failed for some messages")
	}
	return nil
}

// searchUIDs runs a search program against the selected mailbox and returns the
// matching UIDs the client knows, in UID order.
func (c *session) searchUIDs(ctx context.Context, key *imapwire.SearchKey, charset string) ([]store.UID, error) {
	s := c.sel
	crit, err := searchCriteria(key, s, charset)
	if err != nil {
		var bc *badCharsetError
		if errors.As(err, &bc) {
			return nil, no(imapwire.CodeBadCharset([]string{"UTF-8", "US-ASCII"}), "charset %.40s is not supported", bc.Charset)
		}
		return nil, bad("%v", err)
	}
	uids, err := c.srv.cfg.Store.Search(ctx, s.mbox.folder.ID, crit)
	if err != nil {
		return nil, storeErr(err, "SEARCH")
	}
	return s.known(uids), nil
}

// hasModSeqKey reports whether a search program uses MODSEQ, whose answer then
// carries the highest mod-sequence of the matches (RFC 7162 section 3.1.5).
func hasModSeqKey(k *imapwire.SearchKey) bool {
	if k == nil {
		return false
	}
	return k.Op == "MODSEQ" || slices.ContainsFunc(k.Children, hasModSeqKey)
}

// cmdSearch answers SEARCH: "* SEARCH" for an IMAP4rev1 client that asks for no
// RETURN options, "* ESEARCH" otherwise (RFC 4731, RFC 9051 section 7.3.4), and
// saves the result for "$" with RETURN (SAVE) (RFC 5182).
func (c *session) cmdSearch(ctx context.Context, tag string, uidCmd bool, a *imapwire.Search) error {
	s := c.sel
	opts := map[string]bool{}
	for _, o := range a.Return {
		opts[o] = true
	}
	save := opts["SAVE"]
	if save {
		// RFC 5182 section 2.1: a failed SEARCH leaves "$" empty.
		s.saved = []store.UID{}
	}
	uids, err := c.searchUIDs(ctx, a.Key, a.Charset)
	if err != nil {
		return err
	}
	var modseq store.ModSeq
	if hasModSeqKey(a.Key) {
		c.condstore = true
		for i := 0; i < len(uids); i += batchSize {
			infos, err := c.srv.cfg.Store.Infos(ctx, s.mbox.folder.ID, uids[i:min(i+batchSize, len(uids))])
			if err != nil {
				return storeErr(err, "SEARCH")
			}
			for _, in := range infos {
				modseq = max(modseq, in.ModSeq)
			}
		}
	}
	nums := s.numbers(uids, uidCmd)
	w := c.w
	if !a.ESearch && !c.rev2 {
		w.Untagged().Atom("SEARCH")
		for _, n := range nums {
			w.SP().Number32(n)
		}
		if modseq != 0 {
			w.Atom(" (MODSEQ ").Number(uint64(modseq)).Close()
		}
		w.CRLF()
		return nil
	}
	if len(a.Return) == 0 || len(opts) == 1 && save {
		// RETURN () means ALL (RFC 4731 section 3.1); RETURN (SAVE) alone answers nothing.
		if !save {
			opts["ALL"] = true
		}
	}
	if save {
		s.saved = slices.Clone(uids)
		if (opts["MIN"] || opts["MAX"]) && !opts["ALL"] && !opts["COUNT"] && len(uids) > 0 {
			// RFC 5182 section 2.4: SAVE with MIN or MAX saves just those.
			var kept []store.UID
			if opts["MIN"] {
				kept = append(kept, uids[0])
			}
			if opts["MAX"] && (len(kept) == 0 || uids[len(uids)-1] != kept[0]) {
				kept = append(kept, uids[len(uids)-1])
			}
			s.saved = kept
		}
		if len(opts) == 1 {
			return nil
		}
	}
	w.Untagged().Atom("ESEARCH (TAG ").String(tag).Close()
	if uidCmd {
		w.Atom(" UID")
	}
	if len(nums) > 0 {
		if opts["MIN"] {
			w.Atom(" MIN ").Number32(slices.Min(nums))
		}
		if opts["MAX"] {
			w.Atom(" MAX ").Number32(slices.Max(nums))
		}
		if opts["ALL"] {
			w.Atom(" ALL ").SeqSet(imapwire.SeqSetOf(nums))
		}
	}
	if opts["COUNT"] {
		w.Atom(" COUNT ").Number(uint64(len(nums)))
	}
	if modseq != 0 {
		w.Atom(" MODSEQ ").Number(uint64(modseq))
	}
	w.CRLF()
	return nil
}

// cmdSort answers SORT and UID SORT: "* SORT n ..." (RFC 5256 section 4).
func (c *session) cmdSort(ctx context.Context, uidCmd bool, a *imapwire.Sort) error {
	msgs, err := c.searchMessages(ctx, a.Key, a.Charset)
	if err != nil {
		return err
	}
	sorted := sortUIDs(msgs, a.Criteria)
	c.w.Untagged().Atom("SORT")
	for _, n := range c.sel.numbers(sorted, uidCmd) {
		c.w.SP().Number32(n)
	}
	c.w.CRLF()
	return nil
}

// cmdThread answers THREAD and UID THREAD: "* THREAD (...)..." (RFC 5256 section 4).
func (c *session) cmdThread(ctx context.Context, uidCmd bool, a *imapwire.Thread) error {
	if a.Algorithm != "REFERENCES" && a.Algorithm != "ORDEREDSUBJECT" {
		return bad("unknown threading algorithm %.20s; this server offers REFERENCES and ORDEREDSUBJECT", a.Algorithm)
	}
	msgs, err := c.searchMessages(ctx, a.Key, a.Charset)
	if err != nil {
		return err
	}
	roots, err := threadUIDs(msgs, a.Algorithm)
	if err != nil {
		return noErr(err, codeServerBug, "THREAD failed")
	}
	s := c.sel
	num := func(u store.UID) uint32 {
		if uidCmd {
			return uint32(u)
		}
		return s.view.seq(u)
	}
	c.w.Untagged().Atom("THREAD")
	if len(roots) > 0 {
		c.w.SP()
		writeThread(c.w, roots, num)
	}
	c.w.CRLF()
	return nil
}

// searchMessages returns the matching messages with what SORT and THREAD look at.
func (c *session) searchMessages(ctx context.Context, key *imapwire.SearchKey, charset string) ([]store.Message, error) {
	uids, err := c.searchUIDs(ctx, key, charset)
	if err != nil {
		return nil, err
	}
	var msgs []store.Message
	for i := 0; i < len(uids); i += batchSize {
		batch, err := c.loadMessages(ctx, uids[i:min(i+batchSize, len(uids))], true)
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, batch...)
	}
	return msgs, nil
}
