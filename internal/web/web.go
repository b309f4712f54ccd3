// Package web is Mailroom's browser interface: the admin console under /admin/ and
// every user's self-service page under /me/, server-rendered with html/template from
// files embedded in the binary (no JavaScript framework, no build step).
//
// It is a thin view over the services the command line uses (directory, device
// registry, queue, profiles, certificate authority), declared here as small
// interfaces. It keeps no state of its own besides sign-in sessions, which live in
// the database so that several nodes share them.
//
// It must never authorise an action by what a page shows or hides: every handler
// checks the signed-in user on the server, every state-changing request carries the
// session's CSRF token, and pages are served over HTTPS only. It never stores a
// session token in clear (only its SHA-256) and never logs a password.
package web

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"mailroom/internal/auth"
	"mailroom/internal/autodiscover"
	"mailroom/internal/db"
	"mailroom/internal/directory"
	"mailroom/internal/importer"
)

//go:embed migrations/*/*.sql
var migrationFiles embed.FS

//go:embed templates/*.html static/*
var assets embed.FS

// PasswordChecker checks a user's own password at sign-in (never an app password)
// and then their second-factor code, each with lockout and audit, and records what
// else the sign-in does (an enrolment); *auth.Service has it.
type PasswordChecker interface {
	CheckPassword(ctx context.Context, login, password string, from auth.Source) (directory.User, error)
	SecondFactor(ctx context.Context, userID int64, code string, check auth.CodeCheck, from auth.Source) (string, error)
	Audit(ctx context.Context, ev auth.Event) error
}

// Config is what the console needs. Every service is required.
type Config struct {
	DB        *db.DB
	Passwords PasswordChecker
	// AppPasswords and MFA are the self-service page's sign-in security and the
	// administrator's controls of it (*auth.Service, *oauth.Store).
	AppPasswords AppPasswords
	MFA          MFA
	// Messages is the store the console imports mail into (store.Store); MaxImport
	// bounds an uploaded mbox file (0: DefaultMaxImport).
	Messages  importer.Store
	MaxImport int64
	Directory Directory
	Domains   DomainAdmin
	Mailboxes Mailboxes
	Devices   Devices
	Queue     Queue
	Profiles  Profiles
	CA        Certificates
	// Resolver checks whether a domain's records are published; nil skips the check.
	Resolver Resolver
	// Services is what clients are told (server.Discovery): the plain IMAP/SMTP
	// settings on the self-service page and the DNS records of each domain.
	Services autodiscover.Services
	Hostname string
	// SessionTTL is how long a sign-in lasts; 0 means 8 hours.
	SessionTTL time.Duration
	Logger     *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Handler serves the console and the self-service page. It is safe for concurrent use.
type Handler struct {
	cfg   Config
	log   *slog.Logger
	now   func() time.Time
	pages map[string]*template.Template
	jobs  importJobs
}

// New applies the package's migrations and parses the embedded templates.
func New(ctx context.Context, cfg Config) (*Handler, error) {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("web migrations: %w", err)
	}
	if err := cfg.DB.Migrate(ctx, "web", sub); err != nil {
		return nil, err
	}
	h := &Handler{cfg: cfg, log: cfg.Logger, now: cfg.Now}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.cfg.SessionTTL == 0 {
		h.cfg.SessionTTL = 8 * time.Hour
	}
	if h.pages, err = parsePages(); err != nil {
		return nil, err
	}
	return h, nil
}

