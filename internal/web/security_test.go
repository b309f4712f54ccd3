package web

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"mailroom/internal/auth"
	"mailroom/internal/directory"
)

var newAppPassword = regexp.MustCompile(`id="new-app-password">([a-z]{4}-[a-z]{4}-[a-z]{4}-[a-z]{4})<`)

// TestSelfServiceAppPasswords: a user creates an app password on the self-service
// page, sees it once, signs in with it, and revokes it; bad names are refused next to
// the form, and nobody reaches another user's app passwords.
func TestSelfServiceAppPasswords(t *testing.T) {
	c := newConsole(t)
	ctx := context.Background()
	signIn := c.h.cfg.AppPasswords.(*auth.Service)
	user := c.signIn("user@example.test")
	if _, body, _ := user.do(http.MethodGet, "/me/", nil); !strings.Contains(body, "You have no app passwords") {
		t.Fatalf("self-service page without app passwords:\n%s", body)
	}
	code, body := user.post("/me/app-passwords", url.Values{"name": {"iPhone Mail"}})
	m := newAppPassword.FindStringSubmatch(body)
	if code != http.StatusOK || m == nil {
		t.Fatalf("create: HTTP %d\n%s", code, body)
	}
	secret := m[1]
	if u, err := signIn.Password(ctx, "user@example.test", secret, auth.Source{Protocol: "imap"}); err != nil || u.Address != "user@example.test" {
		t.Fatalf("sign-in with the new app password: %v", err)
	}
	_, body, _ = user.do(http.MethodGet, "/me/", nil)
	if strings.Contains(body, secret) || !strings.Contains(body, "iPhone Mail") {
		t.Errorf("the page shows the secret again or lacks the name:\n%s", body)
	}

	cases := []struct {
		name string
		want int
		text string
	}{
		{"", http.StatusUnprocessableEntity, "needs a name"},
		{"IPHONE MAIL", http.StatusUnprocessableEntity, "already exists"},
		{"12345", http.StatusUnprocessableEntity, "would read as an id"},
		{strings.Repeat("x", 101), http.StatusUnprocessableEntity, "longer than"},
	}
	for _, tc := range cases {
		code, body := user.post("/me/app-passwords", url.Values{"name": {tc.name}})
		if code != tc.want || !strings.Contains(body, `id="app-password-error"`) || !strings.Contains(body, tc.text) {
			t.Errorf("name %q: HTTP %d, want %d with %q", tc.name, code, tc.want, tc.text)
		}
	}
	list, err := signIn.AppPasswords(ctx, mustUser(t, c, "user@example.test").ID)
	if err != nil || len(list) != 1 {
		t.Fatalf("after refused names: %+v, %v", list, err)
	}

	// The administrator's app password is out of the user's reach by its id.
	admin := mustUser(t, c, "admin@example.test")
	adminAP, _, err := signIn.NewAppPassword(ctx, admin.ID, "script")
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := user.post("/me/app-passwords/revoke", url.Values{"id": {itoa(adminAP.ID)}}); code != http.StatusNotFound {
		t.Errorf("revoking another user's app password: HTTP %d, want 404", code)
	}
	if l, _ := signIn.AppPasswords(ctx, admin.ID); len(l) != 1 {
		t.Errorf("the administrator's app passwords after the attempt: %+v", l)
	}
	if code, _ := user.post("/me/app-passwords/revoke", url.Values{"id": {itoa(list[0].ID)}}); code != http.StatusSeeOther {
		t.Errorf("revoke: HTTP %d, want 303", code)
	}
	if _, err := signIn.Password(ctx, "user@example.test", secret, auth.Source{Protocol: "imap"}); err == nil {
		t.Error("a revoked app password still signs in")
	}
	// Without the CSRF token nothing is created.
	if code, _, _ := user.do(http.MethodPost, "/me/app-passwords", url.Values{"name": {"Laptop"}}); code != http.StatusForbidden {
		t.Errorf("create without CSRF token: HTTP %d", code)
	}
	if l, _ := signIn.AppPasswords(ctx, list[0].UserID); len(l) != 0 {
		t.Errorf("app passwords left: %+v", l)
	}
}

// TestAdminMFA: an administrator requires two-step sign-in of a user, which both
// pages show, keeps password sign-in for them, and lifts the requirement; nonsense
// is refused.
func TestAdminMFA(t *testing.T) {
	c := newConsole(t)
	ctx := context.Background()
	admin := c.signIn("admin@example.test")
	// Signed in before the requirement: from now on the user enrols at sign-in.
	user := c.signIn("user@example.test")
	const path = "/admin/users/user@example.test/mfa"
	if code, body := admin.post(path, url.Values{"action": {"require"}}); code != http.StatusSeeOther {
		t.Fatalf("require: HTTP %d\n%s", code, body)
	}
	if _, body, _ := admin.do(http.MethodGet, "/admin/users/user@example.test", nil); !strings.Contains(body, "Required for this user") || !strings.Contains(body, `id="mfa-unrequire"`) {
		t.Errorf("user page after require:\n%s", body)
	}
	if _, body, _ := user.do(http.MethodGet, "/me/", nil); !strings.Contains(body, "Your organisation requires it") {
		t.Errorf("self-service page of a user who must use MFA:\n%s", body)
	}
	if code, _ := admin.post(path, url.Values{"action": {"password-on"}}); code != http.StatusSeeOther {
		t.Fatalf("password-on: HTTP %d", code)
	}
	u := mustUser(t, c, "user@example.test")
	if on, err := c.h.cfg.AppPasswords.PasswordWithMFA(ctx, u.ID); err != nil || !on {
		t.Errorf("password with MFA after password-on: %v, %v", on, err)
	}
	for _, step := range []string{"reset", "unrequire", "password-off"} {
		if code, _ := admin.post(path, url.Values{"action": {step}}); code != http.StatusSeeOther {
			t.Errorf("%s: HTTP %d", step, code)
		}
	}
	st, err := c.mfa.Status(ctx, u.ID, nil)
	if err != nil || st.Required() {
		t.Errorf("status after unrequire: %+v, %v", st, err)
	}
	if on, _ := c.h.cfg.AppPasswords.PasswordWithMFA(ctx, u.ID); on {
		t.Error("password with MFA still on after password-off")
	}
	if _, err := c.in.Directory.AddUser(ctx, directory.NewUser{Address: "info@example.test", Kind: directory.KindShared}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, action, text string }{
		{path, "enable", "unknown action"},
		{"/admin/users/info@example.test/mfa", "require", "never signs in"},
	} {
		if code, body := admin.post(tc.path, url.Values{"action": {tc.action}}); code != http.StatusUnprocessableEntity || !strings.Contains(body, tc.text) {
			t.Errorf("%s %s: HTTP %d, want 422 with %q", tc.path, tc.action, code, tc.text)
		}
	}
	if code, _ := admin.post("/admin/users/nobody@example.test/mfa", url.Values{"action": {"require"}}); code != http.StatusNotFound {
		t.Errorf("unknown user: HTTP %d, want 404", code)
	}
}

func mustUser(t *testing.T, c *console, address string) directory.User {
	t.Helper()
	u, err := c.in.Directory.User(context.Background(), address)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
