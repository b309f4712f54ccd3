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
	crit := &store.Criteria{Flags: []string{store.FlagDeleted}}
	var in []store.UID
	if set != nil {
		var err error
		if in, err = s.resolve(*set, true); err != nil {
			return err
		}
		if len(in) == 0 {
			return nil
		}
		if !set.Saved {
			// The store looks at the named UIDs only, not the whole folder.
			crit.UIDs = s.uidRanges(*set, true)
		}
	}
	uids, err := st.Search(ctx, s.mbox.folder.ID, crit)
	if err != nil {
		return storeErr(err, "EXPUNGE")
	}
	if set != nil {
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
