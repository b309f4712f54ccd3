package mobileconfig

import "fmt"

// MailPayloadType is the PayloadType of an IMAP or POP account (com.apple.mail.managed.yaml).
const MailPayloadType = "com.apple.mail.managed"

// AccountType is the EmailAccountType of a mail payload.
type AccountType string

// The account types com.apple.mail.managed.yaml allows.
const (
	IMAP AccountType = "EmailTypeIMAP"
	POP  AccountType = "EmailTypePOP"
)

// AuthType is an IncomingMailServerAuthentication or OutgoingMailServerAuthentication
// value.
type AuthType string

// The authentication schemes com.apple.mail.managed.yaml allows. Mailroom's servers
// take the password over TLS, which is AuthPassword.
const (
	AuthNone     AuthType = "EmailAuthNone"
	AuthPassword AuthType = "EmailAuthPassword"
	AuthCRAMMD5  AuthType = "EmailAuthCRAMMD5"
	AuthNTLM     AuthType = "EmailAuthNTLM"
	AuthHTTPMD5  AuthType = "EmailAuthHTTPMD5"
)

// MailServer is the incoming or outgoing half of a mail payload.
type MailServer struct {
	HostName string
	// Port 0 leaves the key out: the device then uses the protocol's default port
	// (for outgoing mail it tries 25, 587 and 465).
	Port int
	// UseSSL turns TLS on. Apple Mail uses implicit TLS or STARTTLS as the port
	// requires, so it is true for 993/995/465 and for 143/110/587 alike.
	UseSSL bool
	// Username empty makes the device ask for it during installation.
	Username       string
	Authentication AuthType
}

// MailPayload is an IMAP or POP e-mail account (com.apple.mail.managed). It has no
// password fields: Apple allows them only in encrypted profiles, and the device asks
// for the password when the profile is installed.
type MailPayload struct {
	Common
	AccountType AccountType
	// AccountDescription is the account's name in Mail and Settings
	// (EmailAccountDescription).
	AccountDescription string
	// AccountName is the sender's full name in sent messages (EmailAccountName).
	AccountName string
	// EmailAddress empty makes the device ask for it during installation.
	EmailAddress string
	Incoming     MailServer
	Outgoing     MailServer
	// OutgoingPasswordSameAsIncomingPassword makes the device ask for one password for
	// both servers during an interactive installation.
	OutgoingPasswordSameAsIncomingPassword bool
	// S/MIME is off unless asked for (SMIMESigningEnabled, SMIMEEncryptionEnabled,
	// iOS 10+); the certificate UUIDs name identity payloads of the same profile.
	SMIMESigningEnabled            bool
	SMIMESigningCertificateUUID    string
	SMIMEEncryptionEnabled         bool
	SMIMEEncryptionCertificateUUID string
}

// PayloadDict implements Payload with the keys of com.apple.mail.managed.yaml.
func (m MailPayload) PayloadDict() (map[string]any, error) {
	d, err := m.Common.Dict(MailPayloadType)
	if err != nil {
		return nil, err
	}
	switch m.AccountType {
	case IMAP, POP:
		d["EmailAccountType"] = string(m.AccountType)
	default:
		return nil, fmt.Errorf("%w: mail payload %s: EmailAccountType %q is neither %s nor %s",
			ErrInvalid, m.Identifier, m.AccountType, IMAP, POP)
	}
	putString(d, "EmailAccountDescription", m.AccountDescription)
	putString(d, "EmailAccountName", m.AccountName)
	putString(d, "EmailAddress", m.EmailAddress)
	if err := m.Incoming.put(d, "Incoming", m.Identifier); err != nil {
		return nil, err
	}
	if err := m.Outgoing.put(d, "Outgoing", m.Identifier); err != nil {
		return nil, err
	}
	if m.OutgoingPasswordSameAsIncomingPassword {
		d["OutgoingPasswordSameAsIncomingPassword"] = true
	}
	if m.SMIMESigningEnabled {
		d["SMIMESigningEnabled"] = true
	}
	if m.SMIMEEncryptionEnabled {
		d["SMIMEEncryptionEnabled"] = true
	}
	for _, ref := range [...]struct{ key, uuid string }{
		{"SMIMESigningCertificateUUID", m.SMIMESigningCertificateUUID},
		{"SMIMEEncryptionCertificateUUID", m.SMIMEEncryptionCertificateUUID},
	} {
		if ref.uuid == "" {
			continue
		}
		if !validUUID(ref.uuid) {
			return nil, fmt.Errorf("%w: mail payload %s: %s %q is not a UUID", ErrInvalid, m.Identifier, ref.key, ref.uuid)
		}
		d[ref.key] = ref.uuid
	}
	return d, nil
}

// put adds the keys of one server, prefix being "Incoming" or "Outgoing" as in
// IncomingMailServerHostName and OutgoingMailServerHostName.
func (s MailServer) put(d map[string]any, prefix, payload string) error {
	if s.HostName == "" {
		return fmt.Errorf("%w: mail payload %s: no %sMailServerHostName", ErrInvalid, payload, prefix)
	}
	switch s.Authentication {
	case AuthNone, AuthPassword, AuthCRAMMD5, AuthNTLM, AuthHTTPMD5:
	default:
		return fmt.Errorf("%w: mail payload %s: %sMailServerAuthentication %q is not one Apple defines",
			ErrInvalid, payload, prefix, s.Authentication)
	}
	if s.Port < 0 || s.Port > 65535 {
		return fmt.Errorf("%w: mail payload %s: %sMailServerPortNumber %d out of range", ErrInvalid, payload, prefix, s.Port)
	}
	d[prefix+"MailServerHostName"] = s.HostName
	d[prefix+"MailServerAuthentication"] = string(s.Authentication)
	d[prefix+"MailServerUseSSL"] = s.UseSSL
	if s.Port != 0 {
		d[prefix+"MailServerPortNumber"] = s.Port
	}
	putString(d, prefix+"MailServerUsername", s.Username)
	return nil
}
