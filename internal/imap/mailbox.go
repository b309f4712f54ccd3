package imap

// Mailbox names and namespaces (RFC 9051 sections 5.1 and 6.3.10, RFC 2342), and
// CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE and STATUS (RFC 9051 sections 6.3.4
// to 6.3.8 and 6.3.11, RFC 6154 section 3, RFC 8438, RFC 7162 section 3.1.2.2).
//
// Naming: the user's own folders form the personal namespace, with prefix "" and the
// hierarchy delimiter "/": "INBOX", "Sent", "Projects/2026". Mailboxes the user holds
// FullAccess on (shared mailboxes, or another user's mailbox) form the other-users
// namespace "Shared/": each appears as "Shared/<address>", a name that cannot be
// selected, with that mailbox's folders below it: "Shared/sales@example.com/INBOX",
// "Shared/sales@example.com/Sent". A personal top-level folder named "Shared" would
// collide with the namespace, so the IMAP server neither creates nor shows one.

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

// delimiter is the hierarchy delimiter of every namespace.
const delimiter = "/"

// sharedPrefix is the first level of the other-users namespace.
const sharedPrefix = "Shared"

// mailbox is a mailbox name resolved to a folder.
type mailbox struct {
	name    string // as the client names it, decoded
	account store.AccountID
	folder  store.Folder
	shared  bool       // in the other-users namespace
	rights  acl.Rights // the user's rights on it (RFC 4314), acl.All unless viaACL
	viaACL  bool       // a folder of another account shared with the user by its access list
}

// hiddenRoles are folders that hold no mail (ActiveSync's calendars, contacts, tasks
// and notes live in the same store), which IMAP does not show.
var hiddenRoles = []store.Role{store.RoleCalendar, store.RoleContacts, store.RoleTasks, store.RoleNotes}

// visible reports whether IMAP shows folder f of the user's own mailbox (own) or of
// a shared one.
func visible(f store.Folder, own bool) bool {
	if slices.Contains(hiddenRoles, f.Role) {
		return false
	}
	return !own || f.Path[0] != sharedPrefix
}

// belowHidden reports whether f lies below a folder IMAP does not show: further
// calendars and address books are folders below the Calendar and Contacts folders.
func (c *session) belowHidden(ctx context.Context, account store.AccountID, f store.Folder) bool {
	for i := 1; i < len(f.Path); i++ {
		a, err := c.srv.cfg.Store.FolderByPath(ctx, account, f.Path[:i])
		if err == nil && slices.Contains(hiddenRoles, a.Role) {
			return true
		}
	}
	return false
}

// root is where a mailbox name leads: an account and the path of folder names in it.
type root struct {
	account store.AccountID
	prefix  string // "" for the user's own mailbox, "Shared/<address>/" for a shared one
	path    []string
	full    bool // the user owns the account or holds FullAccess on it: every right
}

// locate splits a mailbox name into its account and folder path. A name in the
// other-users namespace needs a FullAccess grant or a folder of that account shared
// with the user (acl.go); one naming only the namespace or a shared mailbox's node
// has an empty path.
func (c *session) locate(ctx context.Context, name string) (root, error) {
	name = strings.TrimSuffix(name, delimiter)
	parts := strings.Split(name, delimiter)
	if parts[0] != sharedPrefix {
		if slices.Contains(parts, "") {
			return root{}, no(codeCannot, "mailbox names have no empty levels")
		}
		return root{account: c.account, path: parts, full: true}, nil
	}
	if len(parts) < 2 {
		return root{account: -1}, nil
	}
	acct, address, full, err := c.sharedOwner(ctx, parts[1])
	if err != nil {
		return root{}, err
	}
	if _, err := c.srv.cfg.Store.EnsureAccount(ctx, acct); err != nil {
		return root{}, noErr(err, codeUnavailable, "cannot open the shared mailbox now, try again later")
	}
	r := root{account: acct, prefix: sharedPrefix + delimiter + address + delimiter, path: parts[2:], full: full}
	if slices.Contains(r.path, "") {
		return root{}, no(codeCannot, "mailbox names have no empty levels")
	}
	return r, nil
}

