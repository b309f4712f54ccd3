package auth

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"mailroom/internal/db"
	"mailroom/internal/directory"
)

//go:embed migrations/*/*.sql
var migrationFiles embed.FS

// ErrLockedOut is wrapped, beside directory.ErrBadCredentials, by the refusal of an
// attempt made while its address or account is backing off. Protocols answer it
// exactly like a wrong password; it is for logs and tests.
var ErrLockedOut = errors.New("too many failed sign-ins; backing off")

// errPasswordOff is a correct password refused because the user has MFA and keeps
// the mail protocols to app passwords and tokens. Only the audit log tells it apart.
var errPasswordOff = errors.New("password sign-in is off because MFA is on; use an app password")

// Methods of signing in, as the audit log records them.
const (
	MethodPassword    = "password"
	MethodAppPassword = "app-password"
	MethodToken       = "token"
)

// Directory is what the service needs from internal/directory.
type Directory interface {
	Authenticate(ctx context.Context, login, password string) (directory.User, error)
	User(ctx context.Context, key string) (directory.User, error)
	UserByID(ctx context.Context, id int64) (directory.User, error)
	HashPassword(ctx context.Context, password string) (string, error)
	VerifyPassword(ctx context.Context, id int64, hash, password string) (bool, error)
	// Generation changes with every directory write this process commits.
	Generation() uint64
}

// Config is what a Service is built from.
type Config struct {
	DB        *db.DB
	Directory Directory
	// Tokens checks OAuth access tokens; nil refuses every token.
	Tokens TokenVerifier
	// MFA says who has a second factor; nil means nobody has.
	MFA MFAStatus
	// AccountLockout and IPLockout are the back-off policies; zero fields take the
	// defaults (DefaultAccountLockout, DefaultIPLockout).
	AccountLockout, IPLockout Lockout
	Logger                    *slog.Logger     // nil: slog.Default()
	Now                       func() time.Time // nil: time.Now
}

// Service signs users in on every protocol. It is safe for concurrent use, and
// several processes sharing a database share its lockouts and audit log.
type Service struct {
	db        *db.DB
	dir       Directory
	tokens    TokenVerifier
	mfa       MFAStatus
	account   Lockout
	ip        Lockout
	log       *slog.Logger
	now       func() time.Time
	lastPrune atomic.Int64 // unix microseconds of the last pruning of lockout rows
	signIns   *signInCache
}

