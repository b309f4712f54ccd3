package adminapi

import (
	"errors"
	"net/http"

	"mailroom/internal/directory"
)

func (a *API) listGroups(r *http.Request, _ directory.User) (int, any, error) {
	gs, err := a.c.Directory.Groups(r.Context())
	if gs == nil {
		gs = []directory.Group{}
	}
	return http.StatusOK, gs, err
}

func (a *API) addGroup(r *http.Request, _ directory.User) (int, any, error) {
	var in struct {
		Name        string `json:"name"`
		Address     string `json:"address"`
		DisplayName string `json:"displayName"`
	}
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	g, err := a.c.Directory.AddGroup(r.Context(), in.Name, in.Address, in.DisplayName)
	if errors.Is(err, directory.ErrUnknownDomain) {
		err = &requestError{status: http.StatusBadRequest, field: "address", err: err}
	}
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, g, nil
}

func (a *API) showGroup(r *http.Request, _ directory.User) (int, any, error) {
	g, err := a.c.Directory.Group(r.Context(), r.PathValue("group"))
	return http.StatusOK, g, err
}

func (a *API) removeGroup(r *http.Request, _ directory.User) (int, any, error) {
	if err := a.c.Directory.RemoveGroup(r.Context(), r.PathValue("group")); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}

func (a *API) addMember(r *http.Request, _ directory.User) (int, any, error) {
	ctx := r.Context()
	var in struct {
		Member string `json:"member"`
	}
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	group := r.PathValue("group")
	if _, err := a.c.Directory.Group(ctx, group); err != nil {
		return 0, nil, err
	}
	if err := a.c.Directory.AddMember(ctx, group, in.Member); err != nil {
		// The group exists, so what is missing or wrong is the member the body names.
		if errors.Is(err, directory.ErrNotFound) || errors.Is(err, directory.ErrInvalid) {
			err = &requestError{status: http.StatusBadRequest, field: "member", err: err}
		}
		return 0, nil, err
	}
	g, err := a.c.Directory.Group(ctx, group)
	return http.StatusCreated, g, err
}

func (a *API) removeMember(r *http.Request, _ directory.User) (int, any, error) {
	if err := a.c.Directory.RemoveMember(r.Context(), r.PathValue("group"), r.PathValue("member")); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}

// addShared creates a shared mailbox: an address users are granted rights on, which
// never signs in itself.
func (a *API) addShared(r *http.Request, _ directory.User) (int, any, error) {
	var in struct {
		Address     string `json:"address"`
		DisplayName string `json:"displayName"`
	}
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	return a.createMailbox(r, directory.NewUser{Address: in.Address, DisplayName: in.DisplayName, Kind: directory.KindShared})
}

func (a *API) listGrants(r *http.Request, _ directory.User) (int, any, error) {
	gs, err := a.c.Directory.Grants(r.Context(), r.PathValue("mailbox"))
	if gs == nil {
		gs = []directory.Grant{}
	}
	return http.StatusOK, gs, err
}

func (a *API) addGrant(r *http.Request, _ directory.User) (int, any, error) {
	ctx := r.Context()
	var in struct {
		User  string          `json:"user"`
		Right directory.Right `json:"right"`
	}
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	mailbox := r.PathValue("mailbox")
	if _, err := a.c.Directory.User(ctx, mailbox); err != nil {
		return 0, nil, err
	}
	if err := a.c.Directory.Grant(ctx, mailbox, in.User, in.Right); err != nil {
		if errors.Is(err, directory.ErrNotFound) || (errors.Is(err, directory.ErrInvalid) && proseField(err) == "") {
			err = &requestError{status: http.StatusBadRequest, field: "user", err: err}
		}
		return 0, nil, err
	}
	gs, err := a.c.Directory.Grants(ctx, mailbox)
	return http.StatusCreated, gs, err
}

func (a *API) removeGrant(r *http.Request, _ directory.User) (int, any, error) {
	err := a.c.Directory.Revoke(r.Context(), r.PathValue("mailbox"), r.PathValue("user"), directory.Right(r.PathValue("right")))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}