// grants returns the mailboxes the user holds FullAccess on.
func (c *session) grants(ctx context.Context) ([]directory.Grant, error) {
	if c.srv.cfg.Grants == nil {
		return nil, nil
	}
	all, err := c.srv.cfg.Grants.GrantsTo(ctx, c.user.ID)
	if err != nil {
		return nil, noErr(err, codeUnavailable, "cannot read shared mailboxes now, try again later")
	}
	var out []directory.Grant
	for _, g := range all {
		if slices.Contains(g.Rights, directory.FullAccess) {
			out = append(out, g)
		}
	}
	return out, nil
}

// grant finds the FullAccess grant on the mailbox with this address.
func (c *session) grant(ctx context.Context, address string) (directory.Grant, error) {
	gs, err := c.grants(ctx)
	if err != nil {
		return directory.Grant{}, err
	}
	for _, g := range gs {
		if strings.EqualFold(g.Mailbox.Address, address) {
			return g, nil
		}
	}
	return directory.Grant{}, no(codeNonExistent, "no shared mailbox %s", address)
}

// resolve finds the folder a mailbox name names, with the user's rights on it. A
// folder of another account on which the user holds no right does not exist for the
// user (RFC 4314 section 4 forbids revealing it).
func (c *session) resolve(ctx context.Context, name string) (mailbox, error) {
	r, err := c.locate(ctx, name)
	if err != nil {
		return mailbox{}, err
	}
	if len(r.path) == 0 {
		return mailbox{}, no(codeNonExistent, "%s holds mailboxes but is not one", name)
	}
	f, err := c.srv.cfg.Store.FolderByPath(ctx, r.account, r.path)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return mailbox{}, no(codeNonExistent, "no mailbox %s", name)
	case err != nil:
		return mailbox{}, noErr(err, codeUnavailable, "cannot open %s now, try again later", name)
	case !visible(f, r.prefix == "") || c.belowHidden(ctx, r.account, f):
		return mailbox{}, no(codeNonExistent, "no mailbox %s", name)
	}
	rights := acl.All
	if !r.full {
		if rights, err = c.folderRights(ctx, f); err != nil {
			return mailbox{}, err
		}
		if rights == 0 {
			return mailbox{}, no(codeNonExistent, "no mailbox %s", name)
		}
	}
	return mailbox{name: r.prefix + strings.Join(f.Path, delimiter), account: r.account, folder: f, shared: r.prefix != "", rights: rights, viaACL: !r.full}, nil
}

// storeErr turns a store error into a NO with the matching response code.
func storeErr(err error, what string) *reply {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return noErr(err, codeNonExistent, "%s: no such mailbox or message", what)
	case errors.Is(err, store.ErrExists):
		return noErr(err, codeAlreadyExists, "%s: already exists", what)
	case errors.Is(err, store.ErrHasChildren):
		return noErr(err, codeHasChildren, "%s: the mailbox has mailboxes below it; delete or move those first", what)
	case errors.Is(err, store.ErrRoleFolder):
		return noErr(err, codeCannot, "%s: not possible for this mailbox", what)
	case errors.Is(err, store.ErrOverQuota):
		return noErr(err, codeOverQuota, "%s: the mailbox is over its quota", what)
	case errors.Is(err, store.ErrTooLarge):
		return noErr(err, codeTooBig, "%s: the message is too large", what)
	case errors.Is(err, store.ErrCrossAccount):
		return noErr(err, codeCannot, "%s: the mailboxes belong to different accounts", what)
	case errors.Is(err, store.ErrInvalid):
		return noErr(err, codeCannot, "%s: %v", what, invalidText(err))
	}
	return noErr(err, codeUnavailable, "%s failed, try again later", what)
}

