// Package dav is Mailroom's CalDAV (RFC 4791) and CardDAV (RFC 6352) server, with
// WebDAV sync (RFC 6578), extended MKCOL (RFC 5689), ctag and the well-known URIs
// (RFC 6764), over the calendar, task and contact items of the mailbox store (kept as
// package pim says) and a read-only address book of the directory (the global address
// list).
//
// It serves only over TLS and only to users who sign in with HTTP Basic or an OAuth
// bearer token; a user reaches
// only their own collections. It never stores an object that fails pim's validation,
// never answers bad input with a 500, and keeps no data of its own beyond a cache of
// resource names that the store's change log keeps current.
package dav

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"mailroom/internal/auth"
	"mailroom/internal/httpauth"
	"mailroom/internal/pim"
	"mailroom/internal/store"
)

// Prefix is where the DAV tree lives on the HTTPS listener.
const Prefix = "/dav/"

// ErrBadCredentials is what an Authenticator returns for a login that must not pass,
// whatever the reason; the client gets 401.
var ErrBadCredentials = errors.New("bad credentials")

// Principal is a signed-in user: whose mailbox the DAV tree shows.
type Principal struct {
	Account     store.AccountID
	Address     string // the primary address; the principal's URL segment
	DisplayName string
}

// Authenticator checks a login and password from a client at remote (internal/auth,
// which adds lockout and app passwords, or the directory).
type Authenticator interface {
	Authenticate(ctx context.Context, login, password string, remote netip.Addr) (Principal, error)
}

// TokenAuthenticator is an Authenticator that also takes OAuth 2.0 access tokens
// (RFC 6750), as SignIn does. A refused token is an error wrapping ErrBadCredentials.
type TokenAuthenticator interface {
	Authenticator
	Bearer(ctx context.Context, token string, remote netip.Addr) (Principal, error)
	// TokensEnabled reports whether a token can succeed at all.
	TokensEnabled() bool
}

// GALEntry is one entry of the global address list.
type GALEntry struct {
	ID          string // stable and unique: the vCard's UID and resource name
	Kind        string // "user", "shared" or "group"
	DisplayName string
	GivenName   string
	Surname     string
	Email       string
	Title       string
	Department  string
	Phone       string
	Members     []string // a group's member addresses
}

// GAL lists the global address list.
type GAL interface {
	GAL(ctx context.Context) ([]GALEntry, error)
}

// Store is what the DAV server needs of the mailbox store.
type Store interface {
	EnsureAccount(ctx context.Context, id store.AccountID) (store.Account, error)
	Folders(ctx context.Context, id store.AccountID) ([]store.Folder, error)
	Folder(ctx context.Context, id store.FolderID) (store.Folder, error)
	CreateFolder(ctx context.Context, id store.AccountID, parent store.FolderID, name string, role store.Role) (store.Folder, error)
	DeleteFolder(ctx context.Context, folder store.FolderID) error
	Deliver(ctx context.Context, m store.NewMessage, to []store.Placement) ([]store.Delivered, error)
	Replace(ctx context.Context, id store.MessageID, m store.NewMessage) (store.Delivered, error)
	List(ctx context.Context, folder store.FolderID) ([]store.MessageInfo, error)
	Message(ctx context.Context, id store.MessageID) (store.Message, error)
	Messages(ctx context.Context, folder store.FolderID, uids []store.UID) ([]store.Message, error)
	Raw(ctx context.Context, id store.MessageID) ([]byte, error)
	SetProps(ctx context.Context, id store.MessageID, props map[string]string) (store.ModSeq, error)
	Changes(ctx context.Context, id store.AccountID, since store.ModSeq, limit int) ([]store.Change, store.ModSeq, error)
}

// Config configures a Handler.
type Config struct {
	Store Store
	Auth  Authenticator
	GAL   GAL // nil: no global address book
	// Scheduler and Users, both set, make writes of meetings send invitations and
	// answers, and serve free/busy (RFC 6638, schedule.go); nil: no scheduling.
	Scheduler Scheduler
	Users     Users
	Limits    pim.Limits
	Logger    *slog.Logger
}