// parsePages parses every page template together with the layout, one set per page.
func parsePages() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"path": url.PathEscape,
		"when": func(t time.Time) string {
			if t.IsZero() {
				return "—"
			}
			return t.Local().Format("2006-01-02 15:04")
		},
		"join": strings.Join,
	}
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(assets, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("web templates: %w", err)
	}
	names, err := fs.Glob(assets, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.Must(layout.Clone()).ParseFS(assets, n)
		if err != nil {
			return nil, fmt.Errorf("web template %s: %w", n, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// handlerFunc is a page or action for a signed-in user.
type handlerFunc func(w http.ResponseWriter, r *http.Request, s *session)

// route is one URL the package serves. The table is the single list of them, so the
// tests can try every administrator route as someone who is not one.
type route struct {
	pattern string // method and path, as http.ServeMux takes them
	admin   bool   // only for directory administrators
	serve   handlerFunc
	upload  bool // takes a file: the body may be as large as Config.MaxImport
}

func (h *Handler) routes() []route {
	a := func(pattern string, f handlerFunc) route { return route{pattern: pattern, admin: true, serve: f} }
	u := func(pattern string, f handlerFunc) route { return route{pattern: pattern, serve: f} }
	return []route{
		a("GET /admin/{$}", h.dashboard),
		a("GET /admin/domains", h.domains),
		a("POST /admin/domains", h.addDomain),
		a("GET /admin/domains/{domain}", h.domain),
		a("POST /admin/domains/{domain}/remove", h.removeDomain),
		a("GET /admin/users", h.users),
		a("POST /admin/users", h.addUser),
		a("GET /admin/users/{user}", h.user),
		a("POST /admin/users/{user}", h.updateUser),
		a("POST /admin/users/{user}/password", h.setPassword),
		a("POST /admin/users/{user}/enabled", h.setEnabled),
		a("POST /admin/users/{user}/aliases", h.addAlias),
		a("POST /admin/users/{user}/aliases/remove", h.removeAlias),
		a("POST /admin/users/{user}/remove", h.removeUser),
		a("POST /admin/users/{user}/mfa", h.userMFA),
		a("GET /admin/groups", h.groups),
		a("POST /admin/groups", h.addGroup),
		a("GET /admin/groups/{group}", h.group),
		a("POST /admin/groups/{group}/members", h.addMember),
		a("POST /admin/groups/{group}/members/remove", h.removeMember),
		a("POST /admin/groups/{group}/remove", h.removeGroup),
		a("GET /admin/shared", h.shared),
		a("POST /admin/shared", h.addShared),
		a("POST /admin/shared/{mailbox}/grants", h.grant),
		a("POST /admin/shared/{mailbox}/grants/revoke", h.revoke),
		a("GET /admin/queue", h.queue),
		a("POST /admin/queue/{id}/retry", h.retryQueued),
		a("POST /admin/queue/{id}/drop", h.dropQueued),
		a("GET /admin/devices", h.devices),
		a("GET /admin/devices/{user}/{device}", h.adminDevice),
		a("POST /admin/devices/{user}/{device}/access", h.setAccess),
		a("POST /admin/devices/{user}/{device}/wipe", h.adminWipe),
		a("POST /admin/devices/{user}/{device}/remove", h.adminRemoveDevice),
		a("GET /admin/profiles", h.profiles),
		a("GET /admin/profiles/new", h.newProfile),
		a("POST /admin/profiles", h.createProfile),
		a("GET /admin/profiles/{profile}", h.profile),
		a("POST /admin/profiles/{profile}", h.updateProfile),
		a("POST /admin/profiles/{profile}/assign", h.assign),
		a("POST /admin/profiles/{profile}/unassign", h.unassign),
		a("POST /admin/profiles/{profile}/remove", h.removeProfile),
		a("GET /admin/profiles/{profile}/status", h.profileStatus),
		a("GET /admin/certificates", h.certificates),
		a("POST /admin/certificates/{serial}/revoke", h.revokeCertificate),
		a("GET /admin/import", h.imports),
		{pattern: "POST /admin/import", admin: true, serve: h.startImport, upload: true},
		a("GET /admin/import/{job}", h.importProgress),

		u("GET /me/{$}", h.me),
		u("GET /me/profile.mobileconfig", h.downloadProfile),
		u("GET /me/devices/{device}", h.myDevice),
		u("POST /me/devices/{device}/wipe", h.myWipe),
		u("POST /me/devices/{device}/remove", h.myRemoveDevice),
		u("POST /me/app-passwords", h.addAppPassword),
		u("POST /me/app-passwords/revoke", h.revokeAppPassword),
		u("POST /me/signout", h.signOut),
		u("GET "+pathVerify, h.verifyPage),
		u("POST "+pathVerify, h.verify),
	}
}

// Register adds the console under /admin/ and the self-service page under /me/.
func (h *Handler) Register(mux *http.ServeMux) {
	protect := http.NewCrossOriginProtection()
	for _, rt := range h.routes() {
		mux.Handle(rt.pattern, protect.Handler(h.signedIn(rt)))
	}
	mux.Handle("GET /me/signin", h.secure(http.HandlerFunc(h.signInPage)))
	mux.Handle("POST /me/signin", protect.Handler(h.secure(http.HandlerFunc(h.signIn))))
	mux.Handle("GET "+pathCode, h.secure(http.HandlerFunc(h.codePage)))
	mux.Handle("POST "+pathCode, protect.Handler(h.secure(http.HandlerFunc(h.code))))
	mux.Handle("GET "+pathEnrol, h.secure(http.HandlerFunc(h.enrolPage)))
	mux.Handle("POST "+pathEnrol, protect.Handler(h.secure(http.HandlerFunc(h.enrol))))
	mux.Handle("GET /me/static/", h.secure(http.StripPrefix("/me/", http.FileServerFS(assets))))
	// Anything else under the two prefixes is not found, but only over HTTPS and
	// without telling an anonymous caller more.
	mux.Handle("/admin/", h.secure(http.NotFoundHandler()))
	mux.Handle("/me/", h.secure(http.NotFoundHandler()))
}

// contentSecurityPolicy lets pages load nothing but the console's own style sheet
// and images, and be framed by no one.
const contentSecurityPolicy = "default-src 'none'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// secure refuses plain HTTP, where a password or session cookie would cross in the
// clear, and sets the headers every page gets.
func (h *Handler) secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			http.Error(w, "the Mailroom console is served over HTTPS only", http.StatusForbidden)
			return
		}
		hd := w.Header()
		hd.Set("Content-Security-Policy", contentSecurityPolicy)
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("Cache-Control", "no-store")
		hd.Set("Strict-Transport-Security", "max-age=31536000")
		next.ServeHTTP(w, r)
	})
}

