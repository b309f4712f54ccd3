package profiles

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// The enumerations below use the same strings in JSON, on the command line and in
// the database, so one spelling is all an administrator meets.

// UsernameSource is the directory attribute the account's user name comes from
// (Intune: "Username attribute from AAD").
type UsernameSource string

// Username sources.
const (
	UsernameUPN         UsernameSource = "upn"
	UsernamePrimarySMTP UsernameSource = "primary-smtp"
	// UsernameSAM gives DOMAIN\sAMAccountName, the domain from DomainSource.
	UsernameSAM UsernameSource = "sam"
)

// DomainSource is where the domain of a DOMAIN\sAMAccountName user name comes from
// (Intune: "User domain name source" and "User domain name attribute from AAD").
type DomainSource string

// Domain sources.
const (
	DomainFull    DomainSource = "full-domain" // the user's domain, contoso.com
	DomainNetBIOS DomainSource = "netbios"     // the domain's NetBIOS name, CONTOSO
	DomainCustom  DomainSource = "custom"      // Settings.CustomDomain
)

// EmailSource is the attribute the account's e-mail address comes from (Intune:
// "Email address attribute from AAD").
type EmailSource string

// E-mail address sources.
const (
	EmailUPN         EmailSource = "upn"
	EmailPrimarySMTP EmailSource = "primary-smtp"
)

// AuthMethod is how the device signs in to ActiveSync (Intune: "Authentication
// method").
type AuthMethod string

// Authentication methods.
const (
	AuthCertificate AuthMethod = "certificate"
	AuthPassword    AuthMethod = "username-password"
	// AuthDerivedCredential signs in with a derived credential: Mailroom, as its own
	// issuer, has the device enrol a sign-in certificate by SCEP, and releases the
	// challenge only to a download that proved a second factor or an existing
	// certificate (docs/profiles.md, "Derived credentials").
	AuthDerivedCredential AuthMethod = "derived-credential"
)

// CertSource is where a certificate comes from (Intune: the PKCS or SCEP certificate
// profile a setting selects).
type CertSource string

// Certificate sources.
const (
	// SourceMailroomCA is Mailroom's built-in CA (internal/pki): the profile carries
	// a PKCS #12 identity issued for the user.
	SourceMailroomCA CertSource = "mailroom-ca"
	// SourceMailroomSCEP is the built-in CA by SCEP (internal/scep): the profile
	// carries a com.apple.security.scep payload with a one-time challenge, and the
	// device makes its own key, which never leaves it. For the client certificate
	// only: an S/MIME key must be kept by the CA, so that every device of the user
	// and every later download can decrypt mail encrypted to it.
	SourceMailroomSCEP CertSource = "mailroom-scep"
)

// DataToSync chooses the Exchange services the device syncs (Intune: "Exchange data
// to sync").
type DataToSync string

// Data to sync.
const (
	SyncAll              DataToSync = "all"
	SyncEmail            DataToSync = "email"
	SyncCalendar         DataToSync = "calendar"
	SyncCalendarContacts DataToSync = "calendar-contacts"
	SyncContacts         DataToSync = "contacts"
)

// CertType is an S/MIME signing or encryption certificate type (Intune: "Signing
// certificate type", "Encryption certificate type").
type CertType string

// S/MIME certificate types.
const (
	CertNotConfigured CertType = "not-configured"
	CertNone          CertType = "none" // the user picks an identity
	// CertDerivedCredential is the user's S/MIME identity from the CA, released only
	// to a download that proved a second factor or an existing certificate.
	CertDerivedCredential CertType = "derived-credential"
	CertProfile           CertType = "certificate" // from a CertSource
)

// MailDays is how much mail the device keeps (Intune: "Amount of email to
// synchronize"); the values are MailNumberOfPastDaysToSync's, except that
// DaysUserDefined leaves the key out and DaysUnlimited is 0.
type MailDays string

// Mail windows.
const (
	DaysUserDefined MailDays = "user-defined"
	Days1           MailDays = "1"
	Days3           MailDays = "3"
	Days7           MailDays = "7"
	Days14          MailDays = "14"
	Days31          MailDays = "31"
	DaysUnlimited   MailDays = "unlimited"
)

