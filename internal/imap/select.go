package imap

// SELECT and EXAMINE (RFC 9051 sections 6.3.2 and 6.3.3) with CONDSTORE and QRESYNC
// (RFC 7162 sections 3.1.8 and 3.2.5), UNSELECT (RFC 3691) and CLOSE (RFC 9051
// section 6.4.1), and the updates of the selected mailbox that follow every command
// (RFC 9051 section 7.5.1, RFC 7162 section 3.2.10).

import (
	"context"
	"slices"

	"mailroom/internal/acl"
	"mailroom/internal/imap/imapwire"
	"mailroom/internal/store"
)

// systemFlags are the flags of FLAGS and PERMANENTFLAGS; keywords can be added too
// ("\*", RFC 9051 section 7.1).
var systemFlags = []string{store.FlagAnswered, store.FlagFlagged, store.FlagDeleted, store.FlagSeen, store.FlagDraft}

// batchSize is how many messages are read from the store at once when answering
// about many, which bounds a session's memory.
const batchSize = 100

// cmdSelect selects a mailbox, read-write or, for EXAMINE, read-only.
func (c *session) cmdSelect(ctx context.Context, a *imapwire.Select) error {
	if a.QResync != nil && !c.qresync {
		// RFC 7162 section 3.2.5: QRESYNC needs ENABLE QRESYNC first.
		return bad("enable QRESYNC before using it with SELECT")
	}
	if c.sel != nil {
		// RFC 7162 section 3.2.11 and RFC 9051 section 6.3.2: the client learns that
		// the mailbox it had is closed, and that the updates that follow are not
		// about it. A failed SELECT leaves no mailbox selected.
		c.deselect()
		c.w.StatusResponse("", imapwire.OK, codeClosed, "previous mailbox is now closed")
	}
	if a.CondStore {
		c.condstore = true
	}
	m, err := c.resolve(ctx, a.Mailbox)
	if err != nil {
		return err
	}
	name := "SELECT"
	if a.ReadOnly {
		name = "EXAMINE"
	}
	if err := require(m, acl.Read, name); err != nil {
		return err
	}
	// RFC 4314 section 4: without a right to change anything the mailbox opens
	// read-only.
	readOnly := a.ReadOnly || m.rights&(acl.Seen|acl.Write|acl.DeleteMessage|acl.Expunge) == 0
	st := c.srv.cfg.Store
	// The folder's counters were read before the view: HIGHESTMODSEQ is then at most
	// the view's position, so a change in between is sent twice rather than never.
	f := m.folder
	v, err := openView(ctx, st, m.account, f.ID)
	if err != nil {
		return noErr(err, codeUnavailable, "cannot open %s now, try again later", a.Mailbox)
	}
	uidNext := f.UIDNext
	if n := v.count(); n > 0 && v.uid(uint32(n)) >= uidNext {
		uidNext = v.uid(uint32(n)) + 1
	}
	w := c.w
	// RFC 9051 section 7.3.1: FLAGS lists the keywords in use too.
	w.Untagged().Atom("FLAGS ").Flags(append(slices.Clone(systemFlags), v.keywords...)).CRLF()
	w.NumberResponse(uint32(v.count()), "EXISTS")
	if !c.rev2 {
		// IMAP4rev1 requires RECENT and names the first unseen message (RFC 3501
		// section 6.3.1); IMAP4rev2 dropped both.
		w.NumberResponse(0, "RECENT")
		if v.firstUnseen != 0 {
			w.StatusResponse("", imapwire.OK, imapwire.CodeUnseen(v.firstUnseen), "first unseen message")
		}
	}
	w.StatusResponse("", imapwire.OK, imapwire.CodeUIDValidity(f.UIDValidity), "UIDs valid")
	w.StatusResponse("", imapwire.OK, imapwire.CodeUIDNext(uint32(uidNext)), "predicted next UID")
	perm := []string{}
	if !readOnly {
		perm = permanentFlags(m.rights, v.keywords)
	}
	w.StatusResponse("", imapwire.OK, imapwire.CodePermanentFlags(perm), "flags that can be changed")
	// RFC 7162 section 3.1.2.1: every mailbox has mod-sequences here.
	w.StatusResponse("", imapwire.OK, imapwire.CodeHighestModSeq(uint64(f.HighestModSeq)), "highest mod-sequence")
	c.sel = &selection{mbox: m, view: v, readOnly: readOnly}
	c.state = stateSelected
	if q := a.QResync; q != nil && q.UIDValidity == f.UIDValidity {
		if err := c.resync(ctx, q); err != nil {
			return err
		}
	}
	if readOnly {
		return okReply(codeReadOnly, "%s completed", name)
	}
	return okReply(codeReadWrite, "SELECT completed")
}