// invalidText is the store's explanation of an invalid request, which names the
// problem (an empty name, a control character) without internal detail.
func invalidText(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, store.ErrInvalid.Error()+": "); i >= 0 {
		return s[i+len(store.ErrInvalid.Error())+2:]
	}
	return "invalid request"
}

// specialUse maps folder roles to special-use attributes (RFC 6154 section 2).
var specialUse = map[store.Role]string{
	store.RoleDrafts:  `\Drafts`,
	store.RoleSent:    `\Sent`,
	store.RoleTrash:   `\Trash`,
	store.RoleJunk:    `\Junk`,
	store.RoleArchive: `\Archive`,
}

// roleOf returns the role a special-use attribute names.
func roleOf(attr string) (store.Role, bool) {
	for r, a := range specialUse {
		if strings.EqualFold(a, attr) {
			return r, true
		}
	}
	return store.RoleNone, false
}

// cmdNamespace lists the namespaces (RFC 2342 section 5, RFC 9051 section 6.3.10):
// personal "" and, when anything is shared with the user, other users "Shared/", both
// with "/"; no shared namespace.
func (c *session) cmdNamespace(ctx context.Context) error {
	gs, err := c.grants(ctx)
	if err != nil {
		return err
	}
	if len(gs) == 0 {
		shares, err := c.aclShares(ctx, nil)
		if err != nil {
			return err
		}
		if slices.ContainsFunc(shares, func(e acl.Entry) bool { return e.Rights.Has(acl.Lookup) }) {
			gs = append(gs, directory.Grant{})
		}
	}
	c.w.Untagged().Atom("NAMESPACE ((").String("").SP().String(delimiter).Atom(")) ")
	if len(gs) > 0 {
		c.w.Atom("((").Mailbox(sharedPrefix + delimiter).SP().String(delimiter).Atom("))")
	} else {
		c.w.Nil()
	}
	c.w.SP().Nil().CRLF()
	return nil
}

// cmdCreate creates a mailbox and any missing levels above it (RFC 9051 section
// 6.3.4), with a special use when asked (RFC 6154 section 3).
func (c *session) cmdCreate(ctx context.Context, a *imapwire.Create) error {
	st := c.srv.cfg.Store
	r, err := c.locate(ctx, a.Mailbox)
	if err != nil {
		return err
	}
	switch {
	case len(r.path) == 0:
		return no(codeCannot, "%s is a namespace, not a mailbox name", a.Mailbox)
	case r.prefix == "" && r.path[0] == sharedPrefix:
		return no(codeCannot, "%s is reserved for shared mailboxes", sharedPrefix)
	}
	role := store.RoleNone
	if len(a.SpecialUse) > 1 {
		return no(codeUseAttr, "a mailbox has at most one special use here")
	}
	if len(a.SpecialUse) == 1 {
		var ok bool
		if role, ok = roleOf(a.SpecialUse[0]); !ok {
			return no(codeUseAttr, "special use %s is not supported", a.SpecialUse[0])
		}
		if _, err := st.FolderByRole(ctx, r.account, role); err == nil {
			return no(codeUseAttr, "another mailbox already has the special use %s", a.SpecialUse[0])
		}
	}
	if _, err := st.FolderByPath(ctx, r.account, r.path); err == nil {
		return no(codeAlreadyExists, "%s already exists", a.Mailbox)
	}
	if err := c.requireCreate(ctx, r, a.Mailbox); err != nil {
		return err
	}
	parent, err := c.ensureParents(ctx, r.account, r.path)
	if err != nil {
		return err
	}
	if _, err := st.CreateFolder(ctx, r.account, parent, r.path[len(r.path)-1], role); err != nil {
		return storeErr(err, "CREATE "+a.Mailbox)
	}
	return nil
}