// Settings are one version of an iOS/iPadOS e-mail profile: every setting of Intune's
// "Email settings for iOS and iPadOS devices". docs/profiles.md gives the Apple keys
// each one sets.
type Settings struct {
	// Host is the ActiveSync server's host name ("Email server").
	Host string `json:"host"`
	// AccountName is the account's name on the device ("Account name").
	AccountName string `json:"accountName"`

	UsernameSource UsernameSource `json:"usernameSource"`
	// DomainSource and CustomDomain apply only when UsernameSource is UsernameSAM.
	DomainSource DomainSource `json:"userDomainSource,omitempty"`
	CustomDomain string       `json:"customDomain,omitempty"`
	EmailSource  EmailSource  `json:"emailAddressSource"`

	Auth AuthMethod `json:"authenticationMethod"`
	// ClientCertificate is where the identity for AuthCertificate comes from.
	ClientCertificate CertSource `json:"clientCertificate,omitempty"`
	SSL               bool       `json:"ssl"`
	OAuth             bool       `json:"oauth"`

	DataToSync DataToSync `json:"dataToSync"`
	// AllowSyncChanges lets the user turn each service on or off ("Allow users to
	// change sync settings").
	AllowSyncChanges bool `json:"allowSyncChanges"`

	// SMIME switches the S/MIME settings below on; off, they must stay at their
	// defaults (false, CertNotConfigured, no source).
	SMIME                      bool       `json:"smime"`
	SigningEnabled             bool       `json:"smimeSigning"`
	SigningUserOverride        bool       `json:"smimeSigningUserOverride"`
	SigningCertType            CertType   `json:"smimeSigningCertificateType"`
	SigningCertificate         CertSource `json:"smimeSigningCertificate,omitempty"`
	SigningCertUserOverride    bool       `json:"smimeSigningCertificateUserOverride"`
	EncryptByDefault           bool       `json:"smimeEncryptByDefault"`
	EncryptByDefaultOverride   bool       `json:"smimeEncryptByDefaultUserOverride"`
	PerMessageSwitch           bool       `json:"smimePerMessageSwitch"`
	EncryptionCertType         CertType   `json:"smimeEncryptionCertificateType"`
	EncryptionCertificate      CertSource `json:"smimeEncryptionCertificate,omitempty"`
	EncryptionCertUserOverride bool       `json:"smimeEncryptionCertificateUserOverride"`

	MailDays MailDays `json:"mailDays"`
	// AllowMove, AllowThirdPartySend and SyncRecents are on by default; Apple's keys
	// say the opposite (PreventMove, PreventAppSheet, disableMailRecentsSyncing).
	AllowMove           bool `json:"allowMoveMessages"`
	AllowThirdPartySend bool `json:"allowThirdPartySend"`
	SyncRecents         bool `json:"syncRecentAddresses"`

	// VPN names a per-app VPN registered with AddVPN; empty for none.
	VPN string `json:"vpnProfile,omitempty"`
}

// DefaultSettings returns Intune's defaults. Host and AccountName have none and must
// be set.
func DefaultSettings() Settings {
	return Settings{
		UsernameSource:      UsernameUPN,
		EmailSource:         EmailUPN,
		Auth:                AuthPassword,
		SSL:                 true,
		DataToSync:          SyncAll,
		AllowSyncChanges:    true,
		SigningCertType:     CertNotConfigured,
		EncryptionCertType:  CertNotConfigured,
		MailDays:            DaysUserDefined,
		AllowMove:           true,
		AllowThirdPartySend: true,
		SyncRecents:         true,
	}
}

// Config is what the server offers that validation depends on.
type Config struct {
	// OAuth says the server has an authorization server whose tokens ActiveSync
	// accepts. Without it profiles with OAuth are refused: devices would show a
	// sign-in that cannot succeed.
	OAuth bool
	// DerivedCredentials says the server can issue derived credentials: SCEP
	// enrolment and a way for users to prove a second factor (docs/profiles.md).
	DerivedCredentials bool
}

// Names of the settings, as errors and documentation give them: the Intune name and
// the JSON field.
const (
	SettingHost             = "Email server (host)"
	SettingAccountName      = "Account name (accountName)"
	SettingUsername         = "Username attribute (usernameSource)"
	SettingDomainSource     = "User domain name source (userDomainSource)"
	SettingCustomDomain     = "Custom domain name (customDomain)"
	SettingEmail            = "Email address attribute (emailAddressSource)"
	SettingAuth             = "Authentication method (authenticationMethod)"
	SettingClientCert       = "Client certificate (clientCertificate)"
	SettingOAuth            = "OAuth (oauth)"
	SettingDataToSync       = "Exchange data to sync (dataToSync)"
	SettingSMIME            = "S/MIME (smime)"
	SettingSigningCertType  = "S/MIME signing certificate type (smimeSigningCertificateType)"
	SettingSigningCert      = "S/MIME signing certificate (smimeSigningCertificate)"
	SettingEncryptCertType  = "S/MIME encryption certificate type (smimeEncryptionCertificateType)"
	SettingEncryptCert      = "S/MIME encryption certificate (smimeEncryptionCertificate)"
	SettingMailDays         = "Amount of email to synchronize (mailDays)"
	SettingVPN              = "VPN profile for per-account VPN (vpnProfile)"
	settingSigningOn        = "S/MIME signing enabled (smimeSigning)"
	settingSigningOverride  = "S/MIME signing: allow user to change (smimeSigningUserOverride)"
	settingSigningCertOver  = "S/MIME signing certificate: allow user to change (smimeSigningCertificateUserOverride)"
	settingEncryptDefault   = "S/MIME encrypt by default (smimeEncryptByDefault)"
	settingEncryptOverride  = "S/MIME encrypt by default: allow user to change (smimeEncryptByDefaultUserOverride)"
	settingPerMessage       = "S/MIME force per-message encryption (smimePerMessageSwitch)"
	settingEncryptCertOverr = "S/MIME encryption certificate: allow user to change (smimeEncryptionCertificateUserOverride)"
)