// resync tells a QRESYNC client what changed since the mod-sequence it knows
// (RFC 7162 section 3.2.5.2): the UIDs expunged since, as VANISHED (EARLIER), limited
// to known-uids when given, then FETCH of the messages changed since. The change log
// keeps every expunge, so the seq-match-data, a hint for servers that forget them,
// is not needed.
func (c *session) resync(ctx context.Context, q *imapwire.QResync) error {
	s := c.sel
	v := s.view
	maxUID := uint32(s.mbox.folder.UIDNext)
	if n := v.count(); n > 0 {
		maxUID = max(maxUID, uint32(v.uid(uint32(n))))
	}
	gone, err := c.expungedSince(ctx, store.ModSeq(q.ModSeq), func(u store.UID) bool {
		return v.seq(u) == 0 && (q.KnownUIDs == nil || q.KnownUIDs.Contains(uint32(u), maxUID))
	})
	if err != nil {
		return err
	}
	if len(gone) > 0 {
		c.w.Vanished(true, uidSeqSet(gone))
	}
	return c.writeChangedSince(ctx, store.ModSeq(q.ModSeq))
}

// expungedSince returns the UIDs of the selected folder's messages expunged after
// since that keep accepts, from the change log, read in pages.
func (c *session) expungedSince(ctx context.Context, since store.ModSeq, keep func(store.UID) bool) ([]store.UID, error) {
	const page = 1000
	s := c.sel
	var out []store.UID
	for {
		changes, newest, err := c.srv.cfg.Store.Changes(ctx, s.mbox.account, since, page)
		if err != nil {
			return nil, noErr(err, codeUnavailable, "cannot read the change log now, try again later")
		}
		for _, ch := range changes {
			if ch.Folder == s.mbox.folder.ID && ch.Kind == store.ChangeExpunged && ch.UID != 0 && keep(ch.UID) {
				out = append(out, ch.UID)
			}
		}
		if len(changes) < page || len(changes) == 0 || changes[len(changes)-1].ModSeq >= newest {
			return out, nil
		}
		since = changes[len(changes)-1].ModSeq
	}
}

// writeChangedSince writes FETCH (UID FLAGS MODSEQ) for every message of the view
// changed after since.
func (c *session) writeChangedSince(ctx context.Context, since store.ModSeq) error {
	s := c.sel
	st := c.srv.cfg.Store
	uids, err := st.Search(ctx, s.mbox.folder.ID, &store.Criteria{ModSeq: since + 1})
	if err != nil {
		return noErr(err, codeUnavailable, "cannot read changes now, try again later")
	}
	uids = s.known(uids)
	for len(uids) > 0 {
		n := min(len(uids), batchSize)
		infos, err := st.Infos(ctx, s.mbox.folder.ID, uids[:n])
		if err != nil {
			return noErr(err, codeUnavailable, "cannot read changes now, try again later")
		}
		for _, in := range infos {
			c.writeFlags(s.view.seq(in.UID), in, true, true)
			s.report(in.UID, in.ModSeq)
		}
		uids = uids[n:]
	}
	return nil
}

// known keeps the UIDs the client knows, that is those in the view.
func (s *selection) known(uids []store.UID) []store.UID {
	out := uids[:0:0]
	for _, u := range uids {
		if s.view.seq(u) != 0 {
			out = append(out, u)
		}
	}
	return out
}

// deselect leaves the selected state.
func (c *session) deselect() {
	c.sel = nil
	if c.state == stateSelected {
		c.state = stateAuthenticated
	}
}

