package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"mailroom/internal/auth"
	"mailroom/internal/directory"
	"mailroom/internal/oauth"
)

// AppPasswords manages a user's app passwords and whether their own password still
// opens the mail protocols once they have MFA; *auth.Service has it.
type AppPasswords interface {
	NewAppPassword(ctx context.Context, userID int64, name string) (auth.AppPassword, string, error)
	AppPasswords(ctx context.Context, userID int64) ([]auth.AppPassword, error)
	RevokeAppPassword(ctx context.Context, userID int64, idOrName string) (auth.AppPassword, error)
	PasswordWithMFA(ctx context.Context, userID int64) (bool, error)
	SetPasswordWithMFA(ctx context.Context, userID int64, allow bool) error
}

// MFA is what the console reads and changes of second factors, and how its sign-in
// checks and enrols them; *oauth.Store has it, so the console and the OAuth sign-in
// page share one TOTP implementation and one record of used codes.
type MFA interface {
	Status(ctx context.Context, userID int64, groupIDs []int64) (oauth.MFAStatus, error)
	SetMFARequired(ctx context.Context, principalID int64, kind string, required bool) error
	ResetMFA(ctx context.Context, userID int64) error
	Verify(ctx context.Context, userID int64, code string) (string, error)
	Enrol(ctx context.Context, userID int64, e oauth.Enrolment, code string) ([]string, error)
}

// security is what the self-service page and the administrator's user page show of
// a user's sign-in: app passwords, the second factor and the password-with-MFA switch.
type security struct {
	AppPasswords    []auth.AppPassword
	MFA             oauth.MFAStatus
	RequiredBy      []string // group names
	PasswordWithMFA bool
	// NewName and NewSecret are the app password just created: shown this once.
	NewName, NewSecret string
}

// loadSecurity gathers security for the user.
func (h *Handler) loadSecurity(ctx context.Context, u directory.User) (security, error) {
	var sec security
	if u.Kind != directory.KindUser {
		return sec, nil
	}
	var err error
	if sec.AppPasswords, err = h.cfg.AppPasswords.AppPasswords(ctx, u.ID); err != nil {
		return sec, err
	}
	groups, err := h.cfg.Directory.MemberOf(ctx, u.ID)
	if err != nil {
		return sec, err
	}
	ids := make([]int64, len(groups))
	names := map[int64]string{}
	for i, g := range groups {
		ids[i], names[g.ID] = g.ID, g.Name
	}
	if sec.MFA, err = h.cfg.MFA.Status(ctx, u.ID, ids); err != nil {
		return sec, err
	}
	for _, id := range sec.MFA.RequiredByGroups {
		sec.RequiredBy = append(sec.RequiredBy, names[id])
	}
	sec.PasswordWithMFA, err = h.cfg.AppPasswords.PasswordWithMFA(ctx, u.ID)
	return sec, err
}

// addAppPassword creates an app password for the signed-in user and shows the page
// again with the password, this once: it is not redirected, so the secret is in no
// URL and no history entry that could be reloaded.
func (h *Handler) addAppPassword(w http.ResponseWriter, r *http.Request, s *session) {
	ap, secret, err := h.cfg.AppPasswords.NewAppPassword(r.Context(), s.user.ID, r.PostFormValue("name"))
	if err != nil {
		if !isUserMistake(err) {
			h.fail(w, r, s, err)
			return
		}
		h.showMe(w, r, s, http.StatusUnprocessableEntity, func(*mePage) {}, map[string]string{"app-password": err.Error()})
		return
	}
	h.showMe(w, r, s, http.StatusOK, func(d *mePage) { d.Security.NewName, d.Security.NewSecret = ap.Name, secret }, nil)
}

// revokeAppPassword revokes one of the signed-in user's own app passwords, by id.
func (h *Handler) revokeAppPassword(w http.ResponseWriter, r *http.Request, s *session) {
	_, err := h.cfg.AppPasswords.RevokeAppPassword(r.Context(), s.user.ID, r.PostFormValue("id"))
	switch {
	case err == nil:
		redirect(w, r, "/me/#app-passwords")
	case errors.Is(err, auth.ErrNotFound):
		h.showMe(w, r, s, http.StatusNotFound, func(*mePage) {}, map[string]string{"app-password": err.Error()})
	default:
		h.fail(w, r, s, err)
	}
}

// userMFA is the administrator's action on a user's second factor: require it or not,
// reset it (a lost phone), and keep or stop password sign-in on the mail protocols
// once MFA is on.
func (h *Handler) userMFA(w http.ResponseWriter, r *http.Request, s *session) {
	key := r.PathValue("user")
	ctx := r.Context()
	u, err := h.cfg.Directory.User(ctx, key)
	if err == nil && u.Kind != directory.KindUser {
		err = fmt.Errorf("%w: %s is a %s mailbox, which never signs in", errBadInput, u.Address, u.Kind)
	}
	if err == nil {
		switch action := r.PostFormValue("action"); action {
		case "require", "unrequire":
			err = h.cfg.MFA.SetMFARequired(ctx, u.ID, oauth.RequireUser, action == "require")
		case "reset":
			err = h.cfg.MFA.ResetMFA(ctx, u.ID)
		case "password-on", "password-off":
			err = h.cfg.AppPasswords.SetPasswordWithMFA(ctx, u.ID, action == "password-on")
		default:
			err = fmt.Errorf("%w: unknown action %q", errBadInput, action)
		}
	}
	h.act(w, r, s, err, h.userPath(r)+"#mfa", "mfa", "user", key, "users", h.loadUser(key))
}
