package oauth

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"mailroom/internal/auth"
	"mailroom/internal/directory"
)

// PasswordChecker checks a login name and password on the sign-in page; auth.Service
// is one (with lockout and the audit log).
type PasswordChecker interface {
	CheckPassword(ctx context.Context, login, password string, from auth.Source) (directory.User, error)
}

// Auditor records what the server grants and revokes and how users pass the second
// factor; auth.Service is one. The server fills in Protocol ("oauth") and Remote.
type Auditor interface {
	Audit(ctx context.Context, ev auth.Event) error
}

// What the server records besides auth's event kinds, and the second-factor methods.
const (
	EventMFAEnrol  = "mfa-enrol" // TOTP enrolled, recovery codes made
	MethodTOTP     = "totp"
	MethodRecovery = "recovery-code"
)

// Directory is what the server reads of the directory: the signed-in user, and the
// groups that may require a second factor of them.
type Directory interface {
	UserByID(ctx context.Context, id int64) (directory.User, error)
	MemberOf(ctx context.Context, userID int64) ([]directory.Group, error)
}

// Config configures a Server.
type Config struct {
	// Verifier holds the signing keys and names the issuer.
	Verifier  *Verifier
	Directory Directory
	Passwords PasswordChecker
	Audit     Auditor // nil: events are only logged
	Logger    *slog.Logger
	// AccessTokenLifetime defaults to an hour, RefreshTokenLifetime (since the last
	// use) to 90 days.
	AccessTokenLifetime  time.Duration
	RefreshTokenLifetime time.Duration
}

// Paths the server serves on the HTTPS mux.
const (
	pathPrefix      = "/oauth/"
	pathLogin       = "/oauth/login"
	pathDevice      = "/oauth/device"
	pathAuthorize   = "/oauth/authorize"
	pathToken       = "/oauth/token"
	pathASMetadata  = "/.well-known/oauth-authorization-server" // RFC 8414 section 3
	loginStateTTL   = 10 * time.Minute
	deviceLifetime  = 10 * time.Minute
	devicePollEvery = 5 * time.Second // RFC 8628 section 3.2's default interval
)

// Server is the authorization server; through its Verifier it also checks the
// tokens it issued (auth.TokenVerifier). It is safe for concurrent use.
type Server struct {
	*Verifier
	dir        Directory
	passwords  PasswordChecker
	audit      Auditor
	log        *slog.Logger
	provider   *op.Provider
	accessTTL  time.Duration
	refreshTTL time.Duration
}

// NewServer builds the server.
func NewServer(c Config) (*Server, error) {
	s := &Server{
		Verifier: c.Verifier, dir: c.Directory, passwords: c.Passwords, audit: c.Audit, log: c.Logger,
		accessTTL: c.AccessTokenLifetime, refreshTTL: c.RefreshTokenLifetime,
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.accessTTL <= 0 {
		s.accessTTL = time.Hour
	}
	if s.refreshTTL <= 0 {
		s.refreshTTL = 90 * 24 * time.Hour
	}
	cfg := &op.Config{
		CodeMethodS256:        true,
		AuthMethodPost:        true,
		GrantTypeRefreshToken: true,
		SupportedScopes:       append([]string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, oidc.ScopeOfflineAccess}, mailScopes...),
		DeviceAuthorization: op.DeviceAuthorizationConfig{
			Lifetime:     deviceLifetime,
			PollInterval: devicePollEvery,
			UserFormPath: pathDevice,
			UserCode:     userCodeConfig,
		},
	}
	// The key encrypts only what op hands out and takes back within one request chain
	// (authorization codes are looked up by their hash), so a key per process is enough.
	rand.Read(cfg.CryptoKey[:])
	var err error
	s.provider, err = op.NewProvider(cfg, &storage{s}, op.StaticIssuer(s.issuer),
		op.WithCustomEndpoints(
			op.NewEndpoint(pathAuthorize),
			op.NewEndpoint(pathToken),
			op.NewEndpoint("/oauth/userinfo"),
			op.NewEndpoint("/oauth/revoke"),
			op.NewEndpoint("/oauth/end_session"),
			op.NewEndpoint("/oauth/jwks"),
		),
		op.WithCustomIntrospectionEndpoint(op.NewEndpoint("/oauth/introspect")),
		op.WithCustomDeviceAuthorizationEndpoint(op.NewEndpoint("/oauth/device_authorization")),
	)
	if err != nil {
		return nil, fmt.Errorf("OAuth provider: %w", err)
	}
	return s, nil
}

