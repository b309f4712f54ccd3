package profiles

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"mailroom/internal/directory"
	"mailroom/internal/pki"
)

// Delivery is a profile made for one user.
type Delivery struct {
	Profile string
	Version int
	User    directory.User
	// Data is the .mobileconfig: CMS-signed if Signed, else the XML plist.
	Data   []byte
	Signed bool
}

// Proof is what the request for a profile proved of the user beyond a password. A
// profile with a derived credential (Settings.NeedsProof) is built only with one.
type Proof string

// Proofs.
const (
	NoProof Proof = ""
	// ProofMFA is a sign-in with a second factor in the last MaxProofAge.
	ProofMFA Proof = "mfa"
	// ProofCertificate is a client certificate of the built-in CA, issued to the
	// user and not revoked, presented in the request's TLS handshake.
	ProofCertificate Proof = "client-certificate"
)

// Build makes the profile that applies to the user userID, as BuildProven does for a
// request that proved nothing beyond a password: a profile with a derived credential
// fails with ErrProofRequired.
func (s *Service) Build(ctx context.Context, userID int64, unsigned bool) (Delivery, error) {
	return s.BuildProven(ctx, userID, unsigned, NoProof)
}

// BuildProven makes the profile that applies to the user userID: resolved from the
// assignments, rendered at the profile's current version with the identities it
// needs (issued by the CA on first use, the same ones afterwards), and signed unless
// unsigned is set or the service has no signer. It fails with ErrNoProfile, a
// *ConflictError or a *UserError rather than deliver a profile that would not work,
// and with ErrProofRequired, before issuing anything, for a profile with a derived
// credential when proof is NoProof.
func (s *Service) BuildProven(ctx context.Context, userID int64, unsigned bool, proof Proof) (Delivery, error) {
	u, err := s.o.Directory.UserByID(ctx, userID)
	if err != nil {
		return Delivery{}, err
	}
	res, err := s.Resolve(ctx, userID)
	if err != nil {
		return Delivery{}, err
	}
	switch {
	case len(res.Conflict) > 0:
		return Delivery{}, &ConflictError{User: u.Address, Profiles: res.Conflict}
	case res.Profile == "":
		return Delivery{}, fmt.Errorf("%w to %s", ErrNoProfile, u.Address)
	}
	p, err := profileByName(ctx, s.db.Read(), res.Profile)
	if err != nil {
		return Delivery{}, err
	}
	// Before any certificate is issued: a user who cannot get the profile gets none.
	if _, err := AccountFor(p.Settings, u); err != nil {
		return Delivery{}, err
	}
	if p.Settings.NeedsProof() && proof == NoProof {
		return Delivery{}, fmt.Errorf("%w: e-mail profile %q carries a derived credential for %s, which is issued only "+
			"to a download signed in with two-step verification in the last %d minutes or made with your Mailroom client certificate",
			ErrProofRequired, p.Name, u.Address, int(MaxProofAge/time.Minute))
	}
	in := RenderInput{Hostname: s.o.Hostname, Profile: p.Name, Version: p.Version, Settings: p.Settings, User: u, OAuth: s.o.OAuth}
	if p.Settings.VPN != "" {
		v, err := s.VPN(ctx, p.Settings.VPN)
		if err != nil {
			return Delivery{}, fmt.Errorf("profile %s: %w", p.Name, err)
		}
		in.VPNUUID = v.VPNUUID
	}
	needClient, needSMIME := p.Settings.Needs()
	if needClient && p.Settings.clientBySCEP() {
		if in.SCEP, err = s.enrolment(ctx, u); err != nil {
			return Delivery{}, err
		}
	} else if in.Client, err = s.identity(ctx, needClient, u, pki.ClientAuth); err != nil {
		return Delivery{}, err
	}
	if in.SMIME, err = s.identity(ctx, needSMIME, u, pki.SMIME); err != nil {
		return Delivery{}, err
	}
	prof, err := Render(in)
	if err != nil {
		return Delivery{}, err
	}
	body, err := prof.Marshal()
	if err != nil {
		return Delivery{}, fmt.Errorf("profile %s for %s: %w", p.Name, u.Address, err)
	}
	d := Delivery{Profile: p.Name, Version: p.Version, User: u, Data: body}
	if unsigned || s.o.Signer == nil {
		return d, nil
	}
	if d.Data, err = s.o.Signer.Sign(body); err != nil {
		return Delivery{}, err
	}
	d.Signed = true
	return d, nil
}

