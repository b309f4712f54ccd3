package adminapi

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"mailroom/internal/directory"
)

// userDetails is one user with the groups it is in (directly or nested) and the
// rights it holds on other mailboxes.
type userDetails struct {
	directory.User
	Groups []string          `json:"groups"`
	Grants []directory.Grant `json:"grants"`
}

func (a *API) listUsers(r *http.Request, _ directory.User) (int, any, error) {
	kind := directory.Kind(r.URL.Query().Get("kind"))
	if kind != "" && kind != directory.KindUser && kind != directory.KindShared {
		return 0, nil, badRequest("kind", "kind %q is neither %q nor %q", kind, directory.KindUser, directory.KindShared)
	}
	us, err := a.c.Directory.Users(r.Context())
	if err != nil {
		return 0, nil, err
	}
	out := []directory.User{}
	for _, u := range us {
		if kind == "" || u.Kind == kind {
			out = append(out, u)
		}
	}
	return http.StatusOK, out, nil
}

func (a *API) addUser(r *http.Request, _ directory.User) (int, any, error) {
	var nu directory.NewUser
	if err := decode(r, &nu); err != nil {
		return 0, nil, err
	}
	return a.createMailbox(r, nu)
}

// createMailbox adds a user or shared mailbox.
func (a *API) createMailbox(r *http.Request, nu directory.NewUser) (int, any, error) {
	u, err := a.c.Directory.AddUser(r.Context(), nu)
	if errors.Is(err, directory.ErrUnknownDomain) {
		err = &requestError{status: http.StatusBadRequest, field: "address", err: err}
	}
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, u, nil
}

func (a *API) showUser(r *http.Request, _ directory.User) (int, any, error) {
	ctx := r.Context()
	u, err := a.c.Directory.User(ctx, r.PathValue("user"))
	if err != nil {
		return 0, nil, err
	}
	out := userDetails{User: u, Groups: []string{}, Grants: []directory.Grant{}}
	gs, err := a.c.Directory.MemberOf(ctx, u.ID)
	if err != nil {
		return 0, nil, err
	}
	for _, g := range gs {
		out.Groups = append(out.Groups, g.Name)
	}
	grants, err := a.c.Directory.GrantsTo(ctx, u.ID)
	if err != nil {
		return 0, nil, err
	}
	out.Grants = append(out.Grants, grants...)
	return http.StatusOK, out, nil
}

// userPatch is a PATCH of a user: fields left out keep their value.
type userPatch struct {
	directory.UserUpdate
	Enabled *bool `json:"enabled"`
}

func (a *API) updateUser(r *http.Request, admin directory.User) (int, any, error) {
	ctx := r.Context()
	var p userPatch
	if err := decode(r, &p); err != nil {
		return 0, nil, err
	}
	cur, err := a.c.Directory.User(ctx, r.PathValue("user"))
	if err != nil {
		return 0, nil, err
	}
	if cur.ID == admin.ID {
		// An administrator who locks themselves out may leave nobody able to undo it.
		if p.Admin != nil && !*p.Admin {
			return 0, nil, selfLockout("take away your own admin right")
		}
		if p.Enabled != nil && !*p.Enabled {
			return 0, nil, selfLockout("disable your own account")
		}
	}
	// The update is checked whole and written in one transaction; enabling, a second
	// write, can fail only if the user disappears meanwhile.
	u, err := a.c.Directory.UpdateUser(ctx, cur.Address, p.UserUpdate)
	if err != nil {
		return 0, nil, err
	}
	if p.Enabled != nil && *p.Enabled != u.Enabled {
		if err := a.c.Directory.SetEnabled(ctx, u.Address, *p.Enabled); err != nil {
			return 0, nil, err
		}
		u.Enabled = *p.Enabled
	}
	return http.StatusOK, u, nil
}

// selfLockout refuses a change an administrator makes to their own access.
func selfLockout(what string) error {
	return &requestError{status: http.StatusConflict,
		err: fmt.Errorf("you cannot %s through the API; ask another administrator", what)}
}

func (a *API) setPassword(r *http.Request, _ directory.User) (int, any, error) {
	var in struct {
		Password string `json:"password"`
	}
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	if err := a.c.Directory.SetPassword(r.Context(), r.PathValue("user"), in.Password); err != nil {
		return 0, nil, inField("password", err)
	}
	return http.StatusNoContent, nil, nil
}

func (a *API) removeUser(r *http.Request, admin directory.User) (int, any, error) {
	ctx := r.Context()
	u, err := a.c.Directory.User(ctx, r.PathValue("user"))
	if err != nil {
		return 0, nil, err
	}
	if u.ID == admin.ID {
		return 0, nil, selfLockout("remove your own account")
	}
	if _, err := a.c.Directory.RemoveUser(ctx, u.Address); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}

func (a *API) addAlias(r *http.Request, _ directory.User) (int, any, error) {
	ctx := r.Context()
	var in struct {
		Alias string `json:"alias"`
	}
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	u, err := a.c.Directory.User(ctx, r.PathValue("user"))
	if err != nil {
		return 0, nil, err
	}
	if err := a.c.Directory.AddAlias(ctx, u.Address, in.Alias); err != nil {
		if errors.Is(err, directory.ErrInvalid) || errors.Is(err, directory.ErrUnknownDomain) {
			err = &requestError{status: http.StatusBadRequest, field: "alias", err: err}
		}
		return 0, nil, err
	}
	if u, err = a.c.Directory.UserByID(ctx, u.ID); err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, u, nil
}

func (a *API) removeAlias(r *http.Request, _ directory.User) (int, any, error) {
	ctx := r.Context()
	u, err := a.c.Directory.User(ctx, r.PathValue("user"))
	if err != nil {
		return 0, nil, err
	}
	alias := strings.ToLower(strings.TrimSpace(r.PathValue("alias")))
	// RemoveAlias takes any alias; the path says whose it must be.
	if !slices.Contains(u.Aliases, alias) {
		return 0, nil, notFound(fmt.Errorf("%s has no alias %q", u.Address, alias))
	}
	if err := a.c.Directory.RemoveAlias(ctx, alias); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}
