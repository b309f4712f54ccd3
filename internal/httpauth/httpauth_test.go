package httpauth_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"mailroom/internal/auth"
	"mailroom/internal/directory"
	"mailroom/internal/httpauth"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestParse(t *testing.T) {
	cases := []struct {
		name, header string
		want         httpauth.Credentials
		malformed    bool
	}{
		{"empty", "", httpauth.Credentials{}, false},
		{"other scheme", "Negotiate abc", httpauth.Credentials{}, false},
		{"basic", "Basic " + b64("alice@example.test:pass:word"), httpauth.Credentials{Scheme: httpauth.Basic, Login: "alice@example.test", Password: "pass:word"}, false},
		{"basic lower case, two spaces", "basic  " + b64("a:b"), httpauth.Credentials{Scheme: httpauth.Basic, Login: "a", Password: "b"}, false},
		{"basic utf-8", "Basic " + b64("jörg:päss"), httpauth.Credentials{Scheme: httpauth.Basic, Login: "jörg", Password: "päss"}, false},
		{"basic not base64", "Basic !!!", httpauth.Credentials{Scheme: httpauth.Basic}, true},
		{"basic no colon", "Basic " + b64("alice"), httpauth.Credentials{Scheme: httpauth.Basic}, true},
		{"basic empty password", "Basic " + b64("alice:"), httpauth.Credentials{Scheme: httpauth.Basic}, true},
		{"basic nothing", "Basic", httpauth.Credentials{Scheme: httpauth.Basic}, true},
		{"bearer jwt", "Bearer eyJh.eyJz.c2ln", httpauth.Credentials{Scheme: httpauth.Bearer, Token: "eyJh.eyJz.c2ln"}, false},
		{"bearer padding", "BEARER abc+/_-~.==", httpauth.Credentials{Scheme: httpauth.Bearer, Token: "abc+/_-~.=="}, false},
		{"bearer empty", "Bearer ", httpauth.Credentials{Scheme: httpauth.Bearer}, true},
		{"bearer only padding", "Bearer ==", httpauth.Credentials{Scheme: httpauth.Bearer}, true},
		{"bearer space inside", "Bearer abc def", httpauth.Credentials{Scheme: httpauth.Bearer}, true},
		{"bearer quote", `Bearer "abc"`, httpauth.Credentials{Scheme: httpauth.Bearer}, true},
		{"too long", "Bearer " + strings.Repeat("a", 20000), httpauth.Credentials{Scheme: httpauth.Bearer}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := httpauth.Parse(c.header)
			if c.malformed != errors.Is(err, httpauth.ErrMalformed) || (err != nil && !c.malformed) {
				t.Fatalf("error %v, want malformed %v", err, c.malformed)
			}
			if got != c.want {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestChallenge(t *testing.T) {
	cases := []struct {
		name    string
		refused httpauth.Credentials
		bearer  bool
		want    []string
	}{
		{"basic only", httpauth.Credentials{}, false, []string{`Basic realm="Mail", charset="UTF-8"`}},
		{"none, tokens", httpauth.Credentials{}, true, []string{`Basic realm="Mail", charset="UTF-8"`, `Bearer realm="Mail"`}},
		{"basic refused", httpauth.Credentials{Scheme: httpauth.Basic}, true, []string{`Basic realm="Mail", charset="UTF-8"`, `Bearer realm="Mail"`}},
		{"token refused", httpauth.Credentials{Scheme: httpauth.Bearer}, true, []string{`Basic realm="Mail", charset="UTF-8"`, `Bearer realm="Mail", error="invalid_token"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := http.Header{}
			httpauth.Challenge(h, `Ma"il`, c.refused, c.bearer)
			if got := h.Values("WWW-Authenticate"); !slices.Equal(got, c.want) {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

// FuzzParse: no header makes Parse panic, and what it accepts is well-formed.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "Basic " + b64("a:b"), "Bearer abc.def", "Bearer ", "Basic", "Negotiate x", "bearer a=="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		c, err := httpauth.Parse(header)
		if err != nil {
			if !errors.Is(err, httpauth.ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		switch c.Scheme {
		case httpauth.Basic:
			if c.Login == "" || c.Password == "" || strings.Contains(c.Login, ":") {
				t.Fatalf("accepted %+v", c)
			}
		case httpauth.Bearer:
			if strings.TrimRight(c.Token, "=") == "" || strings.ContainsAny(c.Token, " \t\"") {
				t.Fatalf("accepted token %q", c.Token)
			}
		}
	})
}

// TestInsufficientScope: a token refused for its scope gets RFC 6750 section 3.1's
// insufficient_scope challenge with the scope needed; any other refusal none.
func TestInsufficientScope(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want string // "": not a refusal for scope
	}{
		{"one scope", fmt.Errorf("sign in: %w", &auth.ScopeError{Protocol: "admin-api", Need: []string{"admin"}}),
			`Bearer realm="Mailroom", error="insufficient_scope", scope="admin"`},
		{"several scopes", &auth.ScopeError{Protocol: "profiles", Need: []string{"imap", "activesync"}},
			`Bearer realm="Mailroom", error="insufficient_scope", scope="imap activesync"`},
		{"no token opens it", &auth.ScopeError{Protocol: "web"}, `Bearer realm="Mailroom", error="insufficient_scope"`},
		{"bad token", fmt.Errorf("%w: %w", directory.ErrBadCredentials, auth.ErrBadToken), ""},
		{"no error", nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := http.Header{}
			if got := httpauth.InsufficientScope(h, "Mailroom", c.err); got != (c.want != "") {
				t.Fatalf("InsufficientScope = %v", got)
			}
			if got := h.Get("WWW-Authenticate"); got != c.want {
				t.Errorf("challenge %q, want %q", got, c.want)
			}
		})
	}
}