// identity returns u's identity for purpose as a profile carries it, or nil if not
// needed. Each delivery gets a new random PKCS #12 password.
func (s *Service) identity(ctx context.Context, need bool, u directory.User, purpose pki.Purpose) (*Identity, error) {
	if !need {
		return nil, nil
	}
	if s.o.CA == nil {
		return nil, fmt.Errorf("profile for %s needs a %s certificate, and no CA is configured", u.Address, purpose)
	}
	id, err := s.o.CA.Identity(ctx, pki.Subject{UserID: u.ID, Address: u.Address, Name: u.DisplayName}, purpose)
	if err != nil {
		return nil, err
	}
	password := rand.Text()
	data, err := s.o.CA.PKCS12(id, password)
	if err != nil {
		return nil, err
	}
	return &Identity{PKCS12: data, Password: password, Serial: id.Serial}, nil
}

// enrolment makes a one-time SCEP challenge for u: each delivery gets its own.
func (s *Service) enrolment(ctx context.Context, u directory.User) (*SCEPEnrolment, error) {
	if s.o.SCEP == nil || s.o.SCEPURL == "" {
		return nil, fmt.Errorf("profile for %s needs SCEP enrolment, and this server has no SCEP endpoint", u.Address)
	}
	pw, _, err := s.o.SCEP.NewChallenge(ctx, pki.Subject{UserID: u.ID, Address: u.Address, Name: u.DisplayName})
	if err != nil {
		return nil, err
	}
	return &SCEPEnrolment{URL: s.o.SCEPURL, Challenge: pw}, nil
}