// Register adds the server's routes: the discovery documents and everything under
// /oauth/.
func (s *Server) Register(mux *http.ServeMux) {
	mux.Handle(oidc.DiscoveryEndpoint, s.wrap(s.provider))
	mux.Handle(pathASMetadata, s.wrap(http.HandlerFunc(s.serveASMetadata)))
	mux.Handle(pathPrefix, s.wrap(s.provider))
	mux.Handle(pathLogin, s.wrap(http.HandlerFunc(s.serveLogin)))
	mux.Handle(pathDevice, s.wrap(http.HandlerFunc(s.serveDevice)))
}

// wrap serves h over TLS only (RFC 6749 section 3.1 and 3.2 require it; the sign-in
// cookie is Secure) and records the client's address for the audit log. A plain HTTP
// GET is sent to the issuer's https URL; anything else is refused, since whatever it
// carried has already crossed the network in clear.
func (s *Server) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				http.Redirect(w, r, s.issuer+r.URL.RequestURI(), http.StatusPermanentRedirect)
				return
			}
			http.Error(w, "use https", http.StatusBadRequest)
			return
		}
		src := auth.Source{Protocol: "oauth"}
		if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
			if a, err := netip.ParseAddr(host); err == nil {
				src.Remote = a.Unmap()
			}
		}
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sourceKey{}, src)))
	})
}

// serveASMetadata answers RFC 8414's metadata request with the OpenID Connect
// discovery document, which has every field RFC 8414 section 2 defines.
func (s *Server) serveASMetadata(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	ctx := op.ContextWithIssuer(r.Context(), s.issuer)
	doc := op.CreateDiscoveryConfig(ctx, s.provider, s.provider.Storage())
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	if err := json.NewEncoder(w).Encode(doc); err != nil {
		s.log.Debug("write authorization server metadata", "err", err)
	}
}

type sourceKey struct{}

func sourceFrom(ctx context.Context) auth.Source {
	src, ok := ctx.Value(sourceKey{}).(auth.Source)
	if !ok {
		src.Protocol = "oauth"
	}
	return src
}

// record logs an event and hands it to the auditor; a failure to record is logged,
// and does not undo what happened.
func (s *Server) record(ctx context.Context, ev auth.Event) {
	src := sourceFrom(ctx)
	ev.Protocol, ev.Remote = src.Protocol, src.Remote
	s.log.Info("oauth event", "event", ev.Kind, "success", ev.Success, "user", ev.UserID, "client", ev.ClientID, "remote", ev.Remote, "detail", ev.Detail)
	if s.audit != nil {
		if err := s.audit.Audit(ctx, ev); err != nil {
			s.log.Error("audit log", "err", err)
		}
	}
}

// mfaRequired reports whether the user must use a second factor, by their own
// requirement or a group's.
func (s *Server) mfaRequired(ctx context.Context, userID int64) (bool, error) {
	groups, err := s.dir.MemberOf(ctx, userID)
	if err != nil {
		return false, fmt.Errorf("read groups: %w", err)
	}
	ids := make([]int64, len(groups))
	for i, g := range groups {
		ids[i] = g.ID
	}
	st, err := s.store.Status(ctx, userID, ids)
	if err != nil {
		return false, err
	}
	return st.Required(), nil
}
