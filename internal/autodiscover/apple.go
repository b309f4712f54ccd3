package autodiscover

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"mailroom/internal/directory"
	"mailroom/internal/mobileconfig"
)

// Apple devices have no autodiscovery for IMAP; they install a configuration profile
// (com.apple.mail.managed) instead. GET /autodiscover/mail.mobileconfig, signed in with
// HTTP Basic, returns the profile of the signed-in user, so it can name their address
// and login without ever holding their password.

// errNoMailService means the server offers no incoming or no outgoing mail service.
var errNoMailService = errors.New("no IMAP or POP3 and submission service offered")

// serveAppleProfile answers GET /autodiscover/mail.mobileconfig?emailaddress=….
func (h *Handler) serveAppleProfile(w http.ResponseWriter, r *http.Request) {
	if r.TLS == nil {
		h.redirectToHTTPS(w, r)
		return
	}
	if !allowMethods(w, r, http.MethodGet, http.MethodHead) {
		return
	}
	u, creds, ok := h.authenticate(w, r)
	if !ok {
		return
	}
	// Without emailaddress the profile is for the signed-in user; with it, the address
	// must be theirs, and is refused like a wrong password otherwise.
	if addr := strings.TrimSpace(queryValue(r, "emailaddress")); addr != "" {
		mine, err := h.owns(r.Context(), u, addr)
		if err != nil {
			h.log.Error("look up address", "address", addr, "err", err)
			http.Error(w, "internal server error", http.StatusInternalServerError)
			return
		}
		if !mine {
			h.log.Info("address not the user's", "remote", r.RemoteAddr, "user", u.Address)
			h.unauthorized(w, creds)
			return
		}
	}
	body, err := h.appleProfile(u)
	if errors.Is(err, errNoMailService) {
		http.Error(w, "this server offers no IMAP or POP3 account", http.StatusNotFound)
		return
	}
	if err != nil {
		h.log.Error("build profile", "user", u.Address, "err", err)
		http.Error(w, "internal server error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/x-apple-aspen-config")
	w.Header().Set("Content-Disposition", `attachment; filename="`+profileFileName(u.Domain)+`"`)
	w.Header().Set("Cache-Control", "no-store")
	w.Write(body)
}

// appleProfile builds the marshalled, and if a signer is configured signed, profile of
// u: one IMAP (or, without IMAP, POP) account with the user's address as login.
func (h *Handler) appleProfile(u directory.User) ([]byte, error) {
	accountType := mobileconfig.IMAP
	in, ok := h.services.IMAP.preferred(true)
	if !ok {
		accountType = mobileconfig.POP
		in, ok = h.services.POP3.preferred(true)
	}
	out, outOK := h.services.Submission.preferred(false)
	if !ok || !outOK {
		return nil, errNoMailService
	}
	// One identifier per user on this server, so a re-download replaces the installed
	// profile (TopLevel.yaml: PayloadIdentifier decides replacement) and the UUIDs
	// derived from it stay the same too.
	id := reverseDNS(h.hostname) + ".mailroom.mail." + strconv.FormatInt(u.ID, 10)
	accountID := id + ".account"
	p := mobileconfig.Profile{
		Identifier:   id,
		UUID:         mobileconfig.DeriveUUID(id, u.Address),
		DisplayName:  "Mail: " + u.Address,
		Description:  "Sets up the mail account " + u.Address + " on " + h.hostname + ". You are asked for the password when you install it.",
		Organization: u.Domain,
		Payloads: []mobileconfig.Payload{mobileconfig.MailPayload{
			Common: mobileconfig.Common{
				Identifier:   accountID,
				UUID:         mobileconfig.DeriveUUID(accountID, u.Address),
				DisplayName:  u.Address,
				Organization: u.Domain,
			},
			AccountType:        accountType,
			AccountDescription: u.Address,
			AccountName:        u.DisplayName,
			EmailAddress:       u.Address,
			// UseSSL on both: Apple Mail then uses implicit TLS or STARTTLS as the port
			// requires, and never sends the password in the clear.
			Incoming: mobileconfig.MailServer{HostName: in.Host, Port: in.Port, UseSSL: true,
				Username: u.Address, Authentication: mobileconfig.AuthPassword},
			Outgoing: mobileconfig.MailServer{HostName: out.Host, Port: out.Port, UseSSL: true,
				Username: u.Address, Authentication: mobileconfig.AuthPassword},
			OutgoingPasswordSameAsIncomingPassword: true,
		}},
	}
	body, err := p.Marshal()
	if err != nil {
		return nil, err
	}
	if h.signer == nil {
		return body, nil
	}
	return h.signer.Sign(body)
}

// reverseDNS turns mail.example.test into test.example.mail, the reverse-DNS form
// payload identifiers take.
func reverseDNS(host string) string {
	labels := strings.Split(strings.Trim(strings.ToLower(host), "."), ".")
	slices.Reverse(labels)
	return strings.Join(labels, ".")
}

// profileFileName names the download after the domain, keeping only characters that
// are safe in a quoted Content-Disposition filename.
func profileFileName(domain string) string {
	clean := strings.Map(func(c rune) rune {
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-' {
			return c
		}
		return -1
	}, domain)
	if clean == "" {
		clean = "mail"
	}
	return clean + ".mobileconfig"
}
