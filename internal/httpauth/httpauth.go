// Package httpauth signs HTTP requests in through internal/auth: it reads the
// Authorization header — HTTP Basic (RFC 7617) or an OAuth 2.0 bearer token (RFC 6750
// section 2.1) — hands the credentials to the sign-in service with the client's
// address, and writes the challenges of a refusal (RFC 9110 section 11.6.1, RFC 6750
// section 3). Autodiscover, the profile download, the admin API and CalDAV/CardDAV
// use it, so that lockout, app passwords, the MFA switch and the audit log apply to
// every HTTP sign-in as they do to IMAP.
//
// It never checks a secret itself and never logs one: what it parses goes to the
// sign-in service and nowhere else.
package httpauth

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"mailroom/internal/auth"
	"mailroom/internal/directory"
)

// Scheme is the kind of credentials a request carries.
type Scheme int

// The schemes Parse tells apart. Any scheme it does not take (NTLM, Negotiate) is
// None: the request is treated as carrying no credentials and gets the challenges.
const (
	None Scheme = iota
	Basic
	Bearer
)

// Credentials is what an Authorization header carries.
type Credentials struct {
	Scheme          Scheme
	Login, Password string // Basic
	Token           string // Bearer
}

// ErrMalformed is wrapped by Parse's refusal of a Basic or Bearer header it cannot
// read. SignIn treats such a request as a failed sign-in, not as an anonymous one.
var ErrMalformed = errors.New("malformed Authorization header")

// ErrNoCredentials is SignIn's answer to a request without Basic or Bearer
// credentials.
var ErrNoCredentials = errors.New("no credentials")

// maxHeader bounds what Parse looks at; a real token is a few kilobytes at most.
const maxHeader = 16 << 10

// Parse reads an Authorization header value. An empty value, or a scheme other than
// Basic and Bearer, is Credentials{Scheme: None} without error. A refusal still says
// which scheme the header named.
func Parse(header string) (Credentials, error) {
	header = strings.TrimSpace(header)
	if header == "" {
		return Credentials{}, nil
	}
	if len(header) > maxHeader {
		return Credentials{Scheme: Bearer}, fmt.Errorf("%w: longer than %d bytes", ErrMalformed, maxHeader)
	}
	scheme, rest, _ := strings.Cut(header, " ")
	// Schemes are case-insensitive (RFC 9110 section 11.1); any number of spaces may
	// separate the scheme from its credentials.
	rest = strings.TrimLeft(rest, " ")
	switch {
	case strings.EqualFold(scheme, "Basic"):
		return parseBasic(rest)
	case strings.EqualFold(scheme, "Bearer"):
		return parseBearer(rest)
	}
	return Credentials{}, nil
}

// parseBasic decodes RFC 7617 section 2's user-pass: base64 of user-id ":" password,
// where the user-id holds no colon. The charset is UTF-8, as the challenge says.
func parseBasic(b64 string) (Credentials, error) {
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return Credentials{Scheme: Basic}, fmt.Errorf("%w: Basic credentials are not base64", ErrMalformed)
	}
	login, password, ok := strings.Cut(string(raw), ":")
	if !ok {
		return Credentials{Scheme: Basic}, fmt.Errorf("%w: Basic credentials without ':'", ErrMalformed)
	}
	if login == "" || password == "" {
		return Credentials{Scheme: Basic}, fmt.Errorf("%w: Basic credentials with an empty user or password", ErrMalformed)
	}
	return Credentials{Scheme: Basic, Login: login, Password: password}, nil
}

// parseBearer checks RFC 6750 section 2.1's b64token:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func parseBearer(token string) (Credentials, error) {
	body := strings.TrimRight(token, "=")
	if body == "" {
		return Credentials{Scheme: Bearer}, fmt.Errorf("%w: Bearer without a token", ErrMalformed)
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~+/", c) >= 0) {
			return Credentials{Scheme: Bearer}, fmt.Errorf("%w: Bearer token with a character outside b64token", ErrMalformed)
		}
	}
	return Credentials{Scheme: Bearer, Token: token}, nil
}