// Handler serves the DAV tree and the well-known URIs.
type Handler struct {
	cfg   Config
	log   *slog.Logger
	index *indexCache
	gal   *galCache
	locks folderLocks
}

// New returns a Handler.
func New(cfg Config) *Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Limits = cfg.Limits.WithDefaults()
	return &Handler{cfg: cfg, log: cfg.Logger, index: newIndexCache(256), gal: &galCache{}}
}

func (h *Handler) limits() pim.Limits { return h.cfg.Limits }

// Register adds the DAV routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.Handle(Prefix, h)
	mux.Handle(strings.TrimSuffix(Prefix, "/"), h)
	mux.HandleFunc("/.well-known/caldav", h.wellKnown)
	mux.HandleFunc("/.well-known/carddav", h.wellKnown)
}

// wellKnown points clients at the context path (RFC 6764 5); the principal is found
// from there with DAV:current-user-principal (RFC 5397).
func (h *Handler) wellKnown(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, Prefix, http.StatusMovedPermanently)
}

// request is one request in progress.
type request struct {
	h    *Handler
	w    http.ResponseWriter
	r    *http.Request
	user Principal
	t    target
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.TLS == nil {
		writeError(w, h.log, r, errStatus(http.StatusForbidden, "CalDAV and CardDAV are served over HTTPS only"))
		return
	}
	user, ok := h.authenticate(w, r)
	if !ok {
		return
	}
	t, err := parseTarget(r.URL)
	if err == nil && t.user != "" && !strings.EqualFold(t.user, user.Address) {
		err = errStatus(http.StatusForbidden, "%s can reach only their own calendars and address books", user.Address)
	}
	if err != nil {
		writeError(w, h.log, r, err)
		return
	}
	req := &request{h: h, w: w, r: r, user: user, t: t}
	if err := req.serve(); err != nil {
		writeError(w, h.log, r, err)
	}
}

// authenticate checks HTTP Basic credentials (RFC 7617) or, when the Authenticator
// takes them, a bearer token (RFC 6750 section 2.1); it has answered when it returns
// false. A refused token's challenge says invalid_token, or insufficient_scope with 403
// for a good token without the dav scope (RFC 6750 section 3.1).
func (h *Handler) authenticate(w http.ResponseWriter, r *http.Request) (Principal, bool) {
	creds, perr := httpauth.Parse(r.Header.Get("Authorization"))
	tokens, takesTokens := h.cfg.Auth.(TokenAuthenticator)
	remote := auth.RemoteHTTP(r.RemoteAddr)
	var p Principal
	err := ErrBadCredentials
	switch {
	case perr != nil:
	case creds.Scheme == httpauth.Basic:
		p, err = h.cfg.Auth.Authenticate(r.Context(), creds.Login, creds.Password, remote)
	case creds.Scheme == httpauth.Bearer && takesTokens:
		p, err = tokens.Bearer(r.Context(), creds.Token, remote)
	}
	if err == nil {
		return p, true
	}
	if !errors.Is(err, ErrBadCredentials) {
		writeError(w, h.log, r, err)
		return Principal{}, false
	}
	if httpauth.InsufficientScope(w.Header(), "Mailroom", err) {
		// A good token without the dav scope (RFC 6750 section 3.1).
		writeError(w, h.log, r, errStatus(http.StatusForbidden, "the access token does not grant calendars and contacts"))
		return Principal{}, false
	}
	httpauth.Challenge(w.Header(), "Mailroom", creds, takesTokens && tokens.TokensEnabled())
	writeError(w, h.log, r, errStatus(http.StatusUnauthorized, "sign in with your address and password"))
	return Principal{}, false
}

