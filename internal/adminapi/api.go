// Package adminapi is Mailroom's administration API: JSON over HTTPS under /api/v1/,
// for the admin console and for scripts. It exposes what the admin commands do —
// domains, users, aliases, groups, shared mailboxes, the outbound queue, ActiveSync
// devices, e-mail profiles and certificates — by calling the same services.
//
// It must never answer a request that did not arrive over TLS or whose sender is not
// an enabled directory administrator, never log a password or a request body, and
// never leave a change half made when it refuses input. docs/admin-api.md describes
// every route.
package adminapi

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"mailroom/internal/activesync"
	"mailroom/internal/autodiscover"
	"mailroom/internal/directory"
	"mailroom/internal/pki"
	"mailroom/internal/profiles"
	"mailroom/internal/queue"
)

// Prefix is where the API is served.
const Prefix = "/api/v1/"

// maxBody caps request bodies; nothing the API takes comes near it.
const maxBody = 1 << 20

// Directory is what the API needs of the directory; *directory.Directory has it.
type Directory interface {
	Domains(ctx context.Context) ([]directory.Domain, error)
	Domain(ctx context.Context, name string) (directory.Domain, error)
	DKIMKey(ctx context.Context, domain string) (directory.DKIMKey, error)

	Users(ctx context.Context) ([]directory.User, error)
	User(ctx context.Context, key string) (directory.User, error)
	UserByID(ctx context.Context, id int64) (directory.User, error)
	AddUser(ctx context.Context, nu directory.NewUser) (directory.User, error)
	UpdateUser(ctx context.Context, key string, u directory.UserUpdate) (directory.User, error)
	SetPassword(ctx context.Context, key, password string) error
	SetEnabled(ctx context.Context, key string, enabled bool) error
	RemoveUser(ctx context.Context, key string) (directory.User, error)
	AddAlias(ctx context.Context, key, alias string) error
	RemoveAlias(ctx context.Context, alias string) error
	MemberOf(ctx context.Context, userID int64) ([]directory.Group, error)
	GrantsTo(ctx context.Context, userID int64) ([]directory.Grant, error)

	Groups(ctx context.Context) ([]directory.Group, error)
	Group(ctx context.Context, nameOrAddress string) (directory.Group, error)
	AddGroup(ctx context.Context, name, address, displayName string) (directory.Group, error)
	RemoveGroup(ctx context.Context, name string) error
	AddMember(ctx context.Context, group, member string) error
	RemoveMember(ctx context.Context, group, member string) error

	Grants(ctx context.Context, mailbox string) ([]directory.Grant, error)
	Grant(ctx context.Context, mailbox, user string, r directory.Right) error
	Revoke(ctx context.Context, mailbox, user string, r directory.Right) error
}

// Domains adds and removes mail domains with what comes with them (the DKIM key, the
// discovery certificate); *instance.Instance has it.
type Domains interface {
	AddDomain(ctx context.Context, name, netbios string) (directory.Domain, error)
	RemoveDomain(ctx context.Context, name string) error
}

// Queue is the outbound queue's administration; *queue.Queue has it.
type Queue interface {
	List(ctx context.Context) ([]queue.Entry, error)
	Show(ctx context.Context, id int64) (queue.Entry, error)
	Retry(ctx context.Context, id int64) error
	Drop(ctx context.Context, id int64) error
}

// Devices is the ActiveSync device administration; *activesync.Server has it.
type Devices interface {
	ListDevices(ctx context.Context, user string) ([]activesync.Device, error)
	Device(ctx context.Context, user, deviceID string) (activesync.Device, error)
	SetAccess(ctx context.Context, user, deviceID string, a activesync.Access) error
	Wipe(ctx context.Context, user, deviceID string, accountOnly bool) error
	RemoveDevice(ctx context.Context, user, deviceID string) error
	AddAccessRule(ctx context.Context, r activesync.AccessRule) (activesync.AccessRule, error)
	AccessRules(ctx context.Context) ([]activesync.AccessRule, error)
	RemoveAccessRule(ctx context.Context, id int64) error
	SetDefaultAccess(ctx context.Context, a activesync.Access) error
	DefaultAccess(ctx context.Context) (activesync.Access, error)
}

