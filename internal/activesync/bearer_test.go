package activesync

import (
	"net/http"
	"testing"
	"time"
)

// TestBearerAndAppPassword signs in with an OAuth bearer token (RFC 6750 section 2.1)
// and with an app password over HTTP Basic, and checks the refusal of a bad token and
// of a good one without the activesync scope (RFC 6750 section 3.1).
func TestBearerAndAppPassword(t *testing.T) {
	e := newEnv(t)
	_, secret, err := e.auth.NewAppPassword(e.ctx, e.alice.ID, "iPhone Mail")
	must(t, err)
	tests := []struct {
		name      string
		password  string
		authz     string // the Authorization field, overriding Basic
		want      int    // 0: anything but 401 and 403
		challenge string
	}{
		{name: "token", authz: "Bearer " + e.tokens.Mint(e.alice.ID, time.Hour)},
		{name: "token, scheme in lower case", authz: "bearer " + e.tokens.Mint(e.alice.ID, time.Hour)},
		{name: "app password", password: secret},
		{name: "expired token", authz: "Bearer " + e.tokens.Mint(e.alice.ID, -time.Second), want: http.StatusUnauthorized,
			challenge: `Bearer realm="Mailroom", error="invalid_token"`},
		{name: "forged token", authz: "Bearer a.b.c", want: http.StatusUnauthorized,
			challenge: `Bearer realm="Mailroom", error="invalid_token"`},
		{name: "token for IMAP only", authz: "Bearer " + e.tokens.MintScoped(e.alice.ID, time.Hour, "imap"), want: http.StatusForbidden,
			challenge: `Bearer realm="Mailroom", error="insufficient_scope", scope="activesync"`},
		{name: "wrong password", password: "not the password", want: http.StatusUnauthorized, challenge: `Basic realm="Mailroom"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := e.client("BEARER" + tt.name[:3])
			if tt.password != "" {
				c.password = tt.password
			}
			header := map[string]string{}
			if tt.authz != "" {
				header["Authorization"] = tt.authz
			}
			resp, _ := c.raw(http.MethodPost, c.url("FolderSync"), nil, header)
			switch {
			case tt.want == 0 && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden):
				t.Fatalf("status %d, want signed in", resp.StatusCode)
			case tt.want != 0 && resp.StatusCode != tt.want:
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.want)
			case tt.challenge != "" && resp.Header.Get("WWW-Authenticate") != tt.challenge:
				t.Fatalf("WWW-Authenticate %q, want %q", resp.Header.Get("WWW-Authenticate"), tt.challenge)
			}
		})
	}
}
