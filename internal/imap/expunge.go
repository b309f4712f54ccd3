package imap

// EXPUNGE (RFC 9051 section 6.4.3) and UID EXPUNGE (RFC 4315 section 2.1).

import (
	"context"
	"slices"

	"mailroom/internal/acl"
	"mailroom/internal/imap/imapwire"
	"mailroom/internal/store"
)

// cmdExpunge removes the messages marked \Deleted, all of them or, for UID EXPUNGE,
// those in set. The EXPUNGE (or, for QRESYNC clients, VANISHED) responses come from
// the update that follows every command, like those of any other session's expunge.
func (c *session) cmdExpunge(ctx context.Context, set *imapwire.SeqSet) error {
	s := c.sel
	if err := require(s.mbox, acl.Expunge, "EXPUNGE"); err != nil {
		return err
	}
	if s.readOnly {
		return no(codeReadOnly, "the mailbox is read-only")
	}
	st := c.srv.cfg.Store
	uids, err := st.Search(ctx, s.mbox.folder.ID, &store.Criteria{Flags: []string{store.FlagDeleted}})
	if err != nil {
		return storeErr(err, "EXPUNGE")
	}
	if set != nil {
		in, err := s.resolve(*set, true)
		if err != nil {
			return err
		}
		uids = slices.DeleteFunc(uids, func(u store.UID) bool {
			_, found := slices.BinarySearch(in, u)
			return !found
		})
	}
	if len(uids) == 0 {
		return nil
	}
	if _, err := st.Expunge(ctx, s.mbox.folder.ID, uids); err != nil {
		return storeErr(err, "EXPUNGE")
	}
	return nil
}
