package oauth

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"time"

	"github.com/pquerna/otp"
	"github.com/zitadel/oidc/v3/pkg/op"

	"mailroom/internal/auth"
	"mailroom/internal/directory"
)

// The sign-in: a cookie names a short-lived row of oauth_logins that records how far
// the user got (stage) and holds the form's CSRF token (a synchronizer token: every
// POST must carry the row's token). The stages:
//
//	device   (device flow only) the user enters the code their device shows
//	password login name and password
//	mfa      a TOTP or recovery code, for a user with a second factor
//	enrol    TOTP enrolment, for a user who must use MFA and has none
//	recovery the new recovery codes were shown; continue
//	consent  (device flow only) allow or deny the device
const (
	stageDevice   = "device"
	stagePassword = "password"
	stageMFA      = "mfa"
	stageEnrol    = "enrol"
	stageRecovery = "recovery"
	stageConsent  = "consent"
)

// cookieName has the __Host- prefix: the browser keeps it only if it is Secure, for
// this host alone and for the whole path (RFC 6265bis section 4.1.3.2).
const cookieName = "__Host-mailroom-signin"

// maxFailures is how many wrong passwords or codes one sign-in may try before it has
// to start again from the app; auth.Service's lockout limits users across sign-ins.
const maxFailures = 5

type loginState struct {
	idHash, csrf            string
	authRequestID, userCode string
	stage                   string
	userID                  int64
	amr                     []string
	pendingTOTP             string // otpauth:// URI
	failures                int
}

// newLogin starts a sign-in and sets its cookie.
func (s *Server) newLogin(ctx context.Context, w http.ResponseWriter, l loginState) (loginState, error) {
	id := randomToken(32)
	l.idHash, l.csrf = hashSecret(id), randomToken(32)
	now := s.store.now()
	err := s.store.db.WriteTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM oauth_logins WHERE expires < $1`, now.UnixMicro()); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO oauth_logins (id_hash, csrf, auth_request_id, user_code, stage, expires) VALUES ($1, $2, $3, $4, $5, $6)`,
			l.idHash, l.csrf, l.authRequestID, l.userCode, l.stage, now.Add(loginStateTTL).UnixMicro())
		return err
	})
	if err != nil {
		return loginState{}, fmt.Errorf("start sign-in: %w", err)
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: id, Path: "/", MaxAge: int(loginStateTTL / time.Second),
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	return l, nil
}

var errNoLogin = errors.New("no sign-in in progress")

func (s *Server) loadLogin(ctx context.Context, r *http.Request) (loginState, error) {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return loginState{}, errNoLogin
	}
	l := loginState{idHash: hashSecret(c.Value)}
	var amr string
	err = s.store.db.Read().QueryRowContext(ctx, `SELECT csrf, auth_request_id, user_code, stage, user_id, amr, pending_totp, failures
		FROM oauth_logins WHERE id_hash = $1 AND expires > $2`, l.idHash, s.store.micros()).Scan(
		&l.csrf, &l.authRequestID, &l.userCode, &l.stage, &l.userID, &amr, &l.pendingTOTP, &l.failures)
	if errors.Is(err, sql.ErrNoRows) {
		return loginState{}, errNoLogin
	}
	if err != nil {
		return loginState{}, fmt.Errorf("read sign-in: %w", err)
	}
	l.amr = splitList(amr)
	return l, nil
}

func (s *Server) saveLogin(ctx context.Context, l loginState) error {
	return s.store.db.WriteTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE oauth_logins SET user_code = $1, stage = $2, user_id = $3, amr = $4, pending_totp = $5, failures = $6 WHERE id_hash = $7`,
			l.userCode, l.stage, l.userID, joinList(l.amr), l.pendingTOTP, l.failures, l.idHash)
		if err != nil {
			return fmt.Errorf("save sign-in: %w", err)
		}
		return nil
	})
}

func (s *Server) endLogin(ctx context.Context, w http.ResponseWriter, l loginState) error {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	return s.store.db.WriteTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM oauth_logins WHERE id_hash = $1`, l.idHash); err != nil {
			return fmt.Errorf("end sign-in: %w", err)
		}
		return nil
	})
}

