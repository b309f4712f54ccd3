package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"mailroom/internal/directory"
	"mailroom/internal/store"
)

// loader gathers a page's data; pages with a form reload it to show the form again
// with its errors.
type loader func(ctx context.Context) (any, error)

// show renders a page from its loader: with status 200 and no errors for a GET, or
// with the refused form, its errors next to the fields and status 422.
func (h *Handler) show(w http.ResponseWriter, r *http.Request, s *session, page, title, section string, load loader, form url.Values, errs map[string]string) {
	data, err := load(r.Context())
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	code := http.StatusOK
	if len(errs) > 0 {
		code = http.StatusUnprocessableEntity
	}
	h.render(w, code, page, view{Title: title, Section: section, User: s.user, CSRF: s.csrf, Data: data, Form: form, Errors: errs})
}

// refused shows a form again when err is a mistake the user can correct, naming field
// as the culprit, and returns true; other errors are left to the caller.
func (h *Handler) refused(w http.ResponseWriter, r *http.Request, s *session, err error, field, page, title, section string, load loader) bool {
	if !isUserMistake(err) && !isNotFound(err) {
		return false
	}
	h.show(w, r, s, page, title, section, load, r.PostForm, map[string]string{field: err.Error()})
	return true
}

// act runs a POST action and redirects to back when it worked; a correctable mistake
// re-renders the page with the message next to field.
func (h *Handler) act(w http.ResponseWriter, r *http.Request, s *session, err error, back, field, page, title, section string, load loader) {
	switch {
	case err == nil:
		redirect(w, r, back)
	case h.refused(w, r, s, err, field, page, title, section, load):
	default:
		h.fail(w, r, s, err)
	}
}

// required returns the first empty field of pairs (field name, what to call it) and
// an errBadInput saying it is required, or nil.
func required(r *http.Request, pairs ...string) (string, error) {
	for i := 0; i+1 < len(pairs); i += 2 {
		if strings.TrimSpace(r.PostFormValue(pairs[i])) == "" {
			return pairs[i], fmt.Errorf("%w: %s is required", errBadInput, pairs[i+1])
		}
	}
	return "", nil
}

type dashboardData struct {
	Domains, Users, Shared, Groups, Devices, Queued, Profiles int
}

func (h *Handler) dashboard(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	var d dashboardData
	domains, err := h.cfg.Directory.Domains(ctx)
	if err == nil {
		d.Domains = len(domains)
		var users []directory.User
		if users, err = h.cfg.Directory.Users(ctx); err == nil {
			for _, u := range users {
				if u.Kind == directory.KindShared {
					d.Shared++
				} else {
					d.Users++
				}
			}
		}
	}
	if err == nil {
		var gs []directory.Group
		gs, err = h.cfg.Directory.Groups(ctx)
		d.Groups = len(gs)
	}
	if err == nil {
		devs, derr := h.cfg.Devices.ListDevices(ctx, "")
		d.Devices, err = len(devs), derr
	}
	if err == nil {
		q, qerr := h.cfg.Queue.List(ctx)
		d.Queued, err = len(q), qerr
	}
	if err == nil {
		ps, perr := h.cfg.Profiles.Profiles(ctx)
		d.Profiles, err = len(ps), perr
	}
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	h.page(w, s, "dashboard", "Mailroom console", "dashboard", d)
}

// Domains.

func (h *Handler) loadDomains(ctx context.Context) (any, error) { return h.cfg.Directory.Domains(ctx) }

func (h *Handler) domains(w http.ResponseWriter, r *http.Request, s *session) {
	h.show(w, r, s, "domains", "Domains", "domains", h.loadDomains, nil, nil)
}

func (h *Handler) addDomain(w http.ResponseWriter, r *http.Request, s *session) {
	if field, err := required(r, "name", "the domain name"); err != nil {
		h.show(w, r, s, "domains", "Domains", "domains", h.loadDomains, r.PostForm, map[string]string{field: err.Error()})
		return
	}
	_, err := h.cfg.Domains.AddDomain(r.Context(), strings.TrimSpace(r.PostFormValue("name")), strings.TrimSpace(r.PostFormValue("netbios")))
	field := "name"
	if err != nil && strings.Contains(strings.ToLower(err.Error()), "netbios") {
		field = "netbios"
	}
	h.act(w, r, s, err, "/admin/domains", field, "domains", "Domains", "domains", h.loadDomains)
}

