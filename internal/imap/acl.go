package imap

// Access control lists (RFC 4314): SETACL, DELETEACL, GETACL, LISTRIGHTS and MYRIGHTS,
// the rights each mailbox command needs (section 4), and the folders other users
// share with the session's user, which appear in the other-users namespace beside
// the mailboxes held with FullAccess.
//
// Who holds what: the owner of a folder holds every right, and so does a user with
// the directory's FullAccess grant on the owner's mailbox; anyone else holds what the
// folder's access control list gives them (internal/acl). Identifiers are users'
// addresses (or any other login name of theirs); "anyone", groups and negative
// rights are not supported and are refused with NO.

import (
	"context"
	"errors"
	"slices"
	"strings"

	"mailroom/internal/acl"
	"mailroom/internal/directory"
	"mailroom/internal/imap/imapwire"
	"mailroom/internal/store"
)

// ACLStore keeps per-folder access control lists; *acl.Store is one.
type ACLStore interface {
	Rights(ctx context.Context, folder, grantee int64) (acl.Rights, error)
	Set(ctx context.Context, e acl.Entry) error
	Delete(ctx context.Context, folder, grantee int64) error
	DeleteFolder(ctx context.Context, folder int64) error
	Folder(ctx context.Context, folder int64) ([]acl.Entry, error)
	SharedWith(ctx context.Context, grantee int64) ([]acl.Entry, error)
}

// UserFinder finds users by login name or id, for ACL identifiers and the names of
// folders shared with the user; *directory.Directory is one.
type UserFinder interface {
	User(ctx context.Context, key string) (directory.User, error)
	UserByID(ctx context.Context, id int64) (directory.User, error)
}

// aclEnabled says whether the server keeps access control lists.
func (c *session) aclEnabled() bool { return c.srv.cfg.ACL != nil && c.srv.cfg.Users != nil }

// require refuses a command on m unless the user holds every right of want
// (RFC 4314 section 4), with NO [NOPERM] naming what is missing.
func require(m mailbox, want acl.Rights, command string) error {
	if m.rights.Has(want) {
		return nil
	}
	return no(codeNoPerm, "%s on %s needs the right %q, which you do not hold", command, m.name, (want &^ m.rights).Base())
}

// flagRights is what changing flags needs (RFC 4314 section 4, STORE): s for \Seen,
// t for \Deleted, w for any other flag. Replacing the flags may clear any of them, so
// it needs all three.
func flagRights(flags []string, replace bool) acl.Rights {
	if replace {
		return acl.Seen | acl.DeleteMessage | acl.Write
	}
	var r acl.Rights
	for _, f := range flags {
		r |= flagRight(f)
	}
	return r
}

func flagRight(f string) acl.Rights {
	switch {
	case strings.EqualFold(f, store.FlagSeen):
		return acl.Seen
	case strings.EqualFold(f, store.FlagDeleted):
		return acl.DeleteMessage
	}
	return acl.Write
}

// permanentFlags are the flags the user may change in a mailbox with rights r, and
// "\*" when keywords may be created (RFC 9051 section 7.1, RFC 4314 section 4).
func permanentFlags(r acl.Rights, keywords []string) []string {
	out := []string{}
	for _, f := range systemFlags {
		if r.Has(flagRight(f)) {
			out = append(out, f)
		}
	}
	if r.Has(acl.Write) {
		out = append(append(out, keywords...), `\*`)
	}
	return out
}

// aclShares returns the folders other users share with the session's user through
// access control lists, leaving out owners the user holds FullAccess on.
func (c *session) aclShares(ctx context.Context, full []directory.Grant) ([]acl.Entry, error) {
	if !c.aclEnabled() {
		return nil, nil
	}
	es, err := c.srv.cfg.ACL.SharedWith(ctx, c.user.ID)
	if err != nil {
		return nil, noErr(err, codeUnavailable, "cannot read shared folders now, try again later")
	}
	return slices.DeleteFunc(es, func(e acl.Entry) bool {
		return slices.ContainsFunc(full, func(g directory.Grant) bool { return g.Mailbox.ID == e.Owner })
	}), nil
}