// RecordDownload notes that the user downloaded the given version of a profile.
func (s *Service) RecordDownload(ctx context.Context, profile string, version int, userID int64) error {
	now := s.now().UnixMicro()
	err := s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO email_profile_downloads (profile, version, user_id, first_at, last_at, downloads)
			VALUES ($1, $2, $3, $4, $4, 1)
			ON CONFLICT (profile, user_id, version) DO UPDATE SET last_at = excluded.last_at,
				downloads = email_profile_downloads.downloads + 1`,
			strings.ToLower(profile), version, userID, now)
		return err
	})
	if err != nil {
		return fmt.Errorf("record download of %s v%d: %w", profile, version, err)
	}
	return nil
}

// State is a user's state for one profile, as Intune's per-user status shows it.
type State string

// States.
const (
	Succeeded     State = "succeeded"
	Pending       State = "pending"
	Error         State = "error"
	Conflict      State = "conflict"
	NotApplicable State = "not applicable"
)

// UserStatus is one user's state for a profile, with the reason.
type UserStatus struct {
	User   string `json:"user"`
	State  State  `json:"state"`
	Reason string `json:"reason"`
	// Downloaded is the newest version the user downloaded, 0 for none.
	Downloaded int `json:"downloadedVersion,omitempty"`
}

// Status returns every user's state for the named profile, by address. "Delivered"
// means the user downloaded the current version; "succeeded" needs, in addition, a
// device sync under that version's policy after the download, as DeviceReports tells.
func (s *Service) Status(ctx context.Context, name string) ([]UserStatus, error) {
	p, err := profileByName(ctx, s.db.Read(), name)
	if err != nil {
		return nil, err
	}
	key := strings.ToLower(p.Name)
	all, err := s.assignments(ctx)
	if err != nil {
		return nil, err
	}
	names, err := s.profileNames(ctx)
	if err != nil {
		return nil, err
	}
	users, err := s.o.Directory.Users(ctx)
	if err != nil {
		return nil, err
	}
	downloads, err := s.downloads(ctx, key)
	if err != nil {
		return nil, err
	}
	out := []UserStatus{}
	for _, u := range users {
		st := UserStatus{User: u.Address, Downloaded: downloads[u.ID].version}
		if u.Kind != directory.KindUser {
			st.State, st.Reason = NotApplicable, "a shared mailbox, which no device signs in to"
			out = append(out, st)
			continue
		}
		groups, err := s.groupsOf(ctx, u.ID)
		if err != nil {
			return nil, err
		}
		inc, excludedBy := applies(all[key], groups)
		res := resolve(all, names, groups)
		switch {
		case !inc:
			st.State, st.Reason = NotApplicable, "not in a group the profile includes"
		case excludedBy != "":
			st.State, st.Reason = NotApplicable, "excluded by group "+excludedBy
		case len(res.Conflict) > 0:
			st.State, st.Reason = Conflict, "profiles "+strings.Join(res.Conflict, " and ")+" all apply"
		default:
			if _, err := AccountFor(p.Settings, u); err != nil {
				st.State, st.Reason = Error, err.Error()
			} else if err := s.deliveryState(ctx, &st, p, u, downloads[u.ID]); err != nil {
				return nil, err
			}
		}
		out = append(out, st)
	}
	return out, nil
}

type download struct {
	version int
	at      time.Time // last download of that version
}

// downloads returns, per user, the newest version of the profile they downloaded.
func (s *Service) downloads(ctx context.Context, key string) (map[int64]download, error) {
	rows, err := s.db.Read().QueryContext(ctx, `SELECT user_id, version, last_at FROM email_profile_downloads
		WHERE profile = $1 ORDER BY user_id, version`, key)
	if err != nil {
		return nil, fmt.Errorf("read downloads: %w", err)
	}
	defer rows.Close()
	out := make(map[int64]download)
	for rows.Next() {
		var id, at int64
		var v int
		if err := rows.Scan(&id, &v, &at); err != nil {
			return nil, fmt.Errorf("read downloads: %w", err)
		}
		out[id] = download{version: v, at: fromMicros(at)} // ascending: the newest wins
	}
	return out, rows.Err()
}

func (s *Service) deliveryState(ctx context.Context, st *UserStatus, p Profile, u directory.User, d download) error {
	st.State = Pending
	switch {
	case d.version == 0:
		st.Reason = "not downloaded yet"
		return nil
	case d.version != p.Version:
		st.Reason = fmt.Sprintf("has version %d; version %d not downloaded yet", d.version, p.Version)
		return nil
	}
	delivered := "delivered " + d.at.Format(time.RFC3339)
	if s.o.Reports == nil {
		st.Reason = "delivered, no device has synced under it yet"
		return nil
	}
	at, policy, ok, err := s.o.Reports.LastSync(ctx, u.ID)
	if err != nil {
		return fmt.Errorf("last sync of %s: %w", u.Address, err)
	}
	switch {
	case !ok:
		st.Reason = delivered + ", no device has synced under it yet"
	case policy != PolicyVersion(p.Name, p.Version) || at.Before(d.at):
		st.Reason = fmt.Sprintf("%s; last device sync %s was under policy %q", delivered, at.UTC().Format(time.RFC3339), policy)
	default:
		st.State, st.Reason = Succeeded, "device synced "+at.UTC().Format(time.RFC3339)+" under version "+fmt.Sprint(p.Version)
	}
	return nil
}

// Errors Build returns that a download should explain to the user rather than log.
func userFacing(err error) bool {
	return errors.Is(err, ErrNoProfile) || errors.Is(err, ErrConflict) || errors.Is(err, ErrUserAttribute) || errors.Is(err, ErrProofRequired)
}
