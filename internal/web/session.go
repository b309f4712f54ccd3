package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"mailroom/internal/directory"
)

// cookieName has the __Host- prefix, so browsers accept the cookie only with Secure,
// Path=/ and no Domain: another host under the same domain cannot plant or read it.
const cookieName = "__Host-mailroom-session"

// session is a signed-in user, looked up afresh on every request so that disabling
// the user or taking Admin away takes effect at once.
type session struct {
	tokenHash string
	csrf      string
	user      directory.User
	// mfaAt is when the user last gave their second factor in this session (zero:
	// never; the password alone signed them in).
	mfaAt time.Time
	// stage is where a half sign-in stands (stageCode, stageEnrol), "" once the user
	// is signed in; pendingTOTP (enrolment), failures and next belong to it.
	stage       string
	pendingTOTP string
	failures    int
	next        string
}

// newToken returns a random token of 256 bits in base32.
func newToken() string {
	return rand.Text() + rand.Text()
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// startSession stores a new session for user and returns the cookie value; mfaAt is
// when the user gave their second factor (zero: not at this sign-in). Expired
// sessions of everyone are swept out on the way, so the table does not grow.
func (h *Handler) startSession(ctx context.Context, userID int64, mfaAt time.Time) (token string, err error) {
	var at int64
	if !mfaAt.IsZero() {
		at = mfaAt.UnixMicro()
	}
	return h.insertSession(ctx, session{user: directory.User{ID: userID}}, at, h.cfg.SessionTTL)
}

// insertSession stores s (its user, stage and what belongs to the stage) as a new
// session that lasts ttl, and returns the cookie value.
func (h *Handler) insertSession(ctx context.Context, s session, mfaAt int64, ttl time.Duration) (token string, err error) {
	token, csrf := newToken(), newToken()
	now := h.now()
	err = h.cfg.DB.WriteTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM web_sessions WHERE expires <= $1`, now.UnixMicro()); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO web_sessions (token_hash, user_id, csrf, created, expires, stage, mfa_at, pending_totp, next_path)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			hashToken(token), s.user.ID, csrf, now.UnixMicro(), now.Add(ttl).UnixMicro(), s.stage, mfaAt, s.pendingTOTP, s.next)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("start session: %w", err)
	}
	return token, nil
}

// errNoSession: no cookie, an unknown or expired session, or a user who may no longer
// sign in.
var errNoSession = errors.New("not signed in")

// lookup returns the session of the request's cookie, of a user who is signed in: a
// half sign-in, still waiting for the second factor, is errNoSession here.
func (h *Handler) lookup(r *http.Request) (*session, error) {
	s, err := h.lookupAny(r)
	if err == nil && s.stage != "" {
		return nil, errNoSession
	}
	return s, err
}

// lookupAny returns the session of the request's cookie, signed in or half.
func (h *Handler) lookupAny(r *http.Request) (*session, error) {
	c, err := r.Cookie(cookieName)
	if err != nil || c.Value == "" || len(c.Value) > 100 {
		return nil, errNoSession
	}
	s := &session{tokenHash: hashToken(c.Value)}
	var userID, mfaAt int64
	err = h.cfg.DB.Read().QueryRowContext(r.Context(), `SELECT user_id, csrf, stage, mfa_at, pending_totp, failures, next_path
		FROM web_sessions WHERE token_hash = $1 AND expires > $2`,
		s.tokenHash, h.now().UnixMicro()).Scan(&userID, &s.csrf, &s.stage, &mfaAt, &s.pendingTOTP, &s.failures, &s.next)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNoSession
	}
	if err != nil {
		return nil, fmt.Errorf("look up session: %w", err)
	}
	if mfaAt != 0 {
		s.mfaAt = time.UnixMicro(mfaAt)
	}
	s.user, err = h.cfg.Directory.UserByID(r.Context(), userID)
	if errors.Is(err, directory.ErrNotFound) || (err == nil && (!s.user.Enabled || s.user.Kind != directory.KindUser)) {
		return nil, errors.Join(errNoSession, h.endSession(r.Context(), s.tokenHash))
	}
	if err != nil {
		return nil, fmt.Errorf("session user: %w", err)
	}
	return s, nil
}

func (h *Handler) endSession(ctx context.Context, tokenHash string) error {
	return h.cfg.DB.WriteTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM web_sessions WHERE token_hash = $1`, tokenHash)
		return err
	})
}

func (h *Handler) setCookie(w http.ResponseWriter, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: value, Path: "/", MaxAge: maxAge,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode,
	})
}