func (h *Handler) removeDomain(w http.ResponseWriter, r *http.Request, s *session) {
	err := h.cfg.Domains.RemoveDomain(r.Context(), r.PathValue("domain"))
	h.act(w, r, s, err, "/admin/domains", "remove", "domains", "Domains", "domains", h.loadDomains)
}

// Users and shared mailboxes.

func (h *Handler) loadMailboxes(kind directory.Kind) loader {
	return func(ctx context.Context) (any, error) {
		all, err := h.cfg.Directory.Users(ctx)
		if err != nil {
			return nil, err
		}
		var out []directory.User
		for _, u := range all {
			if u.Kind == kind {
				out = append(out, u)
			}
		}
		return out, nil
	}
}

func (h *Handler) users(w http.ResponseWriter, r *http.Request, s *session) {
	h.show(w, r, s, "users", "Users", "users", h.loadMailboxes(directory.KindUser), nil, nil)
}

// addMailbox creates the directory entry and its mailbox in the store; if the mailbox
// cannot be made the entry goes again, so nothing is left half-made.
func (h *Handler) addMailbox(ctx context.Context, nu directory.NewUser) error {
	u, err := h.cfg.Directory.AddUser(ctx, nu)
	if err != nil {
		return err
	}
	if _, err := h.cfg.Mailboxes.EnsureAccount(ctx, store.AccountID(u.ID)); err != nil {
		_, rerr := h.cfg.Directory.RemoveUser(ctx, u.Address)
		return errors.Join(fmt.Errorf("create mailbox of %s: %w", u.Address, err), rerr)
	}
	return nil
}

func (h *Handler) addUser(w http.ResponseWriter, r *http.Request, s *session) {
	load := h.loadMailboxes(directory.KindUser)
	if field, err := required(r, "address", "the e-mail address", "password", "a password"); err != nil {
		h.show(w, r, s, "users", "Users", "users", load, r.PostForm, map[string]string{field: err.Error()})
		return
	}
	nu := directory.NewUser{
		Address: strings.TrimSpace(r.PostFormValue("address")), Password: r.PostFormValue("password"),
		DisplayName: strings.TrimSpace(r.PostFormValue("displayName")), Admin: r.PostFormValue("admin") == "on",
		Kind: directory.KindUser,
	}
	err := h.addMailbox(r.Context(), nu)
	field := "address"
	if errors.Is(err, directory.ErrWeakPassword) {
		field = "password"
	}
	r.PostForm.Del("password") // never sent back to the browser
	h.act(w, r, s, err, "/admin/users", field, "users", "Users", "users", load)
}

// userData is the data of one user's page.
type userData struct {
	User     directory.User
	Groups   []directory.Group
	Grants   []directory.Grant
	Devices  int
	Security security
}

func (h *Handler) loadUser(key string) loader {
	return func(ctx context.Context) (any, error) {
		u, err := h.cfg.Directory.User(ctx, key)
		if err != nil {
			return nil, err
		}
		d := userData{User: u}
		if d.Groups, err = h.cfg.Directory.MemberOf(ctx, u.ID); err != nil {
			return nil, err
		}
		if d.Grants, err = h.cfg.Directory.GrantsTo(ctx, u.ID); err != nil {
			return nil, err
		}
		if d.Security, err = h.loadSecurity(ctx, u); err != nil {
			return nil, err
		}
		devs, err := h.cfg.Devices.ListDevices(ctx, u.Address)
		d.Devices = len(devs)
		return d, err
	}
}

func (h *Handler) userPath(r *http.Request) string {
	return "/admin/users/" + url.PathEscape(r.PathValue("user"))
}

func (h *Handler) user(w http.ResponseWriter, r *http.Request, s *session) {
	key := r.PathValue("user")
	h.show(w, r, s, "user", key, "users", h.loadUser(key), nil, nil)
}

// userFields are the attributes the user page edits, by form field.
var userFields = []string{"displayName", "givenName", "surname", "department", "title", "phone", "upn", "sam"}