// Profiles is the e-mail profile service; *profiles.Service has it.
type Profiles interface {
	Create(ctx context.Context, name string, st profiles.Settings) (profiles.Profile, error)
	Update(ctx context.Context, name string, st profiles.Settings) (profiles.Profile, error)
	Profile(ctx context.Context, name string) (profiles.Profile, error)
	Profiles(ctx context.Context) ([]profiles.Profile, error)
	Versions(ctx context.Context, name string) ([]profiles.Version, error)
	Remove(ctx context.Context, name string) error
	Assign(ctx context.Context, name, group string, mode profiles.Mode) error
	Unassign(ctx context.Context, name, group string) error
	Status(ctx context.Context, name string) ([]profiles.UserStatus, error)
	VPN(ctx context.Context, name string) (profiles.VPN, error)
}

// Certificates lists and revokes what the built-in CA issued; *pki.CA has it.
type Certificates interface {
	List(ctx context.Context, userID int64) ([]pki.Issued, error)
	Revoke(ctx context.Context, serial string) (pki.Issued, error)
}

// Config is what New needs. The services and at least one authenticator are required;
// Logger, Now and ProfileConfig may be left zero.
type Config struct {
	Directory    Directory
	Domains      Domains
	Queue        Queue
	Devices      Devices
	Profiles     Profiles
	Certificates Certificates
	// ProfileConfig is the profiles.Config the profile service validates with, so
	// that a dry run refuses what a real save would.
	ProfileConfig profiles.Config
	// Services and Hostname are what the DNS records of a domain point clients at,
	// as `mailroom domain dns` prints them.
	Services autodiscover.Services
	Hostname string
	// Authenticators identify the sender of a request, tried in order; the first
	// that finds credentials of its kind decides.
	Authenticators []Authenticator
	Logger         *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// API serves the administration API. It is safe for concurrent use.
type API struct {
	c      Config
	log    *slog.Logger
	now    func() time.Time
	mux    *http.ServeMux
	origin *http.CrossOriginProtection
}

// New returns the API over the configured services.
func New(c Config) *API {
	a := &API{c: c, log: c.Logger, now: c.Now, mux: http.NewServeMux(), origin: http.NewCrossOriginProtection()}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.now == nil {
		a.now = time.Now
	}
	a.routes()
	return a
}

// Register serves the API under Prefix on mux.
func (a *API) Register(mux *http.ServeMux) {
	mux.Handle(Prefix, a)
}

// handler answers one route for the administrator admin. It returns the status and
// the value to send as JSON (nil: no body), or an error that fail turns into one.
type handler func(r *http.Request, admin directory.User) (int, any, error)

// handle registers h for pattern, a ServeMux pattern below Prefix ("GET domains").
func (a *API) handle(pattern string, h handler) {
	method, path, _ := strings.Cut(pattern, " ")
	a.mux.HandleFunc(method+" "+Prefix+path, func(w http.ResponseWriter, r *http.Request) {
		admin := adminFrom(r.Context())
		code, v, err := h(r, admin)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		writeJSON(w, code, v)
	})
}

type adminKey struct{}

func adminFrom(ctx context.Context) directory.User {
	u, _ := ctx.Value(adminKey{}).(directory.User)
	return u
}

// ServeHTTP checks transport, sign-in and origin, in that order, before anything is
// routed, so that nobody learns which routes exist without being an administrator.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := a.now()
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if r.TLS == nil {
		// Basic credentials travel in every request; without TLS they are already
		// exposed, and answering would invite clients to keep doing it.
		writeError(w, http.StatusForbidden, apiError{Message: "the admin API is served over HTTPS only"})
		return
	}
	admin, err := a.authenticate(r)
	if err != nil {
		a.refuse(w, r, err)
		return
	}
	// A browser session must not be usable by another site's page (CSRF); requests
	// from non-browser clients carry no Sec-Fetch-Site or Origin and pass.
	if err := a.origin.Check(r); err != nil {
		writeError(w, http.StatusForbidden, apiError{Message: "cross-origin request refused"})
		return
	}
	r = r.WithContext(context.WithValue(r.Context(), adminKey{}, admin))
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
	if _, pattern := a.mux.Handler(r); pattern == "" {
		a.unrouted(sw, r)
	} else {
		a.mux.ServeHTTP(sw, r)
	}
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		// Who changed what: never the body, which may carry a password.
		a.log.Info("admin change", "admin", admin.Address, "method", r.Method, "path", r.URL.Path,
			"route", r.Pattern, "status", sw.code, "remote", r.RemoteAddr, "duration", a.now().Sub(start))
	}
}