// cmdClose expunges the messages marked \Deleted, without telling the client, and
// deselects (RFC 9051 section 6.4.1); in a read-only mailbox it only deselects.
func (c *session) cmdClose(ctx context.Context) error {
	s := c.sel
	if !s.readOnly && s.mbox.rights.Has(acl.Expunge) {
		st := c.srv.cfg.Store
		uids, err := st.Search(ctx, s.mbox.folder.ID, &store.Criteria{Flags: []string{store.FlagDeleted}})
		if err == nil && len(uids) > 0 {
			_, err = st.Expunge(ctx, s.mbox.folder.ID, uids)
		}
		if err != nil {
			return storeErr(err, "CLOSE")
		}
	}
	c.deselect()
	return nil
}

// syncSelected brings the client up to date with the selected mailbox: what other
// sessions, any protocol, and this one's own commands changed (RFC 9051 section
// 7.5.1). allowExpunge is false while answering FETCH, STORE and SEARCH by sequence
// number; the expunges then wait for a later command.
func (c *session) syncSelected(ctx context.Context, allowExpunge bool) error {
	s := c.sel
	up, err := s.view.sync(ctx, c.srv.cfg.Store, allowExpunge)
	if err != nil {
		return err
	}
	w := c.w
	if len(up.Expunged) > 0 {
		if c.qresync {
			// RFC 7162 section 3.2.10: VANISHED replaces EXPUNGE.
			w.Vanished(false, uidSeqSet(up.Vanished))
		} else {
			for _, n := range up.Expunged {
				w.NumberResponse(n, "EXPUNGE")
			}
		}
		if s.saved != nil {
			s.saved = s.known(s.saved)
		}
	}
	if up.Exists >= 0 {
		w.NumberResponse(uint32(up.Exists), "EXISTS")
	}
	for _, ch := range up.Changed {
		if m, ok := s.reported[ch.Info.UID]; ok && ch.Info.ModSeq <= m {
			continue
		}
		// RFC 7162 section 3.2.4: a QRESYNC client gets UIDs in unsolicited FETCH.
		c.writeFlags(ch.Seq, ch.Info, c.qresync, c.condstore)
	}
	// Dropped, not cleared: a cleared map keeps its room, a FETCH 1:* FLAGS of a large
	// mailbox's worth, for as long as the session lasts, parked in IDLE included.
	s.reported = nil
	return w.Err()
}

// report notes that the client has just been sent uid's flags as of modseq.
func (s *selection) report(uid store.UID, modseq store.ModSeq) {
	if s.reported == nil {
		s.reported = map[store.UID]store.ModSeq{}
	}
	s.reported[uid] = modseq
}

// noteKeywords announces keywords among flags the client has not been told of yet:
// FLAGS and PERMANENTFLAGS again, before the FETCH that carries them (RFC 9051
// section 7.3.1: the server sends FLAGS when the set of defined flags changes).
func (c *session) noteKeywords(flags []string) {
	s := c.sel
	kws := addKeywords(s.view.keywords, flags)
	if len(kws) == len(s.view.keywords) {
		return
	}
	s.view.keywords = kws
	c.w.Untagged().Atom("FLAGS ").Flags(append(slices.Clone(systemFlags), kws...)).CRLF()
	if !s.readOnly {
		c.w.StatusResponse("", imapwire.OK, imapwire.CodePermanentFlags(permanentFlags(s.mbox.rights, kws)), "flags that can be changed")
	}
}

// writeFlags writes "* seq FETCH (FLAGS (...) [UID n] [MODSEQ (m)])", after FLAGS
// when they carry a new keyword.
func (c *session) writeFlags(seq uint32, in store.MessageInfo, uid, modseq bool) {
	c.noteKeywords(in.Flags)
	w := c.w
	w.Untagged().Number32(seq).Atom(" FETCH (FLAGS ").Flags(in.Flags)
	if uid {
		w.Atom(" UID ").Number32(uint32(in.UID))
	}
	if modseq {
		w.Atom(" MODSEQ (").Number(uint64(in.ModSeq)).Close()
	}
	w.Close().CRLF()
}

// uidSeqSet writes UIDs as a compact set.
func uidSeqSet(uids []store.UID) imapwire.SeqSet {
	nums := make([]uint32, len(uids))
	for i, u := range uids {
		nums[i] = uint32(u)
	}
	return imapwire.SeqSetOf(nums)
}
