package imap

// GETQUOTA and GETQUOTAROOT (RFC 9208 sections 4.2 and 4.3) with the STORAGE resource
// (RFC 9208 section 5.1). SETQUOTA is refused: administrators set quotas.
//
// Each account has one quota root: "" for the user's own mailbox, and for a shared
// mailbox the name of its node, "Shared/<address>". A root exists only when its
// account has a quota.

import (
	"context"
	"strings"

	"mailroom/internal/imap/imapwire"
	"mailroom/internal/store"
)

// quotaOf returns an account's quota and use, and whether it has a quota at all.
func (c *session) quotaOf(ctx context.Context, acct store.AccountID) (store.Account, bool, error) {
	a, err := c.srv.cfg.Store.Account(ctx, acct)
	if err != nil {
		return a, false, noErr(err, codeUnavailable, "cannot read the quota now, try again later")
	}
	return a, a.QuotaBytes > 0, nil
}

// writeQuota writes "* QUOTA root (STORAGE used limit)", in units of 1024 octets.
func (c *session) writeQuota(root string, a store.Account) {
	used := (a.UsedBytes + 1023) / 1024
	c.w.Untagged().Atom("QUOTA ").AString(root).Atom(" (STORAGE ").Number(uint64(used)).SP().
		Number(uint64(a.QuotaBytes / 1024)).Close().CRLF()
}

// rootOf returns the account and quota root name of a root as the client names it.
func (c *session) rootOf(ctx context.Context, root string) (store.AccountID, string, error) {
	if root == "" {
		return c.account, "", nil
	}
	if addr, ok := strings.CutPrefix(root, sharedPrefix+delimiter); ok && !strings.Contains(addr, delimiter) {
		g, err := c.grant(ctx, addr)
		if err != nil {
			return 0, "", err
		}
		return store.AccountID(g.Mailbox.ID), sharedPrefix + delimiter + g.Mailbox.Address, nil
	}
	return 0, "", no(codeNonExistent, "no quota root %s", root)
}

// cmdGetQuota answers GETQUOTA root.
func (c *session) cmdGetQuota(ctx context.Context, a *imapwire.GetQuota) error {
	acct, name, err := c.rootOf(ctx, a.Root)
	if err != nil {
		return err
	}
	info, ok, err := c.quotaOf(ctx, acct)
	if err != nil {
		return err
	}
	if !ok {
		return no(codeNonExistent, "no quota is set on this mailbox")
	}
	c.writeQuota(name, info)
	return nil
}

// cmdGetQuotaRoot names the quota root of a mailbox and its use; a mailbox without
// a quota has no root: "* QUOTAROOT INBOX" alone (RFC 9208 section 4.3).
func (c *session) cmdGetQuotaRoot(ctx context.Context, a *imapwire.GetQuotaRoot) error {
	m, err := c.resolve(ctx, a.Mailbox)
	if err != nil {
		return err
	}
	name := ""
	if m.shared {
		name = m.name[:strings.Index(m.name[len(sharedPrefix)+1:], delimiter)+len(sharedPrefix)+1]
	}
	info, ok, err := c.quotaOf(ctx, m.account)
	if err != nil {
		return err
	}
	c.w.Untagged().Atom("QUOTAROOT ").Mailbox(a.Mailbox)
	if ok {
		c.w.SP().AString(name)
	}
	c.w.CRLF()
	if ok {
		c.writeQuota(name, info)
	}
	return nil
}