// New opens the service's tables in cfg.DB, applying its migrations first.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.DB == nil || cfg.Directory == nil {
		return nil, errors.New("auth: DB and Directory are required")
	}
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("auth migrations: %w", err)
	}
	if err := cfg.DB.Migrate(ctx, "auth", sub); err != nil {
		return nil, err
	}
	s := &Service{
		db:      cfg.DB,
		dir:     cfg.Directory,
		tokens:  cfg.Tokens,
		mfa:     cfg.MFA,
		account: cfg.AccountLockout.orDefault(DefaultAccountLockout),
		ip:      cfg.IPLockout.orDefault(DefaultIPLockout),
		log:     cfg.Logger,
		now:     cfg.Now,
		signIns: newSignInCache(),
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// TokensEnabled reports whether the service checks access tokens at all, so that a
// protocol offers XOAUTH2 and OAUTHBEARER only when they can succeed.
func (s *Service) TokensEnabled() bool { return s.tokens != nil }

// Password signs a user in on a mail protocol (IMAP, POP3, SMTP, ActiveSync Basic)
// with their password or one of their app passwords. Once the user has MFA, only app
// passwords are taken unless the user keeps password sign-in (SetPasswordWithMFA).
//
// Every refusal wraps directory.ErrBadCredentials, the same for an unknown login, a
// wrong password and a lockout; only a disabled user with the right secret gets
// directory.ErrDisabled. Any other error means the service cannot tell now.
func (s *Service) Password(ctx context.Context, login, password string, from Source) (directory.User, error) {
	return s.password(ctx, login, password, from, true)
}

// CheckPassword checks a user's own password for the OAuth sign-in page, with lockout
// and audit but not the MFA switch: that page asks for the second factor itself. App
// passwords are not accepted there.
func (s *Service) CheckPassword(ctx context.Context, login, password string, from Source) (directory.User, error) {
	return s.password(ctx, login, password, from, false)
}

func (s *Service) password(ctx context.Context, login, password string, from Source, mail bool) (directory.User, error) {
	// Generations first: a change committed after this point drops what this sign-in
	// would cache (signincache.go).
	gen, dirGen := s.signIns.gen.Load(), s.dir.Generation()
	cacheKey := s.signIns.key(login, password, from, mail)
	if u, ok := s.signIns.get(cacheKey, s.now(), dirGen); ok {
		return u, nil
	}
	ev := Event{Kind: EventSignIn, Login: clip(login, 256), Protocol: from.Protocol, Remote: from.Remote, Method: MethodPassword}
	// The account key is the user's id whatever name they typed, so aliases share one
	// counter; a login that names no one gets its own, refused alike.
	u, err := s.dir.User(ctx, login)
	accountKey := "login:" + strings.ToLower(strings.TrimSpace(clip(login, 256)))
	switch {
	case err == nil:
		ev.UserID = u.ID
		accountKey = fmt.Sprintf("user:%d", u.ID)
	case !errors.Is(err, directory.ErrNotFound) && !errors.Is(err, directory.ErrInvalid):
		return directory.User{}, err
	}
	keys := []string{accountKey}
	if k := ipKey(from.Remote); k != "" {
		keys = append(keys, k)
	}
	if until, err := s.lockedUntil(ctx, keys); err != nil {
		return directory.User{}, err
	} else if !until.IsZero() {
		return directory.User{}, s.refuse(ctx, ev, nil, fmt.Errorf("%w: %w until %s", directory.ErrBadCredentials, ErrLockedOut, until.UTC().Format(time.RFC3339)))
	}

	var found directory.User
	ok := false
	if mail && err == nil && u.Kind == directory.KindUser {
		if found, ok, err = s.checkAppPassword(ctx, u, password); err != nil {
			return directory.User{}, err
		}
		if ok {
			ev.Method = MethodAppPassword
		}
	}
	if !ok {
		found, err = s.dir.Authenticate(ctx, login, password)
		if err == nil && mail {
			if off, oerr := s.passwordOff(ctx, found.ID); oerr != nil {
				return directory.User{}, oerr
			} else if off {
				err = fmt.Errorf("%w: %w", directory.ErrBadCredentials, errPasswordOff)
			}
		}
		switch {
		case err == nil:
		case errors.Is(err, directory.ErrBadCredentials):
			return directory.User{}, s.refuse(ctx, ev, keys, err)
		case errors.Is(err, directory.ErrDisabled):
			// The secret was right, so no lockout counts it, but it is no sign-in.
			ev.Detail = err.Error()
			s.record(ctx, ev)
			return directory.User{}, err
		default:
			return directory.User{}, err
		}
	}
	if !found.Enabled {
		ev.Detail = "account disabled"
		s.record(ctx, ev)
		return directory.User{}, fmt.Errorf("%w: %s may not log in", directory.ErrDisabled, found.Address)
	}
	// The back-off of an account ends with its first success after the window; the
	// address's does not, or a guesser with one account could clear it at will.
	if err := s.clearLockout(ctx, accountKey); err != nil {
		return directory.User{}, err
	}
	ev.UserID, ev.Success = found.ID, true
	if at, ok := s.record(ctx, ev); ok {
		s.signIns.put(cacheKey, signInEntry{gen: gen, dirGen: dirGen, expires: s.now().Add(signInCacheTTL),
			auditUntil: at.Add(coalesceSuccess), user: found})
	}
	return found, nil
}

// Bearer signs a user in with an OAuth 2.0 access token (RFC 6750; SASL XOAUTH2 and
// OAUTHBEARER carry one too). login, when not empty, is the name the client says the
// token is for (the SASL user or authzid); it must be one of the token's user's names.
//
// The token must carry one of the scopes of from.Protocol (ScopesFor); a token
// without one is refused with a *ScopeError.
//
// A refusal wraps ErrBadToken and directory.ErrBadCredentials; a disabled user's
// valid token gives directory.ErrDisabled. Failures count towards the address's
// lockout, as guessing tokens is guessing passwords.
func (s *Service) Bearer(ctx context.Context, login, token string, from Source) (directory.User, error) {
	ev := Event{Kind: EventSignIn, Login: clip(login, 256), Protocol: from.Protocol, Remote: from.Remote, Method: MethodToken}
	var keys []string
	if k := ipKey(from.Remote); k != "" {
		keys = append(keys, k)
	}
	if until, err := s.lockedUntil(ctx, keys); err != nil {
		return directory.User{}, err
	} else if !until.IsZero() {
		return directory.User{}, s.refuse(ctx, ev, nil, fmt.Errorf("%w: %w: %w until %s", directory.ErrBadCredentials, ErrBadToken, ErrLockedOut, until.UTC().Format(time.RFC3339)))
	}
	if s.tokens == nil {
		return directory.User{}, s.refuse(ctx, ev, keys, fmt.Errorf("%w: %w: this server takes no tokens", directory.ErrBadCredentials, ErrBadToken))
	}
	claims, err := s.tokens.VerifyAccessToken(ctx, token)
	if errors.Is(err, ErrBadToken) {
		return directory.User{}, s.refuse(ctx, ev, keys, fmt.Errorf("%w: %w", directory.ErrBadCredentials, err))
	} else if err != nil {
		return directory.User{}, fmt.Errorf("verify access token: %w", err)
	}
	ev.UserID, ev.ClientID = claims.UserID, clip(claims.ClientID, 256)
	// A token for another service is no guess, so it does not count towards a
	// lockout; it is refused all the same (RFC 6750 section 3.1, insufficient_scope).
	if err := checkScope(from.Protocol, claims.Scopes); err != nil {
		return directory.User{}, s.refuse(ctx, ev, nil, err)
	}
	u, err := s.dir.UserByID(ctx, claims.UserID)
	switch {
	case errors.Is(err, directory.ErrNotFound):
		return directory.User{}, s.refuse(ctx, ev, keys, fmt.Errorf("%w: %w: its user no longer exists", directory.ErrBadCredentials, ErrBadToken))
	case err != nil:
		return directory.User{}, err
	case u.Kind != directory.KindUser:
		return directory.User{}, s.refuse(ctx, ev, keys, fmt.Errorf("%w: %w: not issued to a user", directory.ErrBadCredentials, ErrBadToken))
	case login != "" && !Names(u, login):
		return directory.User{}, s.refuse(ctx, ev, keys, fmt.Errorf("%w: %w: issued to %s, not %q", directory.ErrBadCredentials, ErrBadToken, u.Address, clip(login, 256)))
	case !u.Enabled:
		ev.Detail = "account disabled"
		s.record(ctx, ev)
		return directory.User{}, fmt.Errorf("%w: %s may not log in", directory.ErrDisabled, u.Address)
	}
	ev.Success = true
	s.record(ctx, ev)
	return u, nil
}

// Names reports whether name is one of the user's names (address, alias, UPN),
// case-insensitively.
func Names(u directory.User, name string) bool {
	if strings.EqualFold(name, u.Address) || strings.EqualFold(name, u.UPN) {
		return true
	}
	for _, a := range u.Aliases {
		if strings.EqualFold(name, a) {
			return true
		}
	}
	return false
}

// refuse counts a failure against keys, records it and returns err.
func (s *Service) refuse(ctx context.Context, ev Event, keys []string, err error) error {
	ev.Detail = err.Error()
	for _, k := range keys {
		if ferr := s.fail(ctx, k); ferr != nil {
			return ferr
		}
	}
	s.record(ctx, ev)
	return err
}

// record writes ev to the audit log and returns the time of the entry that records it.
// A sign-in must not fail because its audit entry could not be written, so that is
// logged instead of returned, and ok is false.
func (s *Service) record(ctx context.Context, ev Event) (at time.Time, ok bool) {
	at, err := s.audit(ctx, ev)
	if err != nil {
		s.log.Error("audit", "event", ev.Kind, "login", ev.Login, "err", err)
		return time.Time{}, false
	}
	return at, true
}

// RemoteAddr returns the IP address of a connection's remote end, or the zero Addr
// when it has none (a pipe in a test).
func RemoteAddr(a net.Addr) netip.Addr {
	if a == nil {
		return netip.Addr{}
	}
	if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

// RemoteHTTP returns the IP address in an http.Request's RemoteAddr ("ip:port").
func RemoteHTTP(remoteAddr string) netip.Addr {
	if ap, err := netip.ParseAddrPort(remoteAddr); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

// clip shortens s to at most n bytes, for what is logged or stored from a client.
func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
