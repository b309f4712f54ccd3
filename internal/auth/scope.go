package auth

// Which OAuth 2.0 scopes open which service (RFC 6749 section 3.3). Bearer checks
// them from Source.Protocol, so a token issued for IMAP opens IMAP and nothing else.

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"mailroom/internal/directory"
)

// The scopes that open a service. Each mail protocol's is named as its Source.Protocol
// names it; the admin API's is "admin". OpenID Connect's scopes (openid, email,
// profile, offline_access) open no service. internal/oauth registers these, so that
// clients may ask for them.
const (
	ScopeIMAP       = "imap"
	ScopePOP3       = "pop3"
	ScopeSMTP       = "smtp"
	ScopeActiveSync = "activesync"
	ScopeDAV        = "dav"
	ScopeAdmin      = "admin"
)

// Scopes returns every scope that opens a service, in a new slice.
func Scopes() []string {
	return []string{ScopeIMAP, ScopePOP3, ScopeSMTP, ScopeActiveSync, ScopeDAV, ScopeAdmin}
}

// ScopesFor returns the scopes a token must carry one of to sign in on protocol (a
// Source.Protocol). A protocol that takes no tokens, or one this list does not name,
// gets none, and no token opens it.
func ScopesFor(protocol string) []string {
	switch protocol {
	case "imap", "pop3", "smtp", "activesync", "dav":
		return []string{protocol}
	case "admin-api":
		return []string{ScopeAdmin}
	case "autodiscover", "profiles":
		// Discovery and the profile download configure the mail and calendar
		// accounts; a token for any of those services may ask how to reach them.
		return []string{ScopeIMAP, ScopePOP3, ScopeSMTP, ScopeActiveSync, ScopeDAV}
	}
	return nil
}

// ErrInsufficientScope is wrapped by a ScopeError.
var ErrInsufficientScope = errors.New("the access token was not issued for this service")

// ScopeError is Bearer's refusal of a valid token that carries none of the scopes
// its protocol needs. It wraps directory.ErrBadCredentials and ErrBadToken as every
// refused token does, so a caller that knows nothing of scopes refuses it the same
// way, and ErrInsufficientScope for those that answer it in their protocol's form
// (RFC 6750 section 3.1 and RFC 7628 section 3.2.2's "insufficient_scope").
type ScopeError struct {
	Protocol string
	Need     []string // any one of them would do; empty when no token opens Protocol
	Have     []string
}

func (e *ScopeError) Error() string {
	if len(e.Need) == 0 {
		return fmt.Sprintf("%v: %s takes no access tokens", ErrInsufficientScope, e.Protocol)
	}
	return fmt.Sprintf("%v: %s needs the scope %s, the token has %q", ErrInsufficientScope, e.Protocol,
		strings.Join(e.Need, " or "), strings.Join(e.Have, " "))
}

// Unwrap lets errors.Is see what the refusal is.
func (e *ScopeError) Unwrap() []error {
	return []error{directory.ErrBadCredentials, ErrBadToken, ErrInsufficientScope}
}

// Scope returns the scope-token list (RFC 6750 section 3's "scope" attribute: scopes
// separated by spaces) a client should ask for.
func (e *ScopeError) Scope() string { return strings.Join(e.Need, " ") }

// checkScope refuses a token for protocol that carries none of its scopes.
func checkScope(protocol string, have []string) error {
	need := ScopesFor(protocol)
	for _, s := range need {
		if slices.Contains(have, s) {
			return nil
		}
	}
	return &ScopeError{Protocol: protocol, Need: need, Have: have}
}

// BearerFailureFor is BearerFailure for the refusal err: a token refused for its
// scope gets OAUTHBEARER's status "insufficient_scope" with the scope that would do
// (RFC 7628 section 3.2.2), or XOAUTH2's HTTP-like status 403 with it; any other
// refusal gets BearerFailure's.
func BearerFailureFor(mech string, err error) []byte {
	var se *ScopeError
	if !errors.As(err, &se) {
		return BearerFailure(mech)
	}
	v := map[string]string{"status": "insufficient_scope", "scope": se.Scope()}
	if mech == MechXOAUTH2 {
		v = map[string]string{"status": "403", "schemes": "bearer", "scope": se.Scope()}
	}
	b, _ := json.Marshal(v) // a map of strings always marshals
	return b
}