func (h *Handler) updateUser(w http.ResponseWriter, r *http.Request, s *session) {
	key := r.PathValue("user")
	v := map[string]*string{}
	for _, f := range userFields {
		val := strings.TrimSpace(r.PostFormValue(f))
		v[f] = &val
	}
	admin := r.PostFormValue("admin") == "on"
	upd := directory.UserUpdate{DisplayName: v["displayName"], GivenName: v["givenName"], Surname: v["surname"],
		Department: v["department"], Title: v["title"], Phone: v["phone"], UPN: v["upn"], SAM: v["sam"], Admin: &admin}
	if *upd.UPN == "" || *upd.SAM == "" {
		field := map[bool]string{true: "upn", false: "sam"}[*upd.UPN == ""]
		h.show(w, r, s, "user", key, "users", h.loadUser(key), r.PostForm, map[string]string{field: "This cannot be empty."})
		return
	}
	if s.user.Address == key && !admin {
		h.show(w, r, s, "user", key, "users", h.loadUser(key), r.PostForm, map[string]string{"admin": "You cannot take administration away from yourself; ask another administrator."})
		return
	}
	_, err := h.cfg.Directory.UpdateUser(r.Context(), key, upd)
	field := "displayName"
	if err != nil {
		msg := strings.ToLower(err.Error())
		switch {
		case strings.Contains(msg, "upn") || strings.Contains(msg, "principal"):
			field = "upn"
		case strings.Contains(msg, "sam"):
			field = "sam"
		}
	}
	h.act(w, r, s, err, h.userPath(r), field, "user", key, "users", h.loadUser(key))
}

func (h *Handler) setPassword(w http.ResponseWriter, r *http.Request, s *session) {
	key := r.PathValue("user")
	err := h.cfg.Directory.SetPassword(r.Context(), key, r.PostFormValue("password"))
	r.PostForm.Del("password")
	h.act(w, r, s, err, h.userPath(r), "password", "user", key, "users", h.loadUser(key))
}

func (h *Handler) setEnabled(w http.ResponseWriter, r *http.Request, s *session) {
	key := r.PathValue("user")
	enable := r.PostFormValue("enabled") == "true"
	var err error
	if !enable && key == s.user.Address {
		err = fmt.Errorf("%w: you cannot disable your own account", errBadInput)
	} else {
		err = h.cfg.Directory.SetEnabled(r.Context(), key, enable)
	}
	h.act(w, r, s, err, h.userPath(r), "enabled", "user", key, "users", h.loadUser(key))
}

func (h *Handler) addAlias(w http.ResponseWriter, r *http.Request, s *session) {
	key := r.PathValue("user")
	err := h.cfg.Directory.AddAlias(r.Context(), key, strings.TrimSpace(r.PostFormValue("alias")))
	h.act(w, r, s, err, h.userPath(r), "alias", "user", key, "users", h.loadUser(key))
}

func (h *Handler) removeAlias(w http.ResponseWriter, r *http.Request, s *session) {
	key := r.PathValue("user")
	err := h.cfg.Directory.RemoveAlias(r.Context(), r.PostFormValue("alias"))
	h.act(w, r, s, err, h.userPath(r), "aliases", "user", key, "users", h.loadUser(key))
}

func (h *Handler) removeUser(w http.ResponseWriter, r *http.Request, s *session) {
	key := r.PathValue("user")
	if key == s.user.Address {
		h.act(w, r, s, fmt.Errorf("%w: you cannot remove your own account", errBadInput), "", "remove", "user", key, "users", h.loadUser(key))
		return
	}
	// The directory entry goes first so that no new mail is accepted for the address
	// while its mailbox is being removed.
	u, err := h.cfg.Directory.RemoveUser(r.Context(), key)
	if err == nil {
		if err = h.cfg.Mailboxes.RemoveAccount(r.Context(), store.AccountID(u.ID)); err != nil {
			err = fmt.Errorf("%s left the directory, but its mailbox could not be removed: %w", u.Address, err)
		}
	}
	back := "/admin/users"
	if u.Kind == directory.KindShared {
		back = "/admin/shared"
	}
	h.act(w, r, s, err, back, "remove", "user", key, "users", h.loadUser(key))
}

// Groups.

func (h *Handler) loadGroups(ctx context.Context) (any, error) { return h.cfg.Directory.Groups(ctx) }

func (h *Handler) groups(w http.ResponseWriter, r *http.Request, s *session) {
	h.show(w, r, s, "groups", "Groups", "groups", h.loadGroups, nil, nil)
}

func (h *Handler) addGroup(w http.ResponseWriter, r *http.Request, s *session) {
	if field, err := required(r, "name", "the group name"); err != nil {
		h.show(w, r, s, "groups", "Groups", "groups", h.loadGroups, r.PostForm, map[string]string{field: err.Error()})
		return
	}
	address := strings.TrimSpace(r.PostFormValue("address"))
	_, err := h.cfg.Directory.AddGroup(r.Context(), strings.TrimSpace(r.PostFormValue("name")), address, strings.TrimSpace(r.PostFormValue("displayName")))
	field := "name"
	if err != nil && address != "" && strings.Contains(strings.ToLower(err.Error()), strings.ToLower(address)) {
		field = "address"
	}
	h.act(w, r, s, err, "/admin/groups", field, "groups", "Groups", "groups", h.loadGroups)
}

