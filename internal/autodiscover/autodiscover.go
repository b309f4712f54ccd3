// Package autodiscover answers the requests mail clients make to find their settings
// when a user types only an address and a password: Exchange POX Autodiscover in its
// outlook and mobilesync schemas ([MS-OXDSCLI], [MS-ASCMD] §2.2.1.1), Autodiscover v2
// JSON, Mozilla autoconfig (config-v1.1.xml) and an Apple configuration profile. It
// must never tell a caller whether an address exists, and never take a password over
// plain HTTP.
//
// Each flavour has its own file: pox.go (request parsing and the outlook schema),
// mobilesync.go, v2.go, autoconfig.go, apple.go; dns.go lists the DNS records that
// point clients here.
package autodiscover

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"mailroom/internal/directory"
	"mailroom/internal/httpauth"
	"mailroom/internal/mobileconfig"
)

// Directory is what the handlers need of the user directory; *directory.Directory
// implements it.
type Directory interface {
	// User finds a user by primary address, alias or UPN.
	User(ctx context.Context, key string) (directory.User, error)
	// Domains lists the organisation's mail domains.
	Domains(ctx context.Context) ([]directory.Domain, error)
}

// Config is what New needs.
type Config struct {
	// Hostname is this server's fully qualified name, e.g. mail.example.test.
	Hostname  string
	Services  Services
	Directory Directory
	// Auth signs users in (*auth.Service: passwords, app passwords, tokens, with
	// lockout and audit). It must cost the same time for an unknown login as for a
	// wrong password.
	Auth httpauth.Service
	// Logger receives one line per refused or failed request; nil discards.
	Logger *slog.Logger
	// Signer, if set, signs Apple profiles; otherwise they are served unsigned.
	Signer *mobileconfig.Signer
}

// Handler serves every discovery flavour. It is safe for concurrent use.
type Handler struct {
	hostname string
	services Services
	dir      Directory
	auth     httpauth.Service
	log      *slog.Logger
	signer   *mobileconfig.Signer
}

// New returns a Handler for c.
func New(c Config) *Handler {
	log := c.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{
		hostname: c.Hostname,
		services: c.Services,
		dir:      c.Directory,
		auth:     c.Auth,
		log:      log.With("component", "autodiscover"),
		signer:   c.Signer,
	}
}

// maxRequestBody bounds a POX request body. Real requests are a few hundred bytes.
const maxRequestBody = 64 << 10

// Paths the handler answers, in lower case; ServeHTTP compares case-insensitively
// because clients spell them differently (MS-OXDSCLI 3.2.5: /Autodiscover/Autodiscover.xml
// is as common as the lower-case form).
const (
	pathPOX          = "/autodiscover/autodiscover.xml"
	pathV2           = "/autodiscover/autodiscover.json"
	pathV2Prefix     = "/autodiscover/autodiscover.json/v1.0/"
	pathMobileconfig = "/autodiscover/mail.mobileconfig"
	pathAutoconfig   = "/mail/config-v1.1.xml"
	pathWellKnownAC  = "/.well-known/autoconfig/mail/config-v1.1.xml"
	pathWellKnownV1  = "/.well-known/mail-v1.xml"
)

// Register adds the handler's routes to mux. ServeMux patterns are case-sensitive, so
// the /autodiscover/ folder is registered in the spellings clients use; below it,
// ServeHTTP ignores case.
func (h *Handler) Register(mux *http.ServeMux) {
	for _, p := range []string{
		"/autodiscover/", "/Autodiscover/", "/AutoDiscover/", "/AUTODISCOVER/",
		pathAutoconfig, pathWellKnownAC, pathWellKnownV1,
	} {
		mux.Handle(p, h)
	}
}

// ServeHTTP dispatches on the path, case-insensitively.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := lowerASCII(r.URL.Path)
	switch {
	case p == pathPOX:
		h.servePOX(w, r)
	case p == pathV2 || strings.HasPrefix(p, pathV2Prefix):
		h.serveV2(w, r)
	case p == pathMobileconfig:
		h.serveAppleProfile(w, r)
	case p == pathAutoconfig || p == pathWellKnownAC || p == pathWellKnownV1:
		h.serveAutoconfig(w, r)
	default:
		http.NotFound(w, r)
	}
}