// serveLogin starts a sign-in for an authorization request (GET, from op's redirect)
// and takes every form of every stage (POST).
func (s *Server) serveLogin(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		s.startAuthLogin(w, r)
	case http.MethodPost:
		s.continueLogin(w, r)
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func (s *Server) startAuthLogin(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	a, err := (&storage{s}).authRequestWhere(ctx, `id = $1`, r.URL.Query().Get("authRequestID"))
	if err != nil || a.Done() {
		s.message(w, http.StatusBadRequest, "Sign-in", "This sign-in link has expired or was used. Start again from your app.")
		return
	}
	l, err := s.newLogin(ctx, w, loginState{authRequestID: a.id, stage: stagePassword})
	if err != nil {
		s.fail(w, err)
		return
	}
	render(w, s.log, http.StatusOK, passwordPage, page{Title: "Sign in", Client: s.clientName(ctx, l), CSRF: l.csrf})
}

// serveDevice shows the form where a user enters a device's code (RFC 8628 section
// 3.3); verification_uri_complete fills it in.
func (s *Server) serveDevice(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	l, err := s.newLogin(r.Context(), w, loginState{stage: stageDevice})
	if err != nil {
		s.fail(w, err)
		return
	}
	render(w, s.log, http.StatusOK, devicePage, page{Title: "Connect a device", CSRF: l.csrf, UserCode: r.URL.Query().Get("user_code")})
}

func (s *Server) continueLogin(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		s.message(w, http.StatusBadRequest, "Sign-in", "The form could not be read.")
		return
	}
	l, err := s.loadLogin(ctx, r)
	if errors.Is(err, errNoLogin) {
		s.message(w, http.StatusBadRequest, "Sign-in", "This sign-in has expired. Start again from your app.")
		return
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	if subtle.ConstantTimeCompare([]byte(l.csrf), []byte(r.PostFormValue("csrf"))) != 1 {
		s.message(w, http.StatusForbidden, "Sign-in", "The form did not come from this sign-in. Start again from your app.")
		return
	}
	switch l.stage {
	case stageDevice:
		err = s.stepDevice(w, r, l)
	case stagePassword:
		err = s.stepPassword(w, r, l)
	case stageMFA:
		err = s.stepMFA(w, r, l)
	case stageEnrol:
		err = s.stepEnrol(w, r, l)
	case stageRecovery:
		err = s.proceed(w, r, l)
	case stageConsent:
		err = s.stepConsent(w, r, l)
	default:
		err = fmt.Errorf("sign-in at unknown stage %q", l.stage)
	}
	if err != nil {
		s.fail(w, err)
	}
}

func (s *Server) stepDevice(w http.ResponseWriter, r *http.Request, l loginState) error {
	ctx := r.Context()
	p := page{Title: "Connect a device", CSRF: l.csrf, UserCode: r.PostFormValue("user_code")}
	code, err := parseUserCode(p.UserCode)
	if err == nil {
		_, err = s.pendingDevice(ctx, code)
	}
	if err != nil {
		if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrNotFound) {
			return err
		}
		return s.failure(ctx, w, l, devicePage, p, "No device is waiting for this code. Check it, or start again on the device.")
	}
	l.userCode, l.stage = code, stagePassword
	if err := s.saveLogin(ctx, l); err != nil {
		return err
	}
	render(w, s.log, http.StatusOK, passwordPage, page{Title: "Sign in", Client: s.clientName(ctx, l), CSRF: l.csrf})
	return nil
}

