package dav

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"mailroom/internal/auth"
	"mailroom/internal/auth/authtest"
	"mailroom/internal/db"
	"mailroom/internal/directory"
)

// TestSignInService: behind the sign-in service, DAV takes passwords, app passwords
// and bearer tokens (RFC 6750), refuses bad tokens with invalid_token, and a
// disabled user's token like any other bad one.
func TestSignInService(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	d, err := db.OpenSQLite(ctx, filepath.Join(t.TempDir(), "auth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	issuer := authtest.NewIssuer(nil)
	signIn, err := auth.New(ctx, auth.Config{DB: d, Directory: e.dir, Tokens: issuer})
	if err != nil {
		t.Fatal(err)
	}
	_, app, err := signIn.NewAppPassword(ctx, e.alice.ID, "Calendar")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.dir.AddUser(ctx, directory.NewUser{Address: "carol@example.com", Password: testPassword}); err != nil {
		t.Fatal(err)
	}
	carol, err := e.dir.User(ctx, "carol@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.dir.SetEnabled(ctx, "carol@example.com", false); err != nil {
		t.Fatal(err)
	}
	h := New(Config{Store: e.store, Auth: SignIn{signIn}, GAL: Directory{e.dir}})
	mux := http.NewServeMux()
	h.Register(mux)
	srv := httptest.NewUnstartedServer(mux)
	srv.Listener.Close()
	if srv.Listener, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)

	valid := issuer.Mint(e.alice.ID, time.Hour)
	basic := `Basic realm="Mailroom", charset="UTF-8"`
	invalid := []string{basic, `Bearer realm="Mailroom", error="invalid_token"`}
	cases := []struct {
		name            string
		login, password string
		authorization   string
		status          int
		challenges      []string
	}{
		{"password", "alice@example.com", testPassword, "", http.StatusMultiStatus, nil},
		{"app password", "alice@example.com", app, "", http.StatusMultiStatus, nil},
		{"token", "", "", "Bearer " + valid, http.StatusMultiStatus, nil},
		{"no credentials", "", "", "", http.StatusUnauthorized, []string{basic, `Bearer realm="Mailroom"`}},
		{"wrong password", "alice@example.com", "wrong", "", http.StatusUnauthorized, []string{basic, `Bearer realm="Mailroom"`}},
		{"expired token", "", "", "Bearer " + issuer.Mint(e.alice.ID, -time.Second), http.StatusUnauthorized, invalid},
		{"tampered token", "", "", "Bearer x" + valid, http.StatusUnauthorized, invalid},
		{"malformed token", "", "", "Bearer {json}", http.StatusUnauthorized, invalid},
		{"disabled user's token", "", "", "Bearer " + issuer.Mint(carol.ID, time.Hour), http.StatusUnauthorized, invalid},
		{"token for IMAP only", "", "", "Bearer " + issuer.MintScoped(e.alice.ID, time.Hour, "imap"), http.StatusForbidden,
			[]string{`Bearer realm="Mailroom", error="insufficient_scope", scope="dav"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequest("PROPFIND", srv.URL+"/dav/", strings.NewReader(propfind(`<d:current-user-principal/>`)))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Depth", "0")
			if c.login != "" {
				req.SetBasicAuth(c.login, c.password)
			}
			if c.authorization != "" {
				req.Header.Set("Authorization", c.authorization)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, c.status)
			}
			if got := resp.Header.Values("WWW-Authenticate"); c.challenges != nil && !slices.Equal(got, c.challenges) {
				t.Errorf("WWW-Authenticate %q, want %q", got, c.challenges)
			}
		})
	}
}