// unrouted answers a request no route takes: 405 with Allow when the path exists with
// other methods, else 404, in the API's JSON form.
func (a *API) unrouted(w http.ResponseWriter, r *http.Request) {
	h, _ := a.mux.Handler(r)
	probe := &headerProbe{header: http.Header{}}
	h.ServeHTTP(probe, r)
	switch probe.code {
	case http.StatusMethodNotAllowed:
		w.Header().Set("Allow", probe.header.Get("Allow"))
		writeError(w, http.StatusMethodNotAllowed, apiError{Message: "method " + r.Method + " not allowed; allowed: " + probe.header.Get("Allow")})
	case http.StatusMovedPermanently, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		w.Header().Set("Location", probe.header.Get("Location"))
		writeError(w, probe.code, apiError{Message: "see " + probe.header.Get("Location")})
	default:
		writeError(w, http.StatusNotFound, apiError{Message: "no such resource: " + r.URL.Path})
	}
}

// headerProbe records what the mux's own 404/405/redirect handler would answer.
type headerProbe struct {
	header http.Header
	code   int
}

func (p *headerProbe) Header() http.Header { return p.header }
func (p *headerProbe) Write(b []byte) (int, error) {
	if p.code == 0 {
		p.code = http.StatusOK
	}
	return len(b), nil
}
func (p *headerProbe) WriteHeader(code int) {
	if p.code == 0 {
		p.code = code
	}
}

// statusWriter remembers the status sent, for the log.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (s *statusWriter) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

// routes registers every route; docs/admin-api.md documents them in this order.
func (a *API) routes() {
	a.handle("GET domains", a.listDomains)
	a.handle("POST domains", a.addDomain)
	a.handle("GET domains/{domain}", a.showDomain)
	a.handle("DELETE domains/{domain}", a.removeDomain)

	a.handle("GET users", a.listUsers)
	a.handle("POST users", a.addUser)
	a.handle("GET users/{user}", a.showUser)
	a.handle("PATCH users/{user}", a.updateUser)
	a.handle("PUT users/{user}/password", a.setPassword)
	a.handle("DELETE users/{user}", a.removeUser)
	a.handle("POST users/{user}/aliases", a.addAlias)
	a.handle("DELETE users/{user}/aliases/{alias}", a.removeAlias)

	a.handle("GET groups", a.listGroups)
	a.handle("POST groups", a.addGroup)
	a.handle("GET groups/{group}", a.showGroup)
	a.handle("DELETE groups/{group}", a.removeGroup)
	a.handle("POST groups/{group}/members", a.addMember)
	a.handle("DELETE groups/{group}/members/{member}", a.removeMember)

	a.handle("POST shared", a.addShared)
	a.handle("GET shared/{mailbox}/grants", a.listGrants)
	a.handle("POST shared/{mailbox}/grants", a.addGrant)
	a.handle("DELETE shared/{mailbox}/grants/{user}/{right}", a.removeGrant)

	a.handle("GET queue", a.listQueue)
	a.handle("GET queue/{id}", a.showQueue)
	a.handle("POST queue/{id}/retry", a.retryQueue)
	a.handle("DELETE queue/{id}", a.dropQueue)

	a.handle("GET devices", a.listDevices)
	a.handle("GET users/{user}/devices", a.listDevices)
	a.handle("GET users/{user}/devices/{device}", a.showDevice)
	a.handle("POST users/{user}/devices/{device}/allow", a.setAccess(activesync.AccessAllow))
	a.handle("POST users/{user}/devices/{device}/block", a.setAccess(activesync.AccessBlock))
	a.handle("POST users/{user}/devices/{device}/quarantine", a.setAccess(activesync.AccessQuarantine))
	a.handle("POST users/{user}/devices/{device}/reset", a.setAccess(""))
	a.handle("POST users/{user}/devices/{device}/wipe", a.wipeDevice)
	a.handle("DELETE users/{user}/devices/{device}", a.removeDevice)
	a.handle("GET device-rules", a.listRules)
	a.handle("POST device-rules", a.addRule)
	a.handle("DELETE device-rules/{id}", a.removeRule)
	a.handle("PUT device-rules/default", a.setDefaultAccess)

	a.handle("GET profiles", a.listProfiles)
	a.handle("POST profiles", a.createProfile)
	a.handle("GET profiles/{profile}", a.showProfile)
	a.handle("PUT profiles/{profile}", a.updateProfile)
	a.handle("DELETE profiles/{profile}", a.removeProfile)
	a.handle("GET profiles/{profile}/versions", a.profileVersions)
	a.handle("POST profiles/{profile}/assignments", a.assignProfile)
	a.handle("DELETE profiles/{profile}/assignments/{group}", a.unassignProfile)
	a.handle("GET profiles/{profile}/status", a.profileStatus)

	a.handle("GET certificates", a.listCertificates)
	a.handle("GET users/{user}/certificates", a.listCertificates)
	a.handle("POST certificates/{serial}/revoke", a.revokeCertificate)
}