// sharedOwner finds the account a name of the other-users namespace leads to:
// "Shared/<address>/...". full says the user holds FullAccess on it; otherwise it is
// an account that shares at least one folder with the user.
func (c *session) sharedOwner(ctx context.Context, address string) (acct store.AccountID, canonical string, full bool, err error) {
	g, gerr := c.grant(ctx, address)
	if gerr == nil {
		return store.AccountID(g.Mailbox.ID), g.Mailbox.Address, true, nil
	}
	var r *reply
	if !c.aclEnabled() || !errors.As(gerr, &r) || r.code != codeNonExistent {
		return 0, "", false, gerr
	}
	owner, err := c.srv.cfg.Users.User(ctx, address)
	if errors.Is(err, directory.ErrNotFound) {
		return 0, "", false, gerr
	}
	if err != nil {
		return 0, "", false, noErr(err, codeUnavailable, "cannot read shared folders now, try again later")
	}
	shares, err := c.aclShares(ctx, nil)
	if err != nil {
		return 0, "", false, err
	}
	if !slices.ContainsFunc(shares, func(e acl.Entry) bool { return e.Owner == owner.ID && e.Rights != 0 }) {
		return 0, "", false, gerr
	}
	return store.AccountID(owner.ID), owner.Address, false, nil
}

// folderRights returns the user's rights on folder f of a mailbox the user neither
// owns nor holds FullAccess on.
func (c *session) folderRights(ctx context.Context, f store.Folder) (acl.Rights, error) {
	if !c.aclEnabled() {
		return 0, nil
	}
	r, err := c.srv.cfg.ACL.Rights(ctx, int64(f.ID), c.user.ID)
	if err != nil {
		return 0, noErr(err, codeUnavailable, "cannot read access rights now, try again later")
	}
	return r, nil
}

// aclEntries adds to a LIST the folders shared with the user through access control
// lists that the user may see (the l right), each owner's as
// "Shared/<address>/<path>", with \Noselect names for levels above them that are not
// shared.
func (c *session) aclEntries(ctx context.Context, full []directory.Grant) ([]listEntry, error) {
	shares, err := c.aclShares(ctx, full)
	if err != nil {
		return nil, err
	}
	st := c.srv.cfg.Store
	byOwner := map[int64][]listEntry{}
	var owners []int64
	for _, e := range shares {
		if !e.Rights.Has(acl.Lookup) {
			continue
		}
		f, err := st.Folder(ctx, store.FolderID(e.Folder))
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted by another protocol; its entries go with the next DELETE
		}
		if err != nil {
			return nil, noErr(err, codeUnavailable, "cannot list shared folders now, try again later")
		}
		if f.Account != store.AccountID(e.Owner) || !visible(f, false) {
			continue
		}
		if _, ok := byOwner[e.Owner]; !ok {
			owners = append(owners, e.Owner)
		}
		byOwner[e.Owner] = append(byOwner[e.Owner], listEntry{mailbox: mailbox{account: f.Account, folder: f, shared: true, rights: e.Rights, viaACL: true},
			specialUse: specialUse[f.Role]})
	}
	var out []listEntry
	for _, id := range owners {
		owner, err := c.srv.cfg.Users.UserByID(ctx, id)
		if errors.Is(err, directory.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, noErr(err, codeUnavailable, "cannot list shared folders now, try again later")
		}
		prefix := sharedPrefix + delimiter + owner.Address
		es := byOwner[id]
		for i := range es {
			es[i].name = prefix + delimiter + strings.Join(es[i].folder.Path, delimiter)
		}
		seen := map[string]bool{prefix: true}
		out = append(out, listEntry{mailbox: mailbox{name: prefix, account: store.AccountID(id), shared: true}, node: true})
		for _, e := range es {
			for i := 1; i < len(e.folder.Path); i++ {
				name := prefix + delimiter + strings.Join(e.folder.Path[:i], delimiter)
				if !seen[name] {
					seen[name] = true
					es = append(es, listEntry{mailbox: mailbox{name: name, account: e.account, shared: true}, node: true})
				}
			}
			seen[e.name] = true
		}
		// A level added as a node and shared itself is listed once, as the folder.
		es = slices.DeleteFunc(es, func(n listEntry) bool {
			return n.node && slices.ContainsFunc(es, func(f listEntry) bool { return !f.node && f.name == n.name })
		})
		slices.SortFunc(es, func(a, b listEntry) int { return strings.Compare(a.name, b.name) })
		out = append(out, es...)
	}
	return out, nil
}

