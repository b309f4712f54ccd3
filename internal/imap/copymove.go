package imap

// COPY (RFC 9051 section 6.4.7) and MOVE (RFC 6851) with COPYUID (RFC 4315 section 3).

import (
	"context"
	"errors"

	"mailroom/internal/acl"
	"mailroom/internal/imap/imapwire"
	"mailroom/internal/store"
)

// cmdCopy copies or moves messages of the selected mailbox to another, which may be
// in another account the user has access to. COPY answers [COPYUID ...] in its tagged
// OK; MOVE sends it in an untagged OK before the EXPUNGE (or VANISHED) responses for
// the source, which the update after the command writes (RFC 6851 section 4.3).
func (c *session) cmdCopy(ctx context.Context, uidCmd bool, set imapwire.SeqSet, dest string, move bool) error {
	s := c.sel
	name := "COPY"
	if move {
		name = "MOVE"
		if s.readOnly {
			return no(codeReadOnly, "the mailbox is read-only")
		}
	}
	uids, err := s.resolve(set, uidCmd)
	if err != nil {
		return err
	}
	dst, err := c.resolve(ctx, dest)
	if err != nil {
		if r := (*reply)(nil); errors.As(err, &r) && r.code == codeNonExistent {
			return no(codeTryCreate, "no mailbox %s", dest)
		}
		return err
	}
	// RFC 4314 section 4: COPY needs i on the target; MOVE is COPY, STORE \Deleted and
	// EXPUNGE (RFC 6851 section 3.3), so it needs t and e on the source too.
	if err := require(dst, acl.Insert, name); err != nil {
		return err
	}
	if move {
		if err := require(s.mbox, acl.DeleteMessage|acl.Expunge, name); err != nil {
			return err
		}
	}
	if len(uids) == 0 {
		return nil
	}
	st := c.srv.cfg.Store
	var res store.CopyResult
	if move {
		res, err = st.Move(ctx, s.mbox.folder.ID, uids, dst.folder.ID)
	} else {
		res, err = st.Copy(ctx, s.mbox.folder.ID, uids, dst.folder.ID)
	}
	if err != nil {
		return storeErr(err, name)
	}
	if len(res.Source) == 0 {
		// Every message was expunged meanwhile (RFC 9051 section 6.4.7 allows NO).
		return no(codeExpungeIssued, "the messages no longer exist")
	}
	code := imapwire.CodeCopyUID(res.UIDValidity, orderedSet(res.Source), orderedSet(res.Dest))
	if move {
		c.w.StatusResponse("", imapwire.OK, code, "moved")
		return nil
	}
	return okReply(code, "COPY completed")
}

// orderedSet writes UIDs as a set in the order given, joining runs of consecutive
// numbers: the source and destination sets of COPYUID correspond by position
// (RFC 4315 section 3), so neither may be reordered.
func orderedSet(uids []store.UID) imapwire.SeqSet {
	var s imapwire.SeqSet
	for _, u := range uids {
		n := uint32(u)
		if k := len(s.Ranges); k > 0 && s.Ranges[k-1].Stop+1 == n {
			s.Ranges[k-1].Stop = n
			continue
		}
		s.Ranges = append(s.Ranges, imapwire.SeqRange{Start: n, Stop: n})
	}
	return s
}
