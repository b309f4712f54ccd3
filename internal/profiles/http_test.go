package profiles

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smallstep/pkcs7"

	"mailroom/internal/auth"
	"mailroom/internal/auth/authtest"
	"mailroom/internal/directory"
)

// withoutSAM is a directory in which one user has no sAMAccountName, which the real
// directory never allows, to reach the per-user error path.
type withoutSAM struct {
	*directory.Directory
	userID int64
}

func (d withoutSAM) UserByID(ctx context.Context, id int64) (directory.User, error) {
	u, err := d.Directory.UserByID(ctx, id)
	if id == d.userID {
		u.SAM = ""
	}
	return u, err
}

func TestDownloadOverHTTPS(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	s := base()
	s.Auth, s.ClientCertificate = AuthCertificate, SourceMailroomCA
	_, err := e.svc.Create(ctx, "Corp", s)
	must(t, err)
	_, err = e.svc.Create(ctx, "Sales mail", base())
	must(t, err)
	sam := base()
	sam.UsernameSource, sam.DomainSource = UsernameSAM, DomainNetBIOS
	_, err = e.svc.Create(ctx, "Execs", sam)
	must(t, err)
	must(t, e.svc.Assign(ctx, "Corp", "Staff", Include))
	must(t, e.svc.Assign(ctx, "Corp", "Contractors", Exclude))
	must(t, e.svc.Assign(ctx, "Sales mail", "Sales", Include))
	must(t, e.svc.Assign(ctx, "Execs", "Execs", Include))
	svc, err := New(ctx, e.db, Options{Hostname: "mail.contoso.test", CA: e.ca, Signer: e.svc.o.Signer,
		Directory: withoutSAM{e.dir, e.users["dave"].ID}})
	must(t, err)

	issuer := authtest.NewIssuer(nil)
	signIn, err := auth.New(ctx, auth.Config{DB: e.db, Directory: e.dir, Tokens: issuer})
	must(t, err)
	_, davesApp, err := signIn.NewAppPassword(ctx, e.users["dave"].ID, "iPhone")
	must(t, err)
	bobs := "Bearer " + issuer.Mint(e.users["bob"].ID, time.Hour)

	mux := http.NewServeMux()
	NewHandler(svc, signIn, nil).Register(mux)
	srv := httptest.NewTLSServer(mux)
	defer srv.Close()
	plain := httptest.NewServer(mux)
	defer plain.Close()
	must(t, e.dir.RemoveMember(ctx, "Sales", "bob@contoso.test")) // bob: only in Contractors now

	invalidToken := `Bearer realm="Mailroom", error="invalid_token"`
	tests := []struct {
		name, url, user, password string
		status                    int
		body                      string
		authorization, challenge  string // a header to send; a challenge to expect
	}{
		{"no credentials", srv.URL, "", "", http.StatusUnauthorized, "sign in", "", ""},
		{"wrong password", srv.URL, "carol@contoso.test", "wrong", http.StatusUnauthorized, "sign in", "", ""},
		{"plain HTTP", plain.URL, "carol@contoso.test", testPassword, http.StatusForbidden, "HTTPS only", "", ""},
		{"no profile", srv.URL, "bob@contoso.test", testPassword, http.StatusForbidden, "no e-mail profile is assigned to bob@contoso.test", "", ""},
		{"conflict", srv.URL, "alice@contoso.test", testPassword, http.StatusConflict, "Corp and Sales mail", "", ""},
		{"missing attribute", srv.URL, "dave@contoso.test", testPassword, http.StatusUnprocessableEntity, "no sAMAccountName", "", ""},
		{"success", srv.URL, `CONTOSO\carol`, testPassword, http.StatusOK, "", "", ""},
		{"app password", srv.URL, "dave@contoso.test", davesApp, http.StatusUnprocessableEntity, "no sAMAccountName", "", ""},
		{"token", srv.URL, "", "", http.StatusForbidden, "no e-mail profile is assigned to bob@contoso.test", bobs, ""},
		{"expired token", srv.URL, "", "", http.StatusUnauthorized, "sign in", "Bearer " + issuer.Mint(e.users["bob"].ID, -time.Second), invalidToken},
		{"tampered token", srv.URL, "", "", http.StatusUnauthorized, "sign in", bobs + "x", invalidToken},
		{"no token", srv.URL, "", "", http.StatusUnauthorized, "sign in", "", `Bearer realm="Mailroom"`},
		{"token for OpenID only", srv.URL, "", "", http.StatusForbidden, "grants no mail service",
			"Bearer " + issuer.MintScoped(e.users["bob"].ID, time.Hour, "openid"), `Bearer realm="Mailroom", error="insufficient_scope", scope="imap pop3 smtp activesync dav"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, tt.url+DownloadPath, nil)
			must(t, err)
			if tt.user != "" {
				req.SetBasicAuth(tt.user, tt.password)
			}
			if tt.authorization != "" {
				req.Header.Set("Authorization", tt.authorization)
			}
			resp, err := srv.Client().Do(req)
			must(t, err)
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			must(t, err)
			if resp.StatusCode != tt.status || !strings.Contains(string(body), tt.body) {
				t.Fatalf("%d %q, want %d with %q", resp.StatusCode, body, tt.status, tt.body)
			}
			if tt.challenge != "" && !slices.Contains(resp.Header.Values("WWW-Authenticate"), tt.challenge) {
				t.Errorf("WWW-Authenticate %q, want %q among them", resp.Header.Values("WWW-Authenticate"), tt.challenge)
			}
			if tt.status != http.StatusOK {
				return
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/x-apple-aspen-config" {
				t.Errorf("Content-Type %q", ct)
			}
			p7, err := pkcs7.Parse(body)
			must(t, err)
			if err := p7.Verify(); err != nil {
				t.Fatalf("signature: %v", err)
			}
			for _, want := range []string{PKCS12PayloadType, "<string>carol@contoso.test</string>"} {
				if !strings.Contains(string(p7.Content), want) {
					t.Errorf("content lacks %q:\n%s", want, p7.Content)
				}
			}
		})
	}
	st, err := e.svc.Status(ctx, "Corp")
	must(t, err)
	for _, s := range st {
		if s.User == "carol@contoso.test" && (s.Downloaded != 1 || s.Reason != "delivered, no device has synced under it yet") {
			t.Errorf("carol after download: %+v", s)
		}
	}
}