func (q *request) serve() error {
	switch q.r.Method {
	case http.MethodOptions:
		return q.options()
	case "PROPFIND":
		return q.propfind()
	case "PROPPATCH":
		return q.proppatch()
	case "MKCALENDAR", "MKCOL":
		return q.mkcol()
	case http.MethodGet, http.MethodHead:
		return q.get()
	case http.MethodPut:
		return q.put()
	case http.MethodDelete:
		return q.delete()
	case "REPORT":
		return q.report()
	case http.MethodPost:
		return q.post()
	}
	q.w.Header().Set("Allow", allow)
	return errStatus(http.StatusMethodNotAllowed, "%s is not supported here", q.r.Method)
}

const allow = "OPTIONS, GET, HEAD, PUT, DELETE, POST, PROPFIND, PROPPATCH, REPORT, MKCOL, MKCALENDAR"

// options advertises the DAV classes (RFC 4918 10.1, RFC 4791 5.1, RFC 6352 6.1,
// RFC 6638 2).
func (q *request) options() error {
	classes := "1, 3, calendar-access, addressbook, extended-mkcol"
	if q.h.scheduling() {
		classes += ", calendar-auto-schedule"
	}
	q.w.Header().Set("DAV", classes)
	q.w.Header().Set("Allow", allow)
	q.w.WriteHeader(http.StatusOK)
	return nil
}

// space is one of the two trees of collections.
type space string

const (
	spaceCalendars    space = "calendars"
	spaceAddressbooks space = "addressbooks"
)

// targetKind is what a URL names.
type targetKind int

const (
	targetRoot targetKind = iota
	targetPrincipal
	targetHome
	targetCollection
	targetResource
	targetSchedule // the principal's scheduling inbox or outbox (coll names which)
)

// target is a parsed request URL.
type target struct {
	kind  targetKind
	space space
	user  string
	coll  string
	name  string
}

// parseTarget splits /dav/{principals|calendars|addressbooks}/{user}/{collection}/{name}.
func parseTarget(u *url.URL) (target, error) {
	rest, ok := strings.CutPrefix(u.EscapedPath(), Prefix)
	if !ok {
		if u.EscapedPath()+"/" == Prefix {
			return target{kind: targetRoot}, nil
		}
		return target{}, errStatus(http.StatusNotFound, "no such resource")
	}
	var segs []string
	for s := range strings.SplitSeq(strings.TrimSuffix(rest, "/"), "/") {
		if s == "" {
			continue
		}
		v, err := url.PathUnescape(s)
		if err != nil || v == "." || v == ".." || strings.Contains(v, "/") {
			return target{}, errStatus(http.StatusBadRequest, "the path segment %q is not valid", s)
		}
		segs = append(segs, v)
	}
	if len(segs) == 0 {
		return target{kind: targetRoot}, nil
	}
	switch segs[0] {
	case "principals":
		switch len(segs) {
		case 1:
			return target{kind: targetRoot}, nil
		case 2:
			return target{kind: targetPrincipal, user: segs[1]}, nil
		case 3:
			if segs[2] == inboxName || segs[2] == outboxName {
				return target{kind: targetSchedule, user: segs[1], coll: segs[2]}, nil
			}
		}
	case string(spaceCalendars), string(spaceAddressbooks):
		t := target{space: space(segs[0])}
		switch len(segs) {
		case 1:
			return target{kind: targetRoot}, nil
		case 2:
			t.kind, t.user = targetHome, segs[1]
			return t, nil
		case 3:
			t.kind, t.user, t.coll = targetCollection, segs[1], segs[2]
			return t, nil
		case 4:
			t.kind, t.user, t.coll, t.name = targetResource, segs[1], segs[2], segs[3]
			return t, nil
		}
	}
	return target{}, errStatus(http.StatusNotFound, "no such resource")
}

// Hrefs.
func principalHref(user string) string { return Prefix + "principals/" + url.PathEscape(user) + "/" }
func homeHref(s space, user string) string {
	return Prefix + string(s) + "/" + url.PathEscape(user) + "/"
}
func collectionHref(s space, user, coll string) string {
	return homeHref(s, user) + url.PathEscape(coll) + "/"
}
func resourceHref(s space, user, coll, name string) string {
	return collectionHref(s, user, coll) + url.PathEscape(name)
}