// signedIn runs a route for a signed-in user: anonymous visitors are sent to the
// sign-in page (GET) or refused (anything else), users who are not administrators
// get 403 on administrator routes, and every POST must carry the session's CSRF token.
func (h *Handler) signedIn(rt route) http.Handler {
	return h.secure(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := h.lookup(r)
		if err != nil {
			if !errors.Is(err, errNoSession) {
				h.log.Error("console session", "err", err)
				http.Error(w, "internal server error", http.StatusInternalServerError)
				return
			}
			if r.Method == http.MethodGet {
				redirect(w, r, "/me/signin?next="+url.QueryEscape(r.URL.Path))
				return
			}
			http.Error(w, "sign in first", http.StatusForbidden)
			return
		}
		if rt.admin && !s.user.Admin {
			h.log.Warn("console: administrator route refused", "user", s.user.Address, "method", r.Method, "path", r.URL.Path)
			h.render(w, http.StatusForbidden, "error", view{Title: "Forbidden", User: s.user, CSRF: s.csrf,
				Data: "This page is for Mailroom administrators only."})
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			limit := int64(1 << 20)
			if rt.upload {
				// The file and the form's few fields around it.
				limit = h.maxImport() + 1<<20
				if r.ContentLength > limit {
					h.render(w, http.StatusRequestEntityTooLarge, "error", view{Title: "Too large", User: s.user, CSRF: s.csrf,
						Data: fmt.Sprintf("The upload is larger than %d MiB; import the file with `mailroom import` on the server.", h.maxImport()>>20)})
					return
				}
			}
			r.Body = http.MaxBytesReader(w, r.Body, limit)
			if !sameToken(r.PostFormValue("csrf"), s.csrf) {
				h.log.Warn("console: CSRF token missing or wrong", "user", s.user.Address, "path", r.URL.Path)
				h.render(w, http.StatusForbidden, "error", view{Title: "Forbidden", User: s.user, CSRF: s.csrf,
					Data: "The form was not sent from this session's page (CSRF check failed). Reload the page and try again."})
				return
			}
		}
		rt.serve(w, r, s)
	}))
}

func (h *Handler) signInPage(w http.ResponseWriter, r *http.Request) {
	if s, err := h.lookupAny(r); err == nil {
		switch s.stage {
		case "":
			redirect(w, r, landing(s.user, r.URL.Query().Get("next")))
		case stageEnrol:
			redirect(w, r, pathEnrol)
		default:
			redirect(w, r, pathCode)
		}
		return
	}
	h.render(w, http.StatusOK, "signin", view{Title: "Sign in", Form: url.Values{"next": {r.URL.Query().Get("next")}}})
}

func (h *Handler) signIn(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	login, password := strings.TrimSpace(r.PostFormValue("login")), r.PostFormValue("password")
	form := url.Values{"login": {login}, "next": {r.PostFormValue("next")}}
	if login == "" || password == "" {
		h.render(w, http.StatusUnprocessableEntity, "signin", view{Title: "Sign in", Form: form,
			Errors: map[string]string{"login": "Give your e-mail address and password."}})
		return
	}
	u, err := h.cfg.Passwords.CheckPassword(r.Context(), login, password, source(r))
	if err != nil {
		if !errors.Is(err, directory.ErrBadCredentials) && !errors.Is(err, directory.ErrDisabled) {
			h.log.Error("console sign-in", "err", err)
			http.Error(w, "internal server error", http.StatusInternalServerError)
			return
		}
		h.log.Info("console sign-in refused", "remote", r.RemoteAddr)
		h.render(w, http.StatusUnauthorized, "signin", view{Title: "Sign in", Form: form,
			Errors: map[string]string{"login": "Wrong e-mail address or password."}})
		return
	}
	if err := h.afterPassword(w, r, u, r.PostFormValue("next")); err != nil {
		h.log.Error("console sign-in", "err", err)
		http.Error(w, "internal server error", http.StatusInternalServerError)
	}
}

// landing is where a user goes after signing in: the page they asked for if it is
// one of ours, else the console for administrators and the self-service page for
// everyone else. Only local paths are followed, never another site.
func landing(u directory.User, next string) string {
	if (strings.HasPrefix(next, "/me/") || strings.HasPrefix(next, "/admin/")) && !strings.HasPrefix(next, "/me/signin") &&
		!strings.ContainsAny(next, "\\\r\n") && !strings.HasPrefix(next, "//") {
		return next
	}
	if u.Admin {
		return "/admin/"
	}
	return "/me/"
}

func (h *Handler) signOut(w http.ResponseWriter, r *http.Request, s *session) {
	if err := h.endSession(r.Context(), s.tokenHash); err != nil {
		h.fail(w, r, s, err)
		return
	}
	h.setCookie(w, "", -1)
	redirect(w, r, "/me/signin")
}