// requireCreate checks that the user may create the folder r names: in an account the
// user neither owns nor holds FullAccess on, that needs the k right on an existing
// parent (RFC 4314 section 4, CREATE).
func (c *session) requireCreate(ctx context.Context, r root, name string) error {
	if r.full {
		return nil
	}
	parentName := r.prefix + strings.Join(r.path[:len(r.path)-1], delimiter)
	if len(r.path) == 1 {
		return no(codeNoPerm, "new top-level mailboxes of %s can only be created by its owner", strings.TrimSuffix(r.prefix, delimiter))
	}
	parent, err := c.resolve(ctx, parentName)
	if err != nil {
		return err
	}
	return require(parent, acl.CreateMailbox, "CREATE")
}

// ensureParents returns the folder that is to hold the last level of path, creating
// the levels above it that do not exist yet (RFC 9051 section 6.3.4).
func (c *session) ensureParents(ctx context.Context, account store.AccountID, path []string) (store.FolderID, error) {
	st := c.srv.cfg.Store
	var parent store.FolderID
	for i := 1; i < len(path); i++ {
		f, err := st.FolderByPath(ctx, account, path[:i])
		if errors.Is(err, store.ErrNotFound) {
			f, err = st.CreateFolder(ctx, account, parent, path[i-1], store.RoleNone)
		}
		if err != nil {
			return 0, storeErr(err, "create "+strings.Join(path[:i], delimiter))
		}
		parent = f.ID
	}
	return parent, nil
}

// cmdDelete deletes a mailbox and its messages (RFC 9051 section 6.3.5). The store
// keeps a folder with subfolders, which RFC 9051 would turn into a \Noselect name:
// the client is told to delete the subfolders first.
func (c *session) cmdDelete(ctx context.Context, a *imapwire.Delete) error {
	if a.Mailbox == "INBOX" {
		return no(codeCannot, "INBOX cannot be deleted")
	}
	m, err := c.resolve(ctx, a.Mailbox)
	if err != nil {
		return err
	}
	if m.folder.Role == store.RoleInbox {
		return no(codeCannot, "a mailbox's INBOX cannot be deleted")
	}
	if err := require(m, acl.DeleteMailbox, "DELETE"); err != nil {
		return err
	}
	if err := c.srv.cfg.Store.DeleteFolder(ctx, m.folder.ID); err != nil {
		return storeErr(err, "DELETE "+a.Mailbox)
	}
	if c.aclEnabled() {
		// RFC 4314 section 3: the list goes with the mailbox, so that a new one of the
		// same name does not inherit it.
		if err := c.srv.cfg.ACL.DeleteFolder(ctx, int64(m.folder.ID)); err != nil {
			c.log.Warn("cannot delete the access list of a deleted mailbox", "mailbox", a.Mailbox, "err", err)
		}
	}
	if c.sel != nil && c.sel.mbox.folder.ID == m.folder.ID {
		// The selected mailbox is gone: close it, as RFC 7162 section 3.2.11 says.
		c.deselect()
		c.w.StatusResponse("", imapwire.OK, codeClosed, "the selected mailbox was deleted")
	}
	return nil
}

// cmdRename renames a mailbox, possibly to another level of the same account
// (RFC 9051 section 6.3.6). Renaming INBOX, which RFC 9051 makes a move of its
// messages, is refused: the store keeps the Inbox in place.
func (c *session) cmdRename(ctx context.Context, a *imapwire.Rename) error {
	if a.From == "INBOX" {
		return no(codeCannot, "INBOX cannot be renamed; move its messages instead")
	}
	m, err := c.resolve(ctx, a.From)
	if err != nil {
		return err
	}
	if err := require(m, acl.DeleteMailbox, "RENAME"); err != nil {
		return err
	}
	to, err := c.locate(ctx, a.To)
	if err != nil {
		return err
	}
	switch {
	case len(to.path) == 0:
		return no(codeCannot, "%s is a namespace, not a mailbox name", a.To)
	case to.prefix == "" && to.path[0] == sharedPrefix:
		return no(codeCannot, "%s is reserved for shared mailboxes", sharedPrefix)
	case to.account != m.account:
		return no(codeCannot, "a mailbox cannot move to another account")
	}
	st := c.srv.cfg.Store
	if _, err := st.FolderByPath(ctx, to.account, to.path); err == nil {
		return no(codeAlreadyExists, "%s already exists", a.To)
	}
	if err := c.requireCreate(ctx, to, a.To); err != nil {
		return err
	}
	parent, err := c.ensureParents(ctx, to.account, to.path)
	if err != nil {
		return err
	}
	if _, err := st.RenameFolder(ctx, m.folder.ID, parent, to.path[len(to.path)-1]); err != nil {
		return storeErr(err, "RENAME "+a.From)
	}
	return nil
}