func (s *Server) stepPassword(w http.ResponseWriter, r *http.Request, l loginState) error {
	ctx := r.Context()
	login := r.PostFormValue("login")
	p := page{Title: "Sign in", Client: s.clientName(ctx, l), CSRF: l.csrf, Login: login}
	u, err := s.passwords.CheckPassword(ctx, login, r.PostFormValue("password"), sourceFrom(ctx))
	if err != nil {
		if errors.Is(err, directory.ErrDisabled) {
			p.Error = "This account is disabled."
			render(w, s.log, http.StatusForbidden, passwordPage, p)
			return nil
		}
		// Anything else (wrong password, unknown user, a lockout) reads the same, so the
		// page tells nobody which accounts exist.
		s.log.Info("oauth sign-in refused", "login", login, "err", err)
		return s.failure(ctx, w, l, passwordPage, p, "Wrong login name or password.")
	}
	l.userID, l.amr, l.failures = u.ID, []string{amrPassword}, 0
	enrolled, err := s.store.MFAEnabled(ctx, u.ID)
	if err != nil {
		return err
	}
	required, err := s.mfaRequired(ctx, u.ID)
	if err != nil {
		return err
	}
	switch {
	case enrolled:
		l.stage = stageMFA
		if err := s.saveLogin(ctx, l); err != nil {
			return err
		}
		render(w, s.log, http.StatusOK, mfaPage, page{Title: "Two-step verification", Client: p.Client, CSRF: l.csrf})
		return nil
	case required:
		k, err := newTOTPKey("Mailroom "+s.hostname(), u.Address)
		if err != nil {
			return err
		}
		l.stage, l.pendingTOTP = stageEnrol, k.URL()
		if err := s.saveLogin(ctx, l); err != nil {
			return err
		}
		render(w, s.log, http.StatusOK, enrolPage, enrolmentPage(p.Client, l, k, ""))
		return nil
	}
	return s.proceed(w, r, l)
}

func enrolmentPage(client string, l loginState, k *otp.Key, errText string) page {
	return page{Title: "Set up two-step verification", Client: client, CSRF: l.csrf, Error: errText, Secret: k.Secret(), URI: k.URL(), QR: qrCode(k)}
}

func (s *Server) stepMFA(w http.ResponseWriter, r *http.Request, l loginState) error {
	ctx := r.Context()
	p := page{Title: "Two-step verification", Client: s.clientName(ctx, l), CSRF: l.csrf}
	recovery, err := s.store.verifySecondFactor(ctx, l.userID, r.PostFormValue("code"))
	if errors.Is(err, errBadCode) {
		s.record(ctx, auth.Event{Kind: auth.EventSignIn, UserID: l.userID, Method: MethodTOTP, Detail: "wrong second-factor code"})
		return s.failure(ctx, w, l, mfaPage, p, "Wrong or used code. Enter the current code.")
	}
	if err != nil {
		return err
	}
	method := MethodTOTP
	if recovery {
		method = MethodRecovery
	}
	s.record(ctx, auth.Event{Kind: auth.EventSignIn, UserID: l.userID, Success: true, Method: method})
	l.amr = []string{amrPassword, amrOTP, amrMFA}
	return s.proceed(w, r, l)
}

func (s *Server) stepEnrol(w http.ResponseWriter, r *http.Request, l loginState) error {
	ctx := r.Context()
	k, err := otp.NewKeyFromURL(l.pendingTOTP)
	if err != nil {
		return fmt.Errorf("enrolment secret: %w", err)
	}
	client := s.clientName(ctx, l)
	codes, err := s.store.enrolTOTP(ctx, l.userID, k.Secret(), r.PostFormValue("code"))
	if errors.Is(err, errBadCode) {
		return s.failure(ctx, w, l, enrolPage, enrolmentPage(client, l, k, ""), "Wrong code. Enter the code your app shows now.")
	}
	if err != nil {
		return err
	}
	s.record(ctx, auth.Event{Kind: EventMFAEnrol, UserID: l.userID, Success: true, Method: MethodTOTP})
	l.stage, l.pendingTOTP, l.amr = stageRecovery, "", []string{amrPassword, amrOTP, amrMFA}
	if err := s.saveLogin(ctx, l); err != nil {
		return err
	}
	render(w, s.log, http.StatusOK, recoveryPage, page{Title: "Recovery codes", Client: client, CSRF: l.csrf, Codes: codes})
	return nil
}

