package profiles

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"mailroom/internal/directory"
	"mailroom/internal/httpauth"
)

// DownloadPath is where a signed-in user downloads their e-mail profile.
const DownloadPath = "/profiles/email.mobileconfig"

// Handler serves the e-mail profile download. It is safe for concurrent use.
type Handler struct {
	svc    *Service
	auth   httpauth.Service
	log    *slog.Logger
	proofs Proofs // set by WithProofs
}

// NewHandler returns a Handler delivering svc's profiles to users auth (*auth.Service:
// passwords, app passwords and tokens, with lockout and audit) signs in; a nil log
// discards.
func NewHandler(svc *Service, auth httpauth.Service, log *slog.Logger) *Handler {
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
// applies to the signed-in user (HTTP Basic or a bearer token), and records the download. A user
// who gets no profile is told why in plain text: 403 when none is assigned, 409 when
// assignments conflict, 422 when their directory entry lacks what the profile needs,
// 401 with a step-up challenge when it carries a derived credential and the request
// proved no strong credential (WithProofs).
func (h *Handler) serveDownload(w http.ResponseWriter, r *http.Request) {
	if r.TLS == nil {
		// The Basic credentials already crossed in the clear; refuse so that a
		// misconfigured link is noticed instead of working.
		http.Error(w, "profiles are served over HTTPS only", http.StatusForbidden)
		return
	}
	u, creds, err := httpauth.SignIn(h.auth, r, "profiles")
	if err != nil {
		if !httpauth.Refused(err) && !errors.Is(err, directory.ErrDisabled) {
			h.log.Error("authenticate", "err", err)
			http.Error(w, "internal server error", http.StatusInternalServerError)
			return
		}
		if !errors.Is(err, httpauth.ErrNoCredentials) {
			h.log.Info("profile download refused", "remote", r.RemoteAddr, "err", err)
		}
		if httpauth.InsufficientScope(w.Header(), "Mailroom", err) {
			// A good token that grants no mail service (RFC 6750 section 3.1).
			http.Error(w, "the access token grants no mail service", http.StatusForbidden)
			return
		}
		httpauth.Challenge(w.Header(), "Mailroom", creds, h.auth.TokensEnabled())
		http.Error(w, "sign in with your e-mail address and password", http.StatusUnauthorized)
		return
	}
	proof, err := h.proof(r, u, creds)
	if err != nil {
		h.log.Error("check proof of a strong sign-in", "user", u.Address, "err", err)
		http.Error(w, "internal server error", http.StatusInternalServerError)
		return
	}
	d, err := h.svc.BuildProven(r.Context(), u.ID, false, proof)
	if errors.Is(err, ErrProofRequired) {
		h.log.Info("derived credential refused without a strong sign-in", "user", u.Address)
		stepUp(w, err)
		return
	}
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