// cmdSubscribe adds a mailbox to the subscriptions, or removes it (RFC 9051 sections
// 6.3.7 and 6.3.8). Subscriptions are kept on the folder, so only existing mailboxes
// can be subscribed.
func (c *session) cmdSubscribe(ctx context.Context, name string, on bool) error {
	m, err := c.resolve(ctx, name)
	if err != nil {
		return err
	}
	if m.viaACL {
		// The subscription is kept on the folder, which is its owner's.
		return no(codeCannot, "subscriptions to folders shared by access list are not kept; %s is listed without one", name)
	}
	if err := c.srv.cfg.Store.SetSubscribed(ctx, m.folder.ID, on); err != nil {
		return storeErr(err, "SUBSCRIBE "+name)
	}
	return nil
}

// cmdStatus answers STATUS (RFC 9051 section 6.3.11).
func (c *session) cmdStatus(ctx context.Context, a *imapwire.Status) error {
	m, err := c.resolve(ctx, a.Mailbox)
	if err != nil {
		return err
	}
	if err := require(m, acl.Read, "STATUS"); err != nil {
		return err
	}
	return c.writeStatus(ctx, m, a.Items)
}

// writeStatus writes "* STATUS name (item value ...)" for m, the answer to STATUS
// and to LIST's RETURN (STATUS ...) (RFC 5819). RECENT is always 0: Mailroom keeps
// no \Recent flag, which IMAP4rev2 dropped.
func (c *session) writeStatus(ctx context.Context, m mailbox, items []string) error {
	f := m.folder
	var deleted int
	if slices.Contains(items, "DELETED") {
		uids, err := c.srv.cfg.Store.Search(ctx, f.ID, &store.Criteria{Flags: []string{store.FlagDeleted}})
		if err != nil {
			return noErr(err, codeUnavailable, "cannot count deleted messages now, try again later")
		}
		deleted = len(uids)
	}
	w := c.w
	w.Untagged().Atom("STATUS ").Mailbox(m.name).Atom(" (")
	for i, it := range items {
		if i > 0 {
			w.SP()
		}
		w.Atom(it).SP()
		switch it {
		case "MESSAGES":
			w.Number(uint64(f.Messages))
		case "UIDNEXT":
			w.Number32(uint32(f.UIDNext))
		case "UIDVALIDITY":
			w.Number32(f.UIDValidity)
		case "UNSEEN":
			w.Number(uint64(f.Unseen))
		case "DELETED":
			w.Number(uint64(deleted))
		case "SIZE":
			w.Number(uint64(f.Size))
		case "RECENT":
			w.Number(0)
		case "HIGHESTMODSEQ":
			w.Number(uint64(f.HighestModSeq))
		case "APPENDLIMIT":
			w.Number(uint64(c.srv.cfg.AppendLimit))
		}
	}
	w.Close().CRLF()
	if slices.Contains(items, "HIGHESTMODSEQ") {
		// RFC 7162 section 3.1.2.2 / 3.1: asking for HIGHESTMODSEQ turns CONDSTORE on.
		c.condstore = true
	}
	return nil
}