// SettingError is one setting that cannot work as given. Validate joins one per
// problem.
type SettingError struct {
	Setting string // one of the Setting… names
	Problem string
}

func (e *SettingError) Error() string { return e.Setting + ": " + e.Problem }

// Is makes every SettingError match ErrInvalid.
func (e *SettingError) Is(target error) bool { return target == ErrInvalid }

// Validate reports every setting that cannot work, each as a *SettingError, joined.
// It checks the settings alone; whether the VPN profile exists is checked by the
// Service that stores them.
func (s Settings) Validate(cfg Config) error {
	var errs []error
	bad := func(setting, format string, args ...any) {
		errs = append(errs, &SettingError{Setting: setting, Problem: fmt.Sprintf(format, args...)})
	}
	switch h := s.Host; {
	case strings.TrimSpace(h) == "":
		bad(SettingHost, "is empty; give the host name of the ActiveSync server, e.g. mail.example.com")
	case strings.Contains(h, "://") || strings.ContainsAny(h, "/ \t\r\n@"):
		bad(SettingHost, "%q is not a host name: give only the name (no scheme, path or spaces)", h)
	}
	if strings.TrimSpace(s.AccountName) == "" {
		bad(SettingAccountName, "is empty; it is the account's name on the device")
	}
	switch s.UsernameSource {
	case UsernameUPN, UsernamePrimarySMTP:
		if s.DomainSource != "" || s.CustomDomain != "" {
			bad(SettingDomainSource, "applies only when the username attribute is %s", UsernameSAM)
		}
	case UsernameSAM:
		switch s.DomainSource {
		case DomainFull, DomainNetBIOS:
			if s.CustomDomain != "" {
				bad(SettingCustomDomain, "is set but the user domain name source is %s, not %s", s.DomainSource, DomainCustom)
			}
		case DomainCustom:
			if d := strings.TrimSpace(s.CustomDomain); d == "" {
				bad(SettingCustomDomain, "is empty; the user domain name source %s needs one, e.g. contoso.com or CONTOSO", DomainCustom)
			} else if strings.ContainsAny(d, `\@ /`) {
				bad(SettingCustomDomain, "%q is not a domain name", d)
			}
		case "":
			bad(SettingDomainSource, "is missing: a sAMAccountName user name needs a domain (%s, %s or %s)", DomainFull, DomainNetBIOS, DomainCustom)
		default:
			bad(SettingDomainSource, "%q is not one of %s, %s, %s", s.DomainSource, DomainFull, DomainNetBIOS, DomainCustom)
		}
	default:
		bad(SettingUsername, "%q is not one of %s, %s, %s", s.UsernameSource, UsernameUPN, UsernamePrimarySMTP, UsernameSAM)
	}
	if s.EmailSource != EmailUPN && s.EmailSource != EmailPrimarySMTP {
		bad(SettingEmail, "%q is not one of %s, %s", s.EmailSource, EmailUPN, EmailPrimarySMTP)
	}
	switch s.Auth {
	case AuthPassword:
		if s.ClientCertificate != "" {
			bad(SettingClientCert, "is set but the authentication method is %s", AuthPassword)
		}
	case AuthCertificate:
		checkSource(bad, SettingClientCert, s.ClientCertificate, "the authentication method "+string(AuthCertificate),
			SourceMailroomCA, SourceMailroomSCEP)
	case AuthDerivedCredential:
		if s.ClientCertificate != "" {
			bad(SettingClientCert, "is set but the authentication method is %s, whose certificate the device enrols by SCEP", AuthDerivedCredential)
		}
		if !cfg.DerivedCredentials {
			bad(SettingAuth, "%s needs SCEP enrolment and two-step verification, and this server offers neither; use %s or %s",
				AuthDerivedCredential, AuthCertificate, AuthPassword)
		}
	default:
		bad(SettingAuth, "%q is not one of %s, %s, %s", s.Auth, AuthCertificate, AuthPassword, AuthDerivedCredential)
	}
	switch {
	case !s.OAuth:
	case !cfg.OAuth:
		bad(SettingOAuth, "this server does not accept OAuth for ActiveSync; devices would show a sign-in that cannot succeed")
	case s.Auth == AuthCertificate || s.Auth == AuthDerivedCredential:
		// Intune pairs OAuth with a certificate only for an OAuth server that signs
		// users in by certificate; Mailroom's sign-in page asks for the password.
		bad(SettingOAuth, "needs the authentication method %s: this server's OAuth sign-in page asks for the password, not a certificate", AuthPassword)
	}
	switch s.DataToSync {
	case SyncAll, SyncEmail, SyncCalendar, SyncCalendarContacts, SyncContacts:
	default:
		bad(SettingDataToSync, "%q is not one of %s, %s, %s, %s, %s", s.DataToSync, SyncAll, SyncEmail, SyncCalendar, SyncCalendarContacts, SyncContacts)
	}
	s.validateSMIME(cfg, bad)
	switch s.MailDays {
	case DaysUserDefined, Days1, Days3, Days7, Days14, Days31, DaysUnlimited:
	default:
		bad(SettingMailDays, "%q is not one of %s, %s, %s, %s, %s, %s, %s", s.MailDays, DaysUserDefined, Days1, Days3, Days7, Days14, Days31, DaysUnlimited)
	}
	if s.VPN != strings.TrimSpace(s.VPN) {
		bad(SettingVPN, "%q has leading or trailing spaces", s.VPN)
	}
	return errors.Join(errs...)
}

