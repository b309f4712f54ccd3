package imap

// APPEND (RFC 9051 section 6.3.12) with UIDPLUS (RFC 4315 section 3), APPENDLIMIT
// (RFC 7889) and BINARY (RFC 3516 section 4.4).

import (
	"context"
	"errors"
	"slices"
	"strings"

	"mailroom/internal/acl"
	"mailroom/internal/imap/imapwire"
	"mailroom/internal/store"
)

// cmdAppend adds a message to a mailbox and answers with [APPENDUID uidvalidity uid].
// A mailbox that does not exist gets [TRYCREATE], so the client can CREATE it and try
// again; a full mailbox gets [OVERQUOTA] (RFC 9208 section 5.3).
func (c *session) cmdAppend(ctx context.Context, a *imapwire.Append) error {
	m, err := c.resolve(ctx, a.Mailbox)
	if err != nil {
		if r := (*reply)(nil); errors.As(err, &r) && r.code == codeNonExistent {
			return no(codeTryCreate, "no mailbox %s", a.Mailbox)
		}
		return err
	}
	if int64(len(a.Message)) > c.srv.cfg.AppendLimit {
		return no(codeTooBig, "message too large: the limit is %d octets", c.srv.cfg.AppendLimit)
	}
	if len(a.Message) == 0 {
		return no(codeCannot, "the message is empty")
	}
	if err := require(m, acl.Insert, "APPEND"); err != nil {
		return err
	}
	// \Recent cannot be set by a client (RFC 3501 section 2.3.2); flags the user may
	// not set are dropped (RFC 4314 section 4, APPEND).
	flags := slices.DeleteFunc(slices.Clone(a.Flags), func(f string) bool {
		return strings.EqualFold(f, `\Recent`) || !m.rights.Has(flagRight(f))
	})
	ds, err := c.srv.cfg.Store.Deliver(ctx, store.NewMessage{Raw: a.Message, Flags: flags, InternalDate: a.Date},
		[]store.Placement{{Account: m.account, Folder: m.folder.ID}})
	if err != nil {
		return storeErr(err, "APPEND")
	}
	uid := imapwire.SeqSetOf([]uint32{uint32(ds[0].UID)})
	return okReply(imapwire.CodeAppendUID(m.folder.UIDValidity, uid), "APPEND completed")
}
