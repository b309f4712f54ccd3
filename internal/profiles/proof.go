package profiles

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"mailroom/internal/auth"
	"mailroom/internal/directory"
	"mailroom/internal/httpauth"
	"mailroom/internal/oauth"
	"mailroom/internal/pki"
)

// MaxProofAge is how long ago a second factor may have been used for a download to
// receive a derived credential: the user must have just proved it, as an issuer of
// derived credentials asks (NIST SP 800-157).
const MaxProofAge = 15 * time.Minute

// TokenFactors tells how the user behind an OAuth access token signed in;
// *oauth.Verifier has it.
type TokenFactors interface {
	SignInFactors(ctx context.Context, token string) (oauth.Factors, error)
}

// ClientCertificates checks a client certificate of the built-in CA and returns the
// address it was issued to; *pki.CA has it.
type ClientCertificates interface {
	VerifyClient(ctx context.Context, cert *x509.Certificate) (string, error)
}

// Proofs are what the download accepts as proof of a strong credential, needed for
// profiles with a derived credential. A nil field accepts no proof of its kind.
type Proofs struct {
	Tokens       TokenFactors
	Certificates ClientCertificates
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// WithProofs sets what the download accepts as proof of a strong credential and
// returns h. Call it before Register; without it no download proves one, and
// profiles with a derived credential are refused.
func (h *Handler) WithProofs(p Proofs) *Handler {
	if p.Now == nil {
		p.Now = time.Now
	}
	h.proofs = p
	return h
}

// proof returns what r proves of u beyond the sign-in: a client certificate of the
// CA issued to u, or an access token (creds) from a sign-in of u with a second factor
// in the last MaxProofAge. An error means it could not be told.
func (h *Handler) proof(r *http.Request, u directory.User, creds httpauth.Credentials) (Proof, error) {
	ctx := r.Context()
	if c := h.proofs.Certificates; c != nil && r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		addr, err := c.VerifyClient(ctx, r.TLS.PeerCertificates[0])
		switch {
		case err == nil && strings.EqualFold(addr, u.Address):
			return ProofCertificate, nil
		case err == nil:
			h.log.Info("client certificate of another user at profile download", "user", u.Address, "certificate", addr)
		case errors.Is(err, pki.ErrUntrusted) || errors.Is(err, pki.ErrRevoked):
			h.log.Info("client certificate refused at profile download", "user", u.Address, "err", err)
		default:
			return NoProof, fmt.Errorf("check client certificate of %s: %w", u.Address, err)
		}
	}
	if t := h.proofs.Tokens; t != nil && creds.Scheme == httpauth.Bearer {
		f, err := t.SignInFactors(ctx, creds.Token)
		if errors.Is(err, auth.ErrBadToken) {
			return NoProof, nil // the sign-in with it succeeded a moment ago: revoked since
		}
		if err != nil {
			return NoProof, fmt.Errorf("sign-in factors of %s: %w", u.Address, err)
		}
		if f.UserID == u.ID && f.MFA() && h.proofs.Now().Sub(f.AuthTime) <= MaxProofAge {
			return ProofMFA, nil
		}
	}
	return NoProof, nil
}

// stepUp answers a download that needs a stronger sign-in: 401 with RFC 9470's
// Bearer challenge (section 3, insufficient_user_authentication, max_age in seconds)
// and, in plain text, how to get the profile. No Basic challenge: a password again
// would not help.
func stepUp(w http.ResponseWriter, err error) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="Mailroom", error="insufficient_user_authentication", `+
		`error_description="A recent sign-in with two-step verification is required", max_age="`+strconv.Itoa(int(MaxProofAge/time.Second))+`"`)
	http.Error(w, err.Error()+".\n\nTo download it, either:\n"+
		"- sign in with two-step verification (ask your administrator to turn it on if you have none) through this server's OAuth "+
		"sign-in (client mailroom-mail, /oauth/authorize or /oauth/device), and download within "+
		strconv.Itoa(int(MaxProofAge/time.Minute))+" minutes with the access token (Authorization: Bearer); or\n"+
		"- download on a device that holds your Mailroom sign-in certificate, which it presents when asked.", http.StatusUnauthorized)
}
