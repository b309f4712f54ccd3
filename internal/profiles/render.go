package profiles

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"mailroom/internal/directory"
	"mailroom/internal/mobileconfig"
)

// Payload types Render writes besides the profile itself.
const (
	EASPayloadType    = "com.apple.eas.account"
	PKCS12PayloadType = "com.apple.security.pkcs12"
	SCEPPayloadType   = "com.apple.security.scep"
)

// UserError is a user for whom a profile cannot be made: an attribute the profile
// needs is missing, or the account cannot sign in. It matches ErrUserAttribute.
type UserError struct {
	User    string // the user's address
	Problem string
}

func (e *UserError) Error() string { return "user " + e.User + ": " + e.Problem }

// Is makes every UserError match ErrUserAttribute.
func (e *UserError) Is(target error) bool { return target == ErrUserAttribute }

// Account is what a profile's settings make of one user: the values the device gets.
type Account struct {
	UserName     string
	EmailAddress string
}

// AccountFor works out u's user name and e-mail address under s, as Intune does from
// the directory before delivery, or returns a *UserError naming what u lacks.
func AccountFor(s Settings, u directory.User) (Account, error) {
	fail := func(format string, args ...any) (Account, error) {
		return Account{}, &UserError{User: u.Address, Problem: fmt.Sprintf(format, args...)}
	}
	if u.Kind != directory.KindUser {
		return fail("is a %s, which never signs in; profiles are for users", u.Kind)
	}
	if !u.Enabled {
		return fail("is disabled")
	}
	var a Account
	switch s.UsernameSource {
	case UsernameUPN:
		if a.UserName = u.UPN; a.UserName == "" {
			return fail("has no user principal name, which the username attribute %s needs", UsernameUPN)
		}
	case UsernamePrimarySMTP:
		if a.UserName = u.Address; a.UserName == "" {
			return fail("has no primary SMTP address, which the username attribute %s needs", UsernamePrimarySMTP)
		}
	case UsernameSAM:
		if u.SAM == "" {
			return fail("has no sAMAccountName, which the username attribute %s needs", UsernameSAM)
		}
		var domain string
		switch s.DomainSource {
		case DomainFull:
			if domain = u.Domain; domain == "" {
				return fail("has no domain, which the user domain name source %s needs", DomainFull)
			}
		case DomainNetBIOS:
			if domain = u.NetBIOS; domain == "" {
				return fail("has no NetBIOS domain name, which the user domain name source %s needs", DomainNetBIOS)
			}
		case DomainCustom:
			domain = strings.TrimSpace(s.CustomDomain)
		default:
			return Account{}, &SettingError{Setting: SettingDomainSource, Problem: fmt.Sprintf("%q is not a domain source", s.DomainSource)}
		}
		a.UserName = domain + `\` + u.SAM
	default:
		return Account{}, &SettingError{Setting: SettingUsername, Problem: fmt.Sprintf("%q is not a username attribute", s.UsernameSource)}
	}
	switch s.EmailSource {
	case EmailUPN:
		if a.EmailAddress = u.UPN; a.EmailAddress == "" {
			return fail("has no user principal name, which the e-mail address attribute %s needs", EmailUPN)
		}
	case EmailPrimarySMTP:
		if a.EmailAddress = u.Address; a.EmailAddress == "" {
			return fail("has no primary SMTP address, which the e-mail address attribute %s needs", EmailPrimarySMTP)
		}
	default:
		return Account{}, &SettingError{Setting: SettingEmail, Problem: fmt.Sprintf("%q is not an e-mail address attribute", s.EmailSource)}
	}
	return a, nil
}

// Needs says which identities a profile with s carries: a client-authentication one
// for certificate or derived-credential sign-in, an S/MIME one when signing or
// encryption uses a certificate profile or a derived credential.
func (s Settings) Needs() (client, smime bool) {
	client = s.Auth == AuthCertificate || s.Auth == AuthDerivedCredential
	smime = s.SMIME && (usesSMIMEIdentity(s.SigningCertType) || usesSMIMEIdentity(s.EncryptionCertType))
	return client, smime
}

// usesSMIMEIdentity says whether an S/MIME certificate type puts the user's S/MIME
// identity into the profile.
func usesSMIMEIdentity(t CertType) bool { return t == CertProfile || t == CertDerivedCredential }

// clientBySCEP says whether the device enrols its client certificate by SCEP
// (SourceMailroomSCEP, and every derived credential) instead of receiving it.
func (s Settings) clientBySCEP() bool {
	return s.Auth == AuthDerivedCredential || s.Auth == AuthCertificate && s.ClientCertificate == SourceMailroomSCEP
}

// NeedsProof says whether a profile with s carries a derived credential, which is
// released only to a user who proved a strong credential when asking for it.
func (s Settings) NeedsProof() bool {
	return s.Auth == AuthDerivedCredential ||
		s.SMIME && (s.SigningCertType == CertDerivedCredential || s.EncryptionCertType == CertDerivedCredential)
}

// OAuthEndpoints are the authorization server's URLs a profile with OAuth names
// (OAuthSignInURL, OAuthTokenRequestURL).
type OAuthEndpoints struct {
	SignIn string // the authorization endpoint
	Token  string // the token endpoint
}

// SCEPEnrolment is what a com.apple.security.scep payload tells the device: where to
// enrol and the one-time challenge that proves it may.
type SCEPEnrolment struct {
	URL       string
	Challenge string
}

// Identity is a PKCS #12 identity to put in a profile.
type Identity struct {
	PKCS12   []byte
	Password string // goes into the payload: devices install the file without asking
	Serial   string // the certificate's serial, for the payload's description
}

// RenderInput is everything Render needs; nothing else is consulted.
type RenderInput struct {
	// Hostname is this server's name; identifiers are its reverse-DNS form.
	Hostname string
	Profile  string // the e-mail profile's name
	Version  int
	Settings Settings
	User     directory.User
	// VPNUUID is the VPNUUID of Settings.VPN's per-app VPN; empty without one.
	VPNUUID string
	// Client and SMIME are the identities Settings.Needs asks for; Client is nil
	// when the client certificate comes by SCEP.
	Client, SMIME *Identity
	// SCEP is the enrolment for a client certificate from SourceMailroomSCEP or a
	// derived credential.
	SCEP *SCEPEnrolment
	// OAuth is the authorization server a profile with Settings.OAuth names.
	OAuth *OAuthEndpoints
}

// Render makes the profile for one user: a com.apple.eas.account payload with every
// key docs/profiles.md lists, and a com.apple.security.pkcs12 payload per identity
// the settings need, or a com.apple.security.scep payload for a client certificate
// the device enrols for itself. It is a pure function of in: the same input gives the
// same profile, with UUIDs derived from (profile, version, user).
//
// The profile's identifier is the same for every e-mail profile a user gets from this
// server, so installing a newer version, or another profile after a reassignment,
// replaces the installed one instead of adding a second account.
func Render(in RenderInput) (mobileconfig.Profile, error) {
	s, u := in.Settings, in.User
	acct, err := AccountFor(s, u)
	if err != nil {
		return mobileconfig.Profile{}, err
	}
	if in.Hostname == "" || in.Profile == "" || in.Version < 1 {
		return mobileconfig.Profile{}, fmt.Errorf("render: hostname, profile name and version are required")
	}
	if (s.VPN == "") != (in.VPNUUID == "") {
		return mobileconfig.Profile{}, fmt.Errorf("render %s for %s: VPN profile %q but VPNUUID %q", in.Profile, u.Address, s.VPN, in.VPNUUID)
	}
	id := reverseDNS(in.Hostname) + ".mailroom.email." + strconv.FormatInt(u.ID, 10)
	// The UUIDs change with the profile and its version, so a device sees each
	// version as a new profile, and stay put across downloads of the same one.
	uuid := func(identifier string) string {
		return mobileconfig.DeriveUUID(identifier+"/"+strings.ToLower(in.Profile)+"/v"+strconv.Itoa(in.Version), strconv.FormatInt(u.ID, 10))
	}
	p := mobileconfig.Profile{
		Identifier:   id,
		UUID:         uuid(id),
		DisplayName:  s.AccountName,
		Organization: u.Domain,
		Description: fmt.Sprintf("Sets up the Exchange ActiveSync account %s on %s (e-mail profile %q, version %d).",
			acct.EmailAddress, s.Host, in.Profile, in.Version),
	}
	eas := easPayload{s: s, acct: acct, vpnUUID: in.VPNUUID}
	if s.OAuth {
		if in.OAuth == nil || in.OAuth.SignIn == "" || in.OAuth.Token == "" {
			return mobileconfig.Profile{}, fmt.Errorf("render %s for %s: no OAuth endpoints given", in.Profile, u.Address)
		}
		eas.oauth = *in.OAuth
	}
	eas.Common = mobileconfig.Common{Identifier: id + ".eas", UUID: uuid(id + ".eas"), DisplayName: s.AccountName, Organization: u.Domain}
	needClient, needSMIME := s.Needs()
	if needClient && s.clientBySCEP() {
		if in.SCEP == nil || in.SCEP.URL == "" || in.SCEP.Challenge == "" {
			return mobileconfig.Profile{}, fmt.Errorf("render %s for %s: no SCEP enrolment given", in.Profile, u.Address)
		}
		pid := id + ".client-certificate"
		eas.clientUUID = uuid(pid)
		p.Payloads = append(p.Payloads, SCEPPayload{
			Common: mobileconfig.Common{Identifier: pid, UUID: eas.clientUUID, Organization: u.Domain,
				DisplayName: "sign-in certificate for " + u.Address},
			URL: in.SCEP.URL, Name: in.Hostname, Challenge: in.SCEP.Challenge,
			// The CA names the challenge's user, by primary address, whatever the
			// request says; asking for exactly that keeps the request acceptable.
			CommonName: u.Address,
		})
		needClient = false
	}
	for _, c := range []struct {
		need   bool
		ident  *Identity
		suffix string
		what   string
		uuid   *string
	}{
		{needClient, in.Client, "client-certificate", "sign-in certificate", &eas.clientUUID},
		{needSMIME, in.SMIME, "smime-certificate", "S/MIME certificate", &eas.smimeUUID},
	} {
		if !c.need {
			continue
		}
		if c.ident == nil || len(c.ident.PKCS12) == 0 {
			return mobileconfig.Profile{}, fmt.Errorf("render %s for %s: no %s given", in.Profile, u.Address, c.what)
		}
		pid := id + "." + c.suffix
		*c.uuid = uuid(pid)
		p.Payloads = append(p.Payloads, PKCS12Payload{
			Common: mobileconfig.Common{Identifier: pid, UUID: *c.uuid, Organization: u.Domain,
				DisplayName: fmt.Sprintf("%s for %s", c.what, u.Address),
				Description: "Serial " + c.ident.Serial},
			FileName: safeFileName(u.Address) + "-" + c.suffix + ".p12",
			Data:     c.ident.PKCS12,
			Password: c.ident.Password,
		})
	}
	p.Payloads = append([]mobileconfig.Payload{eas}, p.Payloads...)
	return p, nil
}

// easPayload is the com.apple.eas.account payload of a rendered profile.
type easPayload struct {
	mobileconfig.Common
	s                     Settings
	acct                  Account
	clientUUID, smimeUUID string
	vpnUUID               string
	oauth                 OAuthEndpoints // set when s.OAuth
}

// dataClasses maps "Exchange data to sync" to EnableMail, EnableContacts,
// EnableCalendars, EnableReminders and EnableNotes (intune-to-apple.md).
func dataClasses(d DataToSync) (mail, contacts, calendars, reminders, notes bool, err error) {
	switch d {
	case SyncAll:
		return true, true, true, true, true, nil
	case SyncEmail:
		return true, false, false, false, false, nil
	case SyncCalendar:
		return false, false, true, false, false, nil
	case SyncCalendarContacts:
		return false, true, true, false, false, nil
	case SyncContacts:
		return false, true, false, false, false, nil
	}
	return false, false, false, false, false, &SettingError{Setting: SettingDataToSync, Problem: fmt.Sprintf("%q is not a choice", d)}
}

// mailDays maps "Amount of email to synchronize" to MailNumberOfPastDaysToSync; ok is
// false for DaysUserDefined, which leaves the key out.
func mailDays(d MailDays) (days int, ok bool, err error) {
	switch d {
	case DaysUserDefined:
		return 0, false, nil
	case DaysUnlimited:
		return 0, true, nil // the YAML: "For no limit, use the value '0'"
	case Days1, Days3, Days7, Days14, Days31:
		n, _ := strconv.Atoi(string(d))
		return n, true, nil
	}
	return 0, false, &SettingError{Setting: SettingMailDays, Problem: fmt.Sprintf("%q is not a choice", d)}
}

// PayloadDict implements mobileconfig.Payload with the keys of
// com.apple.eas.account.yaml, as intune-to-apple.md maps the settings to them. It
// never writes Password: the device asks for it, signs in with the certificate, or
// signs in through OAuth.
func (e easPayload) PayloadDict() (map[string]any, error) {
	d, err := e.Common.Dict(EASPayloadType)
	if err != nil {
		return nil, err
	}
	s := e.s
	// Host stays with OAuth: OAuthSignInURL turns auto-discovery off, so the device
	// needs it (com.apple.eas.account.yaml, OAuthSignInURL).
	d["Host"] = s.Host
	d["SSL"] = s.SSL
	if s.OAuth {
		d["OAuth"] = true
		d["OAuthSignInURL"] = e.oauth.SignIn
		d["OAuthTokenRequestURL"] = e.oauth.Token
	}
	d["UserName"] = e.acct.UserName
	d["EmailAddress"] = e.acct.EmailAddress
	if e.clientUUID != "" {
		d["PayloadCertificateUUID"] = e.clientUUID
	}
	mail, contacts, calendars, reminders, notes, err := dataClasses(s.DataToSync)
	if err != nil {
		return nil, err
	}
	for key, on := range map[string]bool{"EnableMail": mail, "EnableContacts": contacts, "EnableCalendars": calendars,
		"EnableReminders": reminders, "EnableNotes": notes} {
		d[key] = on
		d[key+"UserOverridable"] = s.AllowSyncChanges // sic: "Overridable" here, "Overrideable" for S/MIME
	}
	if s.SMIME {
		d["SMIMESigningEnabled"] = s.SigningEnabled
		d["SMIMESigningUserOverrideable"] = s.SigningUserOverride
		d["SMIMESigningCertificateUUIDUserOverrideable"] = s.SigningCertUserOverride
		d["SMIMEEncryptByDefault"] = s.EncryptByDefault
		d["SMIMEEncryptByDefaultUserOverrideable"] = s.EncryptByDefaultOverride
		d["SMIMEEnableEncryptionPerMessageSwitch"] = s.PerMessageSwitch
		d["SMIMEEncryptionCertificateUUIDUserOverrideable"] = s.EncryptionCertUserOverride
		// None and not-configured leave the identity to the user.
		if usesSMIMEIdentity(s.SigningCertType) {
			d["SMIMESigningCertificateUUID"] = e.smimeUUID
		}
		if usesSMIMEIdentity(s.EncryptionCertType) {
			d["SMIMEEncryptionCertificateUUID"] = e.smimeUUID
		}
	}
	days, ok, err := mailDays(s.MailDays)
	if err != nil {
		return nil, err
	}
	if ok {
		d["MailNumberOfPastDaysToSync"] = days
	}
	d["PreventMove"] = !s.AllowMove
	d["PreventAppSheet"] = !s.AllowThirdPartySend
	d["disableMailRecentsSyncing"] = !s.SyncRecents
	if e.vpnUUID != "" {
		d["VPNUUID"] = e.vpnUUID
	}
	return d, nil
}

// PKCS12Payload is a password-protected identity (com.apple.security.pkcs12).
type PKCS12Payload struct {
	mobileconfig.Common
	FileName string // PayloadCertificateFileName
	Data     []byte // the PKCS #12 file
	// Password opens Data. The schema allows leaving it out, but the device would
	// then ask the user for a password they were never told.
	Password string
}

// PayloadDict implements mobileconfig.Payload with the keys of
// com.apple.security.pkcs12.yaml.
func (p PKCS12Payload) PayloadDict() (map[string]any, error) {
	d, err := p.Common.Dict(PKCS12PayloadType)
	if err != nil {
		return nil, err
	}
	if len(p.Data) == 0 {
		return nil, fmt.Errorf("%w: pkcs12 payload %s without PayloadContent", mobileconfig.ErrInvalid, p.Identifier)
	}
	d["PayloadContent"] = p.Data
	if p.FileName != "" {
		d["PayloadCertificateFileName"] = p.FileName
	}
	if p.Password != "" {
		d["Password"] = p.Password
	}
	return d, nil
}

// SCEPPayload asks the device to make an RSA 2048 key and enrol a certificate for it
// by SCEP (com.apple.security.scep).
type SCEPPayload struct {
	mobileconfig.Common
	URL        string // the SCEP endpoint
	Name       string // the CA's name for the server (the schema's Name)
	Challenge  string // the one-time challenge password
	CommonName string // the subject's CN
}

// PayloadDict implements mobileconfig.Payload with the keys of
// com.apple.security.scep.yaml. Key Usage 1 (signing) is what TLS client
// authentication needs of the key.
func (p SCEPPayload) PayloadDict() (map[string]any, error) {
	d, err := p.Common.Dict(SCEPPayloadType)
	if err != nil {
		return nil, err
	}
	if p.URL == "" || p.Challenge == "" {
		return nil, fmt.Errorf("%w: scep payload %s without URL or challenge", mobileconfig.ErrInvalid, p.Identifier)
	}
	d["PayloadContent"] = map[string]any{
		"URL":              p.URL,
		"Name":             p.Name,
		"Challenge":        p.Challenge,
		"Subject":          []any{[]any{[]any{"CN", p.CommonName}}},
		"Keysize":          2048,
		"Key Type":         "RSA",
		"Key Usage":        1,
		"KeyIsExtractable": false,
	}
	return d, nil
}

// reverseDNS turns mail.example.test into test.example.mail, the reverse-DNS form
// payload identifiers take.
func reverseDNS(host string) string {
	labels := strings.Split(strings.Trim(strings.ToLower(host), "."), ".")
	slices.Reverse(labels)
	return strings.Join(labels, ".")
}

// safeFileName keeps the characters of s that are safe in a file name everywhere.
func safeFileName(s string) string {
	return strings.Map(func(c rune) rune {
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.ContainsRune(".-_@", c) {
			return c
		}
		return '_'
	}, s)
}
