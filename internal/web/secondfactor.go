package web

// The console's second factor. After the right password, a user with a second factor
// is only half signed in: the session row says which step is left (stageCode or
// stageEnrol), opens no page (lookup refuses it), lives ten minutes and ends after
// five wrong codes. The code is checked by internal/oauth, the very TOTP and
// recovery codes of the OAuth sign-in page, with auth.Service's lockout and audit
// around it. A user who must use a second factor and has none enrols here the way
// the OAuth page enrols them. Once the step is passed the half session is replaced by
// a new one (a new cookie value and CSRF token) that records when the factor was
// given, which the derived-credential profile download asks of it (profiles.MaxProofAge).

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"mailroom/internal/auth"
	"mailroom/internal/directory"
	"mailroom/internal/oauth"
	"mailroom/internal/profiles"
)

// Stages of a half sign-in, and the pages that take them.
const (
	stageCode  = "mfa"   // a TOTP or recovery code
	stageEnrol = "enrol" // TOTP enrolment, for a user who must use MFA and has none
	pathCode   = "/me/signin/code"
	pathEnrol  = "/me/signin/enrol"
	pathVerify = "/me/verify"
	// pendingTTL is how long a half sign-in waits for its second step.
	pendingTTL = 10 * time.Minute
	// maxCodeFailures is how many wrong codes one half sign-in may give before the
	// user starts again with the password; the lockout counts across sign-ins.
	maxCodeFailures = 5
)

// source is where a console sign-in comes from, as the audit log records it.
func source(r *http.Request) auth.Source {
	return auth.Source{Protocol: "web", Remote: auth.RemoteHTTP(r.RemoteAddr)}
}