// lowerASCII lower-cases the ASCII letters of s only, so the result has the same length
// and byte offsets as s (strings.ToLower may change both).
func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// authenticate returns the user the request's credentials belong to: HTTP Basic
// (RFC 7617) with a password or app password, or an OAuth bearer token (RFC 6750).
// Otherwise it has written the 401 and returns false. The credentials are returned
// too, so that a later refusal is answered in their scheme.
func (h *Handler) authenticate(w http.ResponseWriter, r *http.Request) (directory.User, httpauth.Credentials, bool) {
	// The sign-in service spends the same argon2id time on an unknown login as on a
	// wrong password, so neither this answer nor its timing tells whether the address
	// exists.
	u, creds, err := httpauth.SignIn(h.auth, r, "autodiscover")
	switch {
	case err == nil:
		return u, creds, true
	case errors.Is(err, httpauth.ErrNoCredentials):
		h.unauthorized(w, creds)
	case httpauth.InsufficientScope(w.Header(), h.hostname, err):
		// A good token that grants no mail service (RFC 6750 section 3.1).
		h.log.Info("token refused for its scope", "remote", r.RemoteAddr, "path", r.URL.Path, "err", err)
		http.Error(w, "the access token grants no mail service", http.StatusForbidden)
	case httpauth.Refused(err), errors.Is(err, directory.ErrDisabled):
		h.log.Info("login refused", "remote", r.RemoteAddr, "path", r.URL.Path, "err", err)
		h.unauthorized(w, creds)
	default:
		h.log.Error("login failed", "remote", r.RemoteAddr, "path", r.URL.Path, "err", err)
		http.Error(w, "internal server error", http.StatusInternalServerError)
	}
	return directory.User{}, creds, false
}

// owns reports whether address (primary, alias or UPN) is u's. Any other address,
// existing or not, gives false alike. A lookup failure other than "not found" is an
// error.
func (h *Handler) owns(ctx context.Context, u directory.User, address string) (bool, error) {
	owner, err := h.dir.User(ctx, address)
	switch {
	case errors.Is(err, directory.ErrNotFound), errors.Is(err, directory.ErrInvalid):
		return false, nil
	case err != nil:
		return false, err
	}
	return owner.ID == u.ID, nil
}

// unauthorized writes the one 401 every refused login gets, byte for byte the same
// whatever the reason; a refused token's Bearer challenge says invalid_token.
func (h *Handler) unauthorized(w http.ResponseWriter, refused httpauth.Credentials) {
	httpauth.Challenge(w.Header(), h.hostname, refused, h.auth.TokensEnabled())
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusUnauthorized)
	w.Write([]byte("401 Unauthorized\n"))
}

// redirectToHTTPS answers a plain-HTTP request with a 302 to the same path on the HTTPS
// listener, which is what MS-OXDISCO's unauthenticated GET redirect check looks for. No
// credentials are checked here: they must not travel over plain HTTP.
func (h *Handler) redirectToHTTPS(w http.ResponseWriter, r *http.Request) {
	if h.services.HTTPS == "" {
		http.NotFound(w, r)
		return
	}
	target := h.services.HTTPS + r.URL.EscapedPath()
	if r.URL.RawQuery != "" {
		target += "?" + r.URL.RawQuery
	}
	http.Redirect(w, r, target, http.StatusFound)
}

// allowMethods writes a 405 and returns false unless r's method is one of methods.
func allowMethods(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m {
			return true
		}
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	return false
}

// queryValue returns the query parameter name, matched case-insensitively as Exchange
// does ("Email", "email"; "emailaddress", "EmailAddress").
func queryValue(r *http.Request, name string) string {
	q := r.URL.Query()
	if v := q.Get(name); v != "" {
		return v
	}
	for k, v := range q {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}
