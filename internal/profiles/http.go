package profiles

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"mailroom/internal/directory"
)

// DownloadPath is where a signed-in user downloads their e-mail profile.
const DownloadPath = "/profiles/email.mobileconfig"

// Authenticator checks a login; *directory.Directory has it.
type Authenticator interface {
	Authenticate(ctx context.Context, login, password string) (directory.User, error)
}

// Handler serves the e-mail profile download. It is safe for concurrent use.
type Handler struct {
	svc  *Service
	auth Authenticator
	log  *slog.Logger
}

// NewHandler returns a Handler delivering svc's profiles to users auth signs in;
// a nil log discards.
func NewHandler(svc *Service, auth Authenticator, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{svc: svc, auth: auth, log: log}
}

// Register adds GET (and HEAD) DownloadPath to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET "+DownloadPath, h.serveDownload)
}

// serveDownload answers GET /profiles/email.mobileconfig with the signed profile that
// applies to the user signed in with HTTP Basic, and records the download. A user
// who gets no profile is told why in plain text: 403 when none is assigned, 409 when
// assignments conflict, 422 when their directory entry lacks what the profile needs.
func (h *Handler) serveDownload(w http.ResponseWriter, r *http.Request) {
	if r.TLS == nil {
		// The Basic credentials already crossed in the clear; refuse so that a
		// misconfigured link is noticed instead of working.
		http.Error(w, "profiles are served over HTTPS only", http.StatusForbidden)
		return
	}
	login, password, ok := r.BasicAuth()
	if !ok {
		unauthorized(w)
		return
	}
	u, err := h.auth.Authenticate(r.Context(), login, password)
	if err != nil {
		if !errors.Is(err, directory.ErrBadCredentials) && !errors.Is(err, directory.ErrDisabled) {
			h.log.Error("authenticate", "err", err)
			http.Error(w, "internal server error", http.StatusInternalServerError)
			return
		}
		h.log.Info("profile download refused", "remote", r.RemoteAddr, "err", err)
		unauthorized(w)
		return
	}
	d, err := h.svc.Build(r.Context(), u.ID, false)
	if err != nil {
		status := http.StatusInternalServerError
		switch {
		case errors.Is(err, ErrNoProfile):
			status = http.StatusForbidden
		case errors.Is(err, ErrConflict):
			status = http.StatusConflict
		case errors.Is(err, ErrUserAttribute):
			status = http.StatusUnprocessableEntity
		}
		if !userFacing(err) {
			h.log.Error("build profile", "user", u.Address, "err", err)
			http.Error(w, "internal server error", status)
			return
		}
		h.log.Info("no profile for user", "user", u.Address, "err", err)
		http.Error(w, err.Error(), status)
		return
	}
	if r.Method == http.MethodGet {
		if err := h.svc.RecordDownload(r.Context(), d.Profile, d.Version, u.ID); err != nil {
			h.log.Error("record download", "user", u.Address, "err", err)
			http.Error(w, "internal server error", http.StatusInternalServerError)
			return
		}
	}
	w.Header().Set("Content-Type", "application/x-apple-aspen-config")
	w.Header().Set("Content-Disposition", `attachment; filename="`+safeFileName(d.Profile)+`.mobileconfig"`)
	w.Header().Set("Content-Length", strconv.Itoa(len(d.Data)))
	w.Header().Set("Cache-Control", "no-store")
	w.Write(d.Data)
}

func unauthorized(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Basic realm="Mailroom", charset="UTF-8"`)
	http.Error(w, "sign in with your e-mail address and password", http.StatusUnauthorized)
}