// sameToken compares a form's CSRF token with the session's in constant time.
func sameToken(got, want string) bool {
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// codeForm is what the code pages show.
type codeForm struct {
	Action string
	Next   string
	// Enrolment, on the enrolment page.
	Secret, URI string
	QR          template.URL // a data: URL
	// Codes are the recovery codes just made, shown once.
	Codes []string
}

// afterPassword goes on from a right password: a user with a second factor is asked
// for it, one who must have one and has none enrols, anyone else is signed in.
func (h *Handler) afterPassword(w http.ResponseWriter, r *http.Request, u directory.User, next string) error {
	ctx := r.Context()
	st, err := h.mfaStatus(ctx, u.ID)
	if err != nil {
		return err
	}
	half := session{user: u, next: next}
	switch {
	case st.Enrolled:
		half.stage = stageCode
	case st.Required():
		e, err := oauth.NewEnrolment("Mailroom "+h.cfg.Hostname, u.Address)
		if err != nil {
			return err
		}
		half.stage, half.pendingTOTP = stageEnrol, e.URI()
	default:
		token, err := h.startSession(ctx, u.ID, time.Time{})
		if err != nil {
			return err
		}
		h.log.Info("console sign-in", "user", u.Address, "admin", u.Admin, "remote", r.RemoteAddr)
		h.setCookie(w, token, int(h.cfg.SessionTTL.Seconds()))
		redirect(w, r, landing(u, next))
		return nil
	}
	token, err := h.insertSession(ctx, half, 0, pendingTTL)
	if err != nil {
		return err
	}
	h.setCookie(w, token, int(pendingTTL.Seconds()))
	if half.stage == stageEnrol {
		redirect(w, r, pathEnrol)
	} else {
		redirect(w, r, pathCode)
	}
	return nil
}

// mfaStatus is the user's second factor and whether they must have one.
func (h *Handler) mfaStatus(ctx context.Context, userID int64) (oauth.MFAStatus, error) {
	groups, err := h.cfg.Directory.MemberOf(ctx, userID)
	if err != nil {
		return oauth.MFAStatus{}, fmt.Errorf("read groups: %w", err)
	}
	ids := make([]int64, len(groups))
	for i, g := range groups {
		ids[i] = g.ID
	}
	return h.cfg.MFA.Status(ctx, userID, ids)
}

// halfSession returns the request's half sign-in at stage; when there is none it has
// sent the browser back to the password (a GET) or refused (anything else).
func (h *Handler) halfSession(w http.ResponseWriter, r *http.Request, stage string) (*session, bool) {
	s, err := h.lookupAny(r)
	switch {
	case err != nil && !errors.Is(err, errNoSession):
		h.log.Error("console sign-in", "err", err)
		http.Error(w, "internal server error", http.StatusInternalServerError)
		return nil, false
	case err == nil && s.stage == stage:
		if r.Method == http.MethodPost && !sameToken(r.PostFormValue("csrf"), s.csrf) {
			h.render(w, http.StatusForbidden, "error", view{Title: "Forbidden",
				Data: "The form was not sent from this sign-in's page (CSRF check failed). Sign in again."})
			return nil, false
		}
		return s, true
	case r.Method == http.MethodGet:
		redirect(w, r, "/me/signin")
	default:
		http.Error(w, "sign in first", http.StatusForbidden)
	}
	return nil, false
}

func (h *Handler) codePage(w http.ResponseWriter, r *http.Request) {
	if s, ok := h.halfSession(w, r, stageCode); ok {
		h.render(w, http.StatusOK, "signin-code", view{Title: "Two-step verification", CSRF: s.csrf, Data: codeForm{Action: pathCode}})
	}
}

// code takes the second factor of a half sign-in.
func (h *Handler) code(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	s, ok := h.halfSession(w, r, stageCode)
	if !ok {
		return
	}
	ctx := r.Context()
	_, err := h.cfg.Passwords.SecondFactor(ctx, s.user.ID, strings.TrimSpace(r.PostFormValue("code")), h.cfg.MFA.Verify, source(r))
	if err == nil {
		err = h.finish(w, r, s)
	} else if errors.Is(err, directory.ErrBadCredentials) {
		err = h.wrongCode(w, r, s, func(status int, msg string) {
			h.render(w, status, "signin-code", view{Title: "Two-step verification", CSRF: s.csrf,
				Errors: map[string]string{"code": msg}, Data: codeForm{Action: pathCode}})
		}, "Wrong or used code. Enter the code your app shows now, or one of your recovery codes.")
	}
	if err != nil {
		h.log.Error("console second factor", "user", s.user.Address, "err", err)
		http.Error(w, "internal server error", http.StatusInternalServerError)
	}
}

// finish signs in a half sign-in whose second factor was just given and sends the
// browser on.
func (h *Handler) finish(w http.ResponseWriter, r *http.Request, half *session) error {
	if err := h.promote(w, r, half); err != nil {
		return err
	}
	redirect(w, r, landing(half.user, half.next))
	return nil
}

// promote replaces a half sign-in whose second factor was just given by a new
// session, which records the factor, and sets its cookie.
func (h *Handler) promote(w http.ResponseWriter, r *http.Request, half *session) error {
	if err := h.endSession(r.Context(), half.tokenHash); err != nil {
		return err
	}
	token, err := h.startSession(r.Context(), half.user.ID, h.now())
	if err != nil {
		return err
	}
	h.log.Info("console sign-in", "user", half.user.Address, "admin", half.user.Admin, "second-factor", true, "remote", r.RemoteAddr)
	h.setCookie(w, token, int(h.cfg.SessionTTL.Seconds()))
	return nil
}

// wrongCode counts a wrong code against the half sign-in and shows its page again
// with msg (show), or, at maxCodeFailures, ends it and sends the user back to the
// password.
func (h *Handler) wrongCode(w http.ResponseWriter, r *http.Request, s *session, show func(status int, msg string), msg string) error {
	ctx := r.Context()
	s.failures++
	if s.failures >= maxCodeFailures {
		if err := h.endSession(ctx, s.tokenHash); err != nil {
			return err
		}
		h.setCookie(w, "", -1)
		h.render(w, http.StatusUnauthorized, "signin", view{Title: "Sign in", Form: url.Values{"next": {s.next}},
			Errors: map[string]string{"login": "Too many wrong codes. Sign in again."}})
		return nil
	}
	if err := h.exec(ctx, `UPDATE web_sessions SET failures = $1 WHERE token_hash = $2`, s.failures, s.tokenHash); err != nil {
		return fmt.Errorf("count wrong code: %w", err)
	}
	show(http.StatusUnauthorized, msg)
	return nil
}

// exec runs one statement that changes a session.
func (h *Handler) exec(ctx context.Context, query string, args ...any) error {
	return h.cfg.DB.WriteTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, query, args...)
		return err
	})
}

// enrolPage shows the secret of a half sign-in that enrols: as a QR code, as text
// and as the otpauth:// URI.
func (h *Handler) enrolPage(w http.ResponseWriter, r *http.Request) {
	s, ok := h.halfSession(w, r, stageEnrol)
	if !ok {
		return
	}
	e, err := oauth.ParseEnrolment(s.pendingTOTP)
	if err != nil {
		h.log.Error("console enrolment", "user", s.user.Address, "err", err)
		http.Error(w, "internal server error", http.StatusInternalServerError)
		return
	}
	h.renderEnrol(w, http.StatusOK, view{Title: "Set up two-step verification", CSRF: s.csrf}, e)
}