// principal finds the user an ACL identifier names (RFC 4314 section 2). Only users'
// login names are identifiers here.
func (c *session) principal(ctx context.Context, id string) (directory.User, error) {
	switch {
	case strings.HasPrefix(id, "-"):
		return directory.User{}, no(codeCannot, "negative rights are not supported")
	case strings.EqualFold(id, "anyone") || strings.EqualFold(id, "authuser"):
		return directory.User{}, no(codeCannot, "identifier %q is not supported: name a user by address", id)
	}
	u, err := c.srv.cfg.Users.User(ctx, id)
	if errors.Is(err, directory.ErrNotFound) || errors.Is(err, directory.ErrInvalid) {
		return directory.User{}, no(codeNonExistent, "no user %q", id)
	}
	if err != nil {
		return directory.User{}, noErr(err, codeUnavailable, "cannot look up %q now, try again later", id)
	}
	if u.Kind != directory.KindUser {
		return directory.User{}, no(codeCannot, "%s is a shared mailbox, which never logs in; name a user", u.Address)
	}
	return u, nil
}

// aclMailbox resolves the mailbox of an ACL command, which needs the a right
// (RFC 4314 section 4) unless admin is false (MYRIGHTS).
func (c *session) aclMailbox(ctx context.Context, name, command string, admin bool) (mailbox, error) {
	if !c.aclEnabled() {
		return mailbox{}, bad("%s is not supported", command)
	}
	m, err := c.resolve(ctx, name)
	if err != nil {
		return mailbox{}, err
	}
	if admin {
		return m, require(m, acl.Administer, command)
	}
	return m, nil
}

// cmdSetACL changes one user's rights on a mailbox: replaces them, or with a leading
// "+" or "-" adds or removes some (RFC 4314 section 3.1). Unknown rights letters are
// a BAD; an identifier that names no user is a NO.
func (c *session) cmdSetACL(ctx context.Context, a *imapwire.SetACL) error {
	m, err := c.aclMailbox(ctx, a.Mailbox, "SETACL", true)
	if err != nil {
		return err
	}
	mod := a.Rights
	op := byte(0)
	if mod != "" && (mod[0] == '+' || mod[0] == '-') {
		op, mod = mod[0], mod[1:]
	}
	rights, err := acl.Parse(mod)
	if err != nil {
		return bad("%v", err)
	}
	u, err := c.principal(ctx, a.Identifier)
	if err != nil {
		return err
	}
	if store.AccountID(u.ID) == m.account {
		return no(codeCannot, "%s owns %s and always holds every right", u.Address, m.name)
	}
	acls := c.srv.cfg.ACL
	if op != 0 {
		cur, err := acls.Rights(ctx, int64(m.folder.ID), u.ID)
		if err != nil {
			return noErr(err, codeUnavailable, "cannot read access rights now, try again later")
		}
		if op == '+' {
			rights = cur | rights
		} else {
			rights = cur &^ rights
		}
	}
	if err := acls.Set(ctx, acl.Entry{Folder: int64(m.folder.ID), Owner: int64(m.account), Grantee: u.ID, Rights: rights}); err != nil {
		return noErr(err, codeUnavailable, "SETACL failed, try again later")
	}
	c.log.Info("access rights changed", "mailbox", m.name, "grantee", u.Address, "rights", rights.String())
	return nil
}