// view is what every page template gets.
type view struct {
	Title   string
	Section string // the navigation entry to highlight
	User    directory.User
	CSRF    string
	Refresh int // seconds; non-zero makes the page reload itself (long operations)
	Errors  map[string]string
	Form    url.Values
	Data    any
}

// Err returns the message for a form field, for the template to put next to it.
func (v view) Err(field string) string { return v.Errors[field] }

// Value returns what was submitted for a form field, to show it again after an error.
func (v view) Value(field string) string { return v.Form.Get(field) }

// render writes page with status code.
func (h *Handler) render(w http.ResponseWriter, code int, page string, v view) {
	t := h.pages[page]
	if t == nil {
		h.log.Error("no such page template", "page", page)
		http.Error(w, "internal server error", http.StatusInternalServerError)
		return
	}
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, "layout.html", v); err != nil {
		h.log.Error("render page", "page", page, "err", err)
		http.Error(w, "internal server error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	b.WriteTo(w)
}

// page renders a page for the signed-in user with status 200.
func (h *Handler) page(w http.ResponseWriter, s *session, page, title, section string, data any) {
	h.render(w, http.StatusOK, page, view{Title: title, Section: section, User: s.user, CSRF: s.csrf, Data: data})
}

// fail answers a request whose service call failed: errors the user can act on are
// shown with a fitting status, anything else is logged and hidden.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, s *session, err error) {
	code := statusOf(err)
	msg := err.Error()
	if code == http.StatusInternalServerError {
		h.log.Error("console request failed", "method", r.Method, "path", r.URL.Path, "user", s.user.Address, "err", err)
		msg = "Something went wrong on the server; the log has the details."
	}
	h.render(w, code, "error", view{Title: http.StatusText(code), User: s.user, CSRF: s.csrf, Data: msg})
}

// statusOf maps the services' error values to an HTTP status.
func statusOf(err error) int {
	switch {
	case isNotFound(err):
		return http.StatusNotFound
	case isUserMistake(err):
		return http.StatusUnprocessableEntity
	}
	return http.StatusInternalServerError
}

// redirect sends the browser to path after a successful POST (post/redirect/get).
func redirect(w http.ResponseWriter, r *http.Request, path string) {
	http.Redirect(w, r, path, http.StatusSeeOther)
}

// errAs collects every error of type T in err's tree (errors.Join included).
func errAs[T error](err error) []T {
	var out []T
	var walk func(error)
	walk = func(e error) {
		if e == nil {
			return
		}
		if t, ok := e.(T); ok {
			out = append(out, t)
			return
		}
		switch u := e.(type) {
		case interface{ Unwrap() []error }:
			for _, c := range u.Unwrap() {
				walk(c)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	walk(err)
	return out
}