// renderEnrol renders the enrolment page, whose QR code is a data: URL: its CSP lets
// this one page show such images.
func (h *Handler) renderEnrol(w http.ResponseWriter, status int, v view, e oauth.Enrolment) {
	w.Header().Set("Content-Security-Policy", strings.Replace(contentSecurityPolicy, "img-src 'self'", "img-src 'self' data:", 1))
	v.Data = codeForm{Action: pathEnrol, Secret: e.Secret(), URI: e.URI(), QR: e.QR()}
	h.render(w, status, "signin-enrol", v)
}

// enrol confirms the enrolment of a half sign-in with the app's first code, signs the
// user in and shows the recovery codes, this once.
func (h *Handler) enrol(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	s, ok := h.halfSession(w, r, stageEnrol)
	if !ok {
		return
	}
	ctx := r.Context()
	e, err := oauth.ParseEnrolment(s.pendingTOTP)
	var codes []string
	if err == nil {
		_, err = h.cfg.Passwords.SecondFactor(ctx, s.user.ID, strings.TrimSpace(r.PostFormValue("code")),
			func(ctx context.Context, userID int64, code string) (string, error) {
				var err error
				codes, err = h.cfg.MFA.Enrol(ctx, userID, e, code)
				return oauth.MethodTOTP, err
			}, source(r))
	}
	switch {
	case err == nil:
		if aerr := h.cfg.Passwords.Audit(ctx, auth.Event{Kind: oauth.EventMFAEnrol, UserID: s.user.ID, Success: true, Method: oauth.MethodTOTP,
			Protocol: "web", Remote: auth.RemoteHTTP(r.RemoteAddr)}); aerr != nil {
			h.log.Error("audit", "event", oauth.EventMFAEnrol, "user", s.user.Address, "err", aerr)
		}
		if err = h.promote(w, r, s); err == nil {
			// Shown, not redirected to, so the codes are in no URL and no history entry.
			h.render(w, http.StatusOK, "signin-recovery", view{Title: "Recovery codes", Data: codeForm{Next: landing(s.user, s.next), Codes: codes}})
		}
	case errors.Is(err, directory.ErrBadCredentials):
		err = h.wrongCode(w, r, s, func(status int, msg string) {
			h.renderEnrol(w, status, view{Title: "Set up two-step verification", CSRF: s.csrf, Errors: map[string]string{"code": msg}}, e)
		}, "Wrong code. Enter the code your app shows now.")
	case errors.Is(err, oauth.ErrExists):
		// Enrolled meanwhile, in another window: sign in with that factor.
		if err = h.endSession(ctx, s.tokenHash); err == nil {
			h.setCookie(w, "", -1)
			redirect(w, r, "/me/signin")
		}
	}
	if err != nil {
		h.log.Error("console enrolment", "user", s.user.Address, "err", err)
		http.Error(w, "internal server error", http.StatusInternalServerError)
	}
}

// verifyPage asks a signed-in user for their second factor again, for what needs a
// recent one (the derived-credential profile download).
func (h *Handler) verifyPage(w http.ResponseWriter, r *http.Request, s *session) {
	h.page(w, s, "signin-code", "Two-step verification", "me", codeForm{Action: pathVerify, Next: r.URL.Query().Get("next")})
}

// verify takes the second factor of a signed-in user and records it in the session.
func (h *Handler) verify(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	next := r.PostFormValue("next")
	_, err := h.cfg.Passwords.SecondFactor(ctx, s.user.ID, strings.TrimSpace(r.PostFormValue("code")), h.cfg.MFA.Verify, source(r))
	switch {
	case err == nil:
		err = h.exec(ctx, `UPDATE web_sessions SET mfa_at = $1 WHERE token_hash = $2`, h.now().UnixMicro(), s.tokenHash)
		if err == nil {
			redirect(w, r, landing(s.user, next))
			return
		}
	case errors.Is(err, directory.ErrBadCredentials):
		h.render(w, http.StatusUnauthorized, "signin-code", view{Title: "Two-step verification", Section: "me", User: s.user, CSRF: s.csrf,
			Errors: map[string]string{"code": "Wrong or used code. Enter the code your app shows now, or one of your recovery codes."},
			Data:   codeForm{Action: pathVerify, Next: next}})
		return
	case errors.Is(err, oauth.ErrNotFound):
		err = fmt.Errorf("%w: you have no second factor; two-step verification is set up at sign-in when your administrator requires it", errBadInput)
	}
	h.fail(w, r, s, err)
}

// proof is what the session proves beyond the password: a second factor within
// profiles.MaxProofAge, as an access token would (docs/profiles.md).
func (h *Handler) proof(s *session) profiles.Proof {
	if !s.mfaAt.IsZero() && h.now().Sub(s.mfaAt) <= profiles.MaxProofAge {
		return profiles.ProofMFA
	}
	return profiles.NoProof
}