func (s Settings) validateSMIME(cfg Config, bad func(setting, format string, args ...any)) {
	if !s.SMIME {
		// With S/MIME off nothing below reaches the device; a value set anyway would
		// silently do nothing, so say so.
		for _, f := range []struct {
			on   bool
			name string
		}{
			{s.SigningEnabled, settingSigningOn}, {s.SigningUserOverride, settingSigningOverride},
			{s.SigningCertType != CertNotConfigured && s.SigningCertType != "", SettingSigningCertType}, {s.SigningCertificate != "", SettingSigningCert},
			{s.SigningCertUserOverride, settingSigningCertOver}, {s.EncryptByDefault, settingEncryptDefault},
			{s.EncryptByDefaultOverride, settingEncryptOverride}, {s.PerMessageSwitch, settingPerMessage},
			{s.EncryptionCertType != CertNotConfigured && s.EncryptionCertType != "", SettingEncryptCertType}, {s.EncryptionCertificate != "", SettingEncryptCert},
			{s.EncryptionCertUserOverride, settingEncryptCertOverr},
		} {
			if f.on {
				bad(f.name, "is set but S/MIME is disabled; enable S/MIME (smime) or leave it at its default")
			}
		}
		return
	}
	for _, c := range []struct {
		typ                CertType
		typeName, certName string
		source             CertSource
	}{
		{s.SigningCertType, SettingSigningCertType, SettingSigningCert, s.SigningCertificate},
		{s.EncryptionCertType, SettingEncryptCertType, SettingEncryptCert, s.EncryptionCertificate},
	} {
		switch c.typ {
		case CertNotConfigured, CertNone, "":
			if c.source != "" {
				bad(c.certName, "is set but the certificate type is %s, not %s", c.typ, CertProfile)
			}
		case CertProfile:
			checkSource(bad, c.certName, c.source, "the certificate type "+string(CertProfile), SourceMailroomCA)
		case CertDerivedCredential:
			if c.source != "" {
				bad(c.certName, "is set but the certificate type is %s, which uses the user's S/MIME identity from the CA", CertDerivedCredential)
			}
			if !cfg.DerivedCredentials {
				bad(c.typeName, "%s needs two-step verification, which this server does not offer; use %s, %s or %s",
					CertDerivedCredential, CertProfile, CertNone, CertNotConfigured)
			}
		default:
			bad(c.typeName, "%q is not one of %s, %s, %s, %s", c.typ, CertNotConfigured, CertNone, CertDerivedCredential, CertProfile)
		}
	}
}

func checkSource(bad func(setting, format string, args ...any), setting string, src CertSource, need string, allowed ...CertSource) {
	names := make([]string, len(allowed))
	for i, a := range allowed {
		names[i] = string(a)
	}
	switch {
	case slices.Contains(allowed, src):
	case src == "":
		bad(setting, "is missing: %s needs a certificate source (%s)", need, strings.Join(names, " or "))
	case src == SourceMailroomSCEP:
		bad(setting, "%s is for the sign-in certificate only: an S/MIME key must stay with the CA; use %s", src, SourceMailroomCA)
	default:
		bad(setting, "%q is not a certificate source (use %s)", src, strings.Join(names, " or "))
	}
}