// cmdDeleteACL removes one user's entry from a mailbox's list (RFC 4314 section 3.2);
// removing an entry that is not there succeeds.
func (c *session) cmdDeleteACL(ctx context.Context, a *imapwire.DeleteACL) error {
	m, err := c.aclMailbox(ctx, a.Mailbox, "DELETEACL", true)
	if err != nil {
		return err
	}
	u, err := c.principal(ctx, a.Identifier)
	if err != nil {
		return err
	}
	if store.AccountID(u.ID) == m.account {
		return no(codeCannot, "%s owns %s and always holds every right", u.Address, m.name)
	}
	if err := c.srv.cfg.ACL.Delete(ctx, int64(m.folder.ID), u.ID); err != nil && !errors.Is(err, acl.ErrNotFound) {
		return noErr(err, codeUnavailable, "DELETEACL failed, try again later")
	}
	c.log.Info("access rights removed", "mailbox", m.name, "grantee", u.Address)
	return nil
}

// cmdGetACL answers "* ACL mailbox identifier rights ..." (RFC 4314 section 3.6): the
// owner with every right, then each user the list names.
func (c *session) cmdGetACL(ctx context.Context, a *imapwire.GetACL) error {
	m, err := c.aclMailbox(ctx, a.Mailbox, "GETACL", true)
	if err != nil {
		return err
	}
	owner, err := c.srv.cfg.Users.UserByID(ctx, int64(m.account))
	if err != nil {
		return noErr(err, codeUnavailable, "cannot read the access list now, try again later")
	}
	es, err := c.srv.cfg.ACL.Folder(ctx, int64(m.folder.ID))
	if err != nil {
		return noErr(err, codeUnavailable, "cannot read the access list now, try again later")
	}
	w := c.w
	w.Untagged().Atom("ACL ").Mailbox(m.name).SP().String(owner.Address).SP().String(acl.All.String())
	for _, e := range es {
		u, err := c.srv.cfg.Users.UserByID(ctx, e.Grantee)
		if errors.Is(err, directory.ErrNotFound) {
			continue // the user was removed
		}
		if err != nil {
			return noErr(err, codeUnavailable, "cannot read the access list now, try again later")
		}
		w.SP().String(u.Address).SP().String(e.Rights.String())
	}
	w.CRLF()
	return nil
}

// cmdListRights answers "* LISTRIGHTS mailbox identifier required optional..."
// (RFC 4314 section 3.7): the owner holds every right and can lose none; anyone else
// may be given each right on its own, "c" and "d" standing for the pairs they replace.
func (c *session) cmdListRights(ctx context.Context, a *imapwire.ListRights) error {
	m, err := c.aclMailbox(ctx, a.Mailbox, "LISTRIGHTS", true)
	if err != nil {
		return err
	}
	u, err := c.principal(ctx, a.Identifier)
	if err != nil {
		return err
	}
	w := c.w
	w.Untagged().Atom("LISTRIGHTS ").Mailbox(m.name).SP().String(a.Identifier).SP()
	if store.AccountID(u.ID) == m.account {
		w.String(acl.All.String()).CRLF()
		return nil
	}
	w.String("")
	for _, l := range acl.Letters {
		w.SP().Atom(string(l))
	}
	w.CRLF()
	return nil
}

// cmdMyRights answers "* MYRIGHTS mailbox rights" (RFC 4314 section 3.8); any right
// on the mailbox allows asking.
func (c *session) cmdMyRights(ctx context.Context, a *imapwire.MyRights) error {
	m, err := c.aclMailbox(ctx, a.Mailbox, "MYRIGHTS", false)
	if err != nil {
		return err
	}
	c.w.Untagged().Atom("MYRIGHTS ").Mailbox(m.name).SP().String(m.rights.String()).CRLF()
	return nil
}