func (h *Handler) loadGroup(name string) loader {
	return func(ctx context.Context) (any, error) { return h.cfg.Directory.Group(ctx, name) }
}

func (h *Handler) group(w http.ResponseWriter, r *http.Request, s *session) {
	name := r.PathValue("group")
	h.show(w, r, s, "group", "Group "+name, "groups", h.loadGroup(name), nil, nil)
}

func (h *Handler) addMember(w http.ResponseWriter, r *http.Request, s *session) {
	name := r.PathValue("group")
	err := h.cfg.Directory.AddMember(r.Context(), name, strings.TrimSpace(r.PostFormValue("member")))
	h.act(w, r, s, err, "/admin/groups/"+url.PathEscape(name), "member", "group", "Group "+name, "groups", h.loadGroup(name))
}

func (h *Handler) removeMember(w http.ResponseWriter, r *http.Request, s *session) {
	name := r.PathValue("group")
	err := h.cfg.Directory.RemoveMember(r.Context(), name, r.PostFormValue("member"))
	h.act(w, r, s, err, "/admin/groups/"+url.PathEscape(name), "members", "group", "Group "+name, "groups", h.loadGroup(name))
}

func (h *Handler) removeGroup(w http.ResponseWriter, r *http.Request, s *session) {
	name := r.PathValue("group")
	err := h.cfg.Directory.RemoveGroup(r.Context(), name)
	h.act(w, r, s, err, "/admin/groups", "remove", "group", "Group "+name, "groups", h.loadGroup(name))
}

// Shared mailboxes and grants.

// sharedBox is a shared mailbox with who holds rights on it.
type sharedBox struct {
	Mailbox directory.User
	Grants  []directory.Grant
}

func (h *Handler) loadShared(ctx context.Context) (any, error) {
	boxes, err := h.loadMailboxes(directory.KindShared)(ctx)
	if err != nil {
		return nil, err
	}
	var out []sharedBox
	for _, b := range boxes.([]directory.User) {
		g, err := h.cfg.Directory.Grants(ctx, b.Address)
		if err != nil {
			return nil, err
		}
		out = append(out, sharedBox{b, g})
	}
	return out, nil
}

func (h *Handler) shared(w http.ResponseWriter, r *http.Request, s *session) {
	h.show(w, r, s, "shared", "Shared mailboxes", "shared", h.loadShared, nil, nil)
}

func (h *Handler) addShared(w http.ResponseWriter, r *http.Request, s *session) {
	if field, err := required(r, "address", "the e-mail address"); err != nil {
		h.show(w, r, s, "shared", "Shared mailboxes", "shared", h.loadShared, r.PostForm, map[string]string{field: err.Error()})
		return
	}
	err := h.addMailbox(r.Context(), directory.NewUser{Address: strings.TrimSpace(r.PostFormValue("address")),
		DisplayName: strings.TrimSpace(r.PostFormValue("displayName")), Kind: directory.KindShared})
	h.act(w, r, s, err, "/admin/shared", "address", "shared", "Shared mailboxes", "shared", h.loadShared)
}

// grantField names the form field of a grant form: one per mailbox, so the message
// lands next to the right one.
func grantField(mailbox string) string { return "grant:" + mailbox }

func (h *Handler) grant(w http.ResponseWriter, r *http.Request, s *session) {
	mailbox := r.PathValue("mailbox")
	err := h.cfg.Directory.Grant(r.Context(), mailbox, strings.TrimSpace(r.PostFormValue("user")), directory.Right(r.PostFormValue("right")))
	h.act(w, r, s, err, "/admin/shared", grantField(mailbox), "shared", "Shared mailboxes", "shared", h.loadShared)
}

func (h *Handler) revoke(w http.ResponseWriter, r *http.Request, s *session) {
	mailbox := r.PathValue("mailbox")
	err := h.cfg.Directory.Revoke(r.Context(), mailbox, r.PostFormValue("user"), directory.Right(r.PostFormValue("right")))
	h.act(w, r, s, err, "/admin/shared", grantField(mailbox), "shared", "Shared mailboxes", "shared", h.loadShared)
}