// Service signs users in; *auth.Service is one.
type Service interface {
	// Password checks a password or app password, with the MFA switch.
	Password(ctx context.Context, login, password string, from auth.Source) (directory.User, error)
	// Bearer checks an OAuth access token.
	Bearer(ctx context.Context, login, token string, from auth.Source) (directory.User, error)
	// TokensEnabled reports whether tokens can succeed at all, so that the Bearer
	// challenge is offered only then.
	TokensEnabled() bool
}

// SignIn signs in the sender of r through svc, as protocol (the audit log's name for
// it) from r's remote address. It returns the credentials it found too, so that a
// refusal can be answered in their scheme (Challenge).
//
// Errors: ErrNoCredentials when r carries none that SignIn takes; for wrong, locked
// out or malformed credentials an error wrapping directory.ErrBadCredentials (and
// auth.ErrBadToken for a token); directory.ErrDisabled for a disabled user with the
// right secret; any other error means the service could not tell.
func SignIn(svc Service, r *http.Request, protocol string) (directory.User, Credentials, error) {
	c, err := Parse(r.Header.Get("Authorization"))
	from := auth.Source{Protocol: protocol, Remote: auth.RemoteHTTP(r.RemoteAddr)}
	switch {
	case err != nil && c.Scheme == Bearer:
		// A mangled token is a bad token: the client hears invalid_token.
		return directory.User{}, c, fmt.Errorf("%w: %w: %w", directory.ErrBadCredentials, auth.ErrBadToken, err)
	case err != nil:
		return directory.User{}, c, fmt.Errorf("%w: %w", directory.ErrBadCredentials, err)
	case c.Scheme == Basic:
		u, err := svc.Password(r.Context(), c.Login, c.Password, from)
		return u, c, err
	case c.Scheme == Bearer:
		u, err := svc.Bearer(r.Context(), "", c.Token, from)
		return u, c, err
	}
	return directory.User{}, c, ErrNoCredentials
}

// Refused reports whether err, from SignIn, is a refusal to answer with 401 (no,
// wrong or malformed credentials) rather than a disabled account or a failure.
func Refused(err error) bool {
	return errors.Is(err, ErrNoCredentials) || errors.Is(err, directory.ErrBadCredentials)
}

// Challenge sets the WWW-Authenticate headers of a 401 for realm: Basic always
// (RFC 7617 section 2, with charset="UTF-8"), Bearer too when bearer is true (the
// server takes tokens). When the refused request carried a token, the Bearer
// challenge says error="invalid_token" (RFC 6750 section 3.1); a request without
// credentials gets no error code (section 3.1: "SHOULD NOT include an error code").
func Challenge(h http.Header, realm string, refused Credentials, bearer bool) {
	realm = quote(realm)
	h.Add("WWW-Authenticate", `Basic realm="`+realm+`", charset="UTF-8"`)
	if !bearer {
		return
	}
	if refused.Scheme == Bearer {
		h.Add("WWW-Authenticate", `Bearer realm="`+realm+`", error="invalid_token"`)
		return
	}
	h.Add("WWW-Authenticate", `Bearer realm="`+realm+`"`)
}

// InsufficientScope sets the Bearer challenge of a token refused for its scope —
// error="insufficient_scope" with the scope the request needs (RFC 6750 section 3.1)
// — when err, from SignIn or auth.Service.Bearer, is such a refusal, and reports
// whether it was. The caller then answers 403, as section 3.1 asks, instead of the
// 401 of other refusals: the token is good, only not for this service.
func InsufficientScope(h http.Header, realm string, err error) bool {
	var se *auth.ScopeError
	if !errors.As(err, &se) {
		return false
	}
	c := `Bearer realm="` + quote(realm) + `", error="insufficient_scope"`
	if scope := se.Scope(); scope != "" {
		c += `, scope="` + quote(scope) + `"`
	}
	h.Set("WWW-Authenticate", c)
	return true
}

// quote makes s safe inside a quoted-string (RFC 9110 section 5.6.4) by dropping
// what would need escaping.
func quote(s string) string {
	return strings.NewReplacer(`"`, "", `\`, "", "\r", "", "\n", "").Replace(s)
}