// proceed finishes a sign-in that passed every factor: an authorization request goes
// back to op, which sends the code to the app; a device grant asks for consent.
func (s *Server) proceed(w http.ResponseWriter, r *http.Request, l loginState) error {
	ctx := r.Context()
	if l.userCode != "" {
		g, err := s.pendingDevice(ctx, l.userCode)
		if errors.Is(err, ErrNotFound) {
			_ = s.endLogin(ctx, w, l)
			s.message(w, http.StatusBadRequest, "Connect a device", "The device stopped waiting. Start again on the device.")
			return nil
		}
		if err != nil {
			return err
		}
		l.stage = stageConsent
		if err := s.saveLogin(ctx, l); err != nil {
			return err
		}
		render(w, s.log, http.StatusOK, consentPage, page{Title: "Connect a device", Client: g.client.Name, CSRF: l.csrf, UserCode: g.userCode, Scopes: g.scopes})
		return nil
	}
	err := s.completeAuthRequest(ctx, l.authRequestID, l.userID, l.amr)
	if errors.Is(err, ErrNotFound) {
		_ = s.endLogin(ctx, w, l)
		s.message(w, http.StatusBadRequest, "Sign-in", "This sign-in has expired. Start again from your app.")
		return nil
	}
	if err != nil {
		return err
	}
	if err := s.endLogin(ctx, w, l); err != nil {
		return err
	}
	callback := op.AuthCallbackURL(s.provider)(op.ContextWithIssuer(ctx, s.issuer), l.authRequestID)
	http.Redirect(w, r, callback, http.StatusSeeOther)
	return nil
}

func (s *Server) stepConsent(w http.ResponseWriter, r *http.Request, l loginState) error {
	ctx := r.Context()
	approve := r.PostFormValue("decision") == "allow"
	err := s.decideDevice(ctx, l.userCode, l.userID, l.amr, approve)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	if err := s.endLogin(ctx, w, l); err != nil {
		return err
	}
	switch {
	case err != nil:
		s.message(w, http.StatusBadRequest, "Connect a device", "The device stopped waiting. Start again on the device.")
	case approve:
		s.message(w, http.StatusOK, "Device connected", "Your device is connected. You can close this window.")
	default:
		s.record(ctx, auth.Event{Kind: auth.EventTokenGrant, UserID: l.userID, Detail: "the user denied device " + l.userCode})
		s.message(w, http.StatusOK, "Device not connected", "You denied the device. You can close this window.")
	}
	return nil
}

// failure counts a wrong answer and shows the form again with errText, or, after
// maxFailures, ends the sign-in.
func (s *Server) failure(ctx context.Context, w http.ResponseWriter, l loginState, t *template.Template, p page, errText string) error {
	l.failures++
	if l.failures >= maxFailures {
		if err := s.endLogin(ctx, w, l); err != nil {
			return err
		}
		s.message(w, http.StatusForbidden, "Sign-in", "Too many wrong attempts. Start again from your app.")
		return nil
	}
	if err := s.saveLogin(ctx, l); err != nil {
		return err
	}
	p.Error = errText
	render(w, s.log, http.StatusUnauthorized, t, p)
	return nil
}

// clientName names the app a sign-in is for.
func (s *Server) clientName(ctx context.Context, l loginState) string {
	var id string
	if l.authRequestID != "" {
		a, err := (&storage{s}).authRequestWhere(ctx, `id = $1`, l.authRequestID)
		if err != nil {
			return ""
		}
		id = a.clientID
	} else if l.userCode != "" {
		g, err := s.pendingDevice(ctx, l.userCode)
		if err != nil {
			return ""
		}
		return g.client.Name
	}
	c, _, err := s.store.client(ctx, id)
	if err != nil {
		return ""
	}
	return c.Name
}

func (s *Server) hostname() string {
	u, err := url.Parse(s.issuer)
	if err != nil {
		return s.issuer
	}
	return u.Hostname()
}

func (s *Server) message(w http.ResponseWriter, status int, title, text string) {
	render(w, s.log, status, messagePage, page{Title: title, Message: text})
}

func (s *Server) fail(w http.ResponseWriter, err error) {
	s.log.Error("oauth sign-in", "err", err)
	s.message(w, http.StatusInternalServerError, "Sign-in", "Something went wrong on the server. Try again later.")
}
