package server

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"fmt"

	"mailroom/internal/activesync"
	"mailroom/internal/config"
	"mailroom/internal/instance"
	"mailroom/internal/mobileconfig"
	"mailroom/internal/oauth"
	"mailroom/internal/pki"
	"mailroom/internal/profiles"
	"mailroom/internal/scep"
)

// Profiles opens the built-in certificate authority (made on first use) and the device
// profile service, which signs with the server's default certificate and learns from
// the ActiveSync device records which policy each user's devices synced under. The
// server's download page and the profile administration commands share it.
func Profiles(ctx context.Context, in *instance.Instance) (*profiles.Service, *pki.CA, error) {
	ca, err := openCA(ctx, in)
	if err != nil {
		return nil, nil, err
	}
	challenges, err := scep.OpenChallenges(ctx, in.DB, 0, nil)
	if err != nil {
		return nil, nil, err
	}
	signer, err := ProfileSigner(in)
	if err != nil {
		return nil, nil, err
	}
	reports, err := activesync.NewSyncReports(ctx, in.DB)
	if err != nil {
		return nil, nil, err
	}
	signIn, token := oauth.Endpoints(Issuer(in.Config))
	svc, err := profiles.New(ctx, in.DB, profiles.Options{
		Config:   ProfileConfig(in.Config),
		Hostname: in.Config.Hostname, Directory: in.Directory, CA: ca, Signer: signer, Reports: reports,
		SCEP: challenges, SCEPURL: Enrolment(in.Config).SCEP,
		OAuth: &profiles.OAuthEndpoints{SignIn: signIn, Token: token},
	})
	if err != nil {
		return nil, nil, err
	}
	return svc, ca, nil
}

// ProfileConfig is what the server offers profiles: OAuth always (the authorization
// server is always wired, and every mail protocol takes its tokens), derived
// credentials when there is a SCEP endpoint (HTTPS) to enrol them; the second factor
// they need comes from the OAuth sign-in.
func ProfileConfig(c config.Config) profiles.Config {
	return profiles.Config{OAuth: true, DerivedCredentials: Enrolment(c).SCEP != ""}
}

// ProfileSigner loads the default TLS certificate, which signs Apple profiles.
func ProfileSigner(in *instance.Instance) (*mobileconfig.Signer, error) {
	pair := in.Config.CertPairs()[0]
	kp, err := tls.LoadX509KeyPair(pair.Cert, pair.Key)
	if err != nil {
		return nil, fmt.Errorf("certificate that signs profiles: %w", err)
	}
	var chain []*x509.Certificate
	for _, der := range kp.Certificate {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("certificate %s: %w", pair.Cert, err)
		}
		chain = append(chain, c)
	}
	key, ok := kp.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("key %s cannot sign", pair.Key)
	}
	return &mobileconfig.Signer{Cert: chain[0], Key: key, Chain: chain[1:]}, nil
}

// profilePolicies tells ActiveSync what the e-mail profile that applies to a user
// requires of the user's devices (docs/profiles.md, "What the server enforces"). A
// user with no profile, or with conflicting ones (which no device gets until the
// administrator resolves them), has no profile constraints.
type profilePolicies struct{ svc *profiles.Service }

func (p profilePolicies) ProfilePolicy(ctx context.Context, userID int64) (activesync.Enforced, error) {
	res, err := p.svc.Resolve(ctx, userID)
	if err != nil {
		return activesync.Enforced{}, err
	}
	if res.Profile == "" {
		return activesync.Enforced{}, nil
	}
	prof, err := p.svc.Profile(ctx, res.Profile)
	if err != nil {
		return activesync.Enforced{}, err
	}
	return enforcedBy(prof), nil
}

// enforcedBy maps a profile's settings to what ActiveSync enforces.
func enforcedBy(p profiles.Profile) activesync.Enforced {
	st := p.Settings
	e := activesync.Enforced{PolicyVersion: profiles.PolicyVersion(p.Name, p.Version)}
	// The classes follow the Enable… keys the profile sets (intune-to-apple.md):
	// reminders are ActiveSync's Tasks.
	switch st.DataToSync {
	case profiles.SyncEmail:
		e.Classes = activesync.ClassSet(activesync.ClassEmail)
	case profiles.SyncCalendar:
		e.Classes = activesync.ClassSet(activesync.ClassCalendar)
	case profiles.SyncCalendarContacts:
		e.Classes = activesync.ClassSet(activesync.ClassCalendar | activesync.ClassContacts)
	case profiles.SyncContacts:
		e.Classes = activesync.ClassSet(activesync.ClassContacts)
	}
	// MailNumberOfPastDaysToSync 1, 3, 7, 14, 31 are exactly the FilterType windows
	// 1–5 ([MS-ASCMD] 2.2.3.73.2); user-defined and unlimited leave mail unlimited.
	switch st.MailDays {
	case profiles.Days1:
		e.MaxEmailAgeFilter = 1
	case profiles.Days3:
		e.MaxEmailAgeFilter = 2
	case profiles.Days7:
		e.MaxEmailAgeFilter = 3
	case profiles.Days14:
		e.MaxEmailAgeFilter = 4
	case profiles.Days31:
		e.MaxEmailAgeFilter = 5
	}
	// Required means the profile turns it on and the user may not turn it off:
	// signing on without override; encryption by default without override and
	// without the per-message switch, which lets the user opt out per message.
	e.RequireSignedSMIME = st.SMIME && st.SigningEnabled && !st.SigningUserOverride
	e.RequireEncryptedSMIME = st.SMIME && st.EncryptByDefault && !st.EncryptByDefaultOverride && !st.PerMessageSwitch
	return e
}
