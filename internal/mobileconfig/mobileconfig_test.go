package mobileconfig

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"howett.net/plist"
)

// account is a typical IMAP account; tests vary it.
func account() MailPayload {
	return MailPayload{
		Common: Common{
			Identifier:   "test.example.mail.account",
			UUID:         DeriveUUID("test.example.mail.account", "alice@example.test"),
			DisplayName:  "alice@example.test",
			Organization: "example.test",
		},
		AccountType:        IMAP,
		AccountDescription: "alice@example.test",
		AccountName:        "Alice Example",
		EmailAddress:       "alice@example.test",
		Incoming: MailServer{HostName: "mail.example.test", Port: 993, UseSSL: true,
			Username: "alice@example.test", Authentication: AuthPassword},
		Outgoing: MailServer{HostName: "mail.example.test", Port: 587, UseSSL: true,
			Username: "alice@example.test", Authentication: AuthPassword},
		OutgoingPasswordSameAsIncomingPassword: true,
	}
}

func profile(payloads ...Payload) Profile {
	return Profile{
		Identifier:   "test.example.mail",
		UUID:         DeriveUUID("test.example.mail", "alice@example.test"),
		DisplayName:  "Mail",
		Organization: "Example",
		Description:  "Mail account",
		Payloads:     payloads,
	}
}

// decode re-parses a marshalled profile as a device would.
func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var top map[string]any
	format, err := plist.Unmarshal(b, &top)
	if err != nil {
		t.Fatalf("re-parse: %v\n%s", err, b)
	}
	if format != plist.XMLFormat {
		t.Fatalf("format %d, want XML", format)
	}
	return top
}

func TestMarshalMatchesAppleSchema(t *testing.T) {
	topKeys, byType := payloadSchemas(t)
	tests := []struct {
		name    string
		payload func() MailPayload
		// want are payload keys and the values they must have; absent lists keys that
		// must not be there.
		want   map[string]any
		absent []string
	}{
		{
			name:    "imap",
			payload: account,
			want: map[string]any{
				"PayloadType": MailPayloadType, "PayloadVersion": uint64(1),
				"EmailAccountType": "EmailTypeIMAP", "EmailAddress": "alice@example.test",
				"EmailAccountName": "Alice Example", "EmailAccountDescription": "alice@example.test",
				"IncomingMailServerHostName": "mail.example.test", "IncomingMailServerPortNumber": uint64(993),
				"IncomingMailServerUseSSL": true, "IncomingMailServerUsername": "alice@example.test",
				"IncomingMailServerAuthentication": "EmailAuthPassword",
				"OutgoingMailServerHostName":       "mail.example.test", "OutgoingMailServerPortNumber": uint64(587),
				"OutgoingMailServerUseSSL": true, "OutgoingMailServerUsername": "alice@example.test",
				"OutgoingMailServerAuthentication":       "EmailAuthPassword",
				"OutgoingPasswordSameAsIncomingPassword": true,
			},
			absent: []string{"IncomingPassword", "OutgoingPassword", "SMIMESigningEnabled", "SMIMEEncryptionEnabled", "PayloadDescription"},
		},
		{
			name: "pop without optional keys",
			payload: func() MailPayload {
				return MailPayload{
					Common:      Common{Identifier: "p", UUID: DeriveUUID("p", "")},
					AccountType: POP,
					Incoming:    MailServer{HostName: "pop.example.test", Authentication: AuthPassword},
					Outgoing:    MailServer{HostName: "smtp.example.test", Authentication: AuthNone},
				}
			},
			want: map[string]any{
				"EmailAccountType": "EmailTypePOP", "IncomingMailServerUseSSL": false,
				"OutgoingMailServerAuthentication": "EmailAuthNone",
			},
			absent: []string{"EmailAddress", "IncomingMailServerPortNumber", "IncomingMailServerUsername",
				"OutgoingPasswordSameAsIncomingPassword", "PayloadDisplayName", "PayloadOrganization"},
		},
		{
			name: "smime on",
			payload: func() MailPayload {
				m := account()
				m.SMIMESigningEnabled, m.SMIMEEncryptionEnabled = true, true
				m.SMIMESigningCertificateUUID = DeriveUUID("sign", "alice")
				m.SMIMEEncryptionCertificateUUID = DeriveUUID("enc", "alice")
				return m
			},
			want: map[string]any{
				"SMIMESigningEnabled": true, "SMIMEEncryptionEnabled": true,
				"SMIMESigningCertificateUUID":    DeriveUUID("sign", "alice"),
				"SMIMEEncryptionCertificateUUID": DeriveUUID("enc", "alice"),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := profile(tt.payload()).Marshal()
			if err != nil {
				t.Fatal(err)
			}
			top := decode(t, b)
			for _, p := range checkDict("profile", top, topKeys) {
				t.Error(p)
			}
			if top["PayloadType"] != "Configuration" || top["PayloadVersion"] != uint64(1) {
				t.Errorf("top level type/version = %v/%v", top["PayloadType"], top["PayloadVersion"])
			}
			content, _ := top["PayloadContent"].([]any)
			if len(content) != 1 {
				t.Fatalf("PayloadContent has %d entries, want 1", len(content))
			}
			pl := content[0].(map[string]any)
			for _, p := range checkDict("payload", pl, byType[MailPayloadType]) {
				t.Error(p)
			}
			for k, v := range tt.want {
				if pl[k] != v {
					t.Errorf("%s = %#v, want %#v", k, pl[k], v)
				}
			}
			for _, k := range tt.absent {
				if v, ok := pl[k]; ok {
					t.Errorf("%s = %#v, want absent", k, v)
				}
			}
		})
	}
}

func TestMarshalIsDeterministic(t *testing.T) {
	a, err := profile(account()).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		b, err := profile(account()).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Fatalf("two marshals differ:\n%s\n%s", a, b)
		}
	}
	if !bytes.HasPrefix(a, []byte(`<?xml version="1.0" encoding="UTF-8"?>`)) || !bytes.Contains(a, []byte("<!DOCTYPE plist")) {
		t.Errorf("not an XML plist:\n%s", a)
	}
}

func TestMarshalRejects(t *testing.T) {
	tests := []struct {
		name string
		p    func() Profile
	}{
		{"no identifier", func() Profile { p := profile(account()); p.Identifier = ""; return p }},
		{"bad uuid", func() Profile { p := profile(account()); p.UUID = "not-a-uuid"; return p }},
		{"no payloads", func() Profile { return profile() }},
		{"payload without identifier", func() Profile {
			m := account()
			m.Identifier = ""
			return profile(m)
		}},
		{"payload with bad uuid", func() Profile {
			m := account()
			m.UUID = strings.Repeat("x", 36)
			return profile(m)
		}},
		{"duplicate identifier", func() Profile {
			m2 := account()
			m2.UUID = DeriveUUID("other", "")
			return profile(account(), m2)
		}},
		{"payload uuid equals profile uuid", func() Profile {
			p := profile(account())
			p.UUID = account().UUID
			return p
		}},
		{"unknown account type", func() Profile {
			m := account()
			m.AccountType = "EmailTypeExchange"
			return profile(m)
		}},
		{"no incoming host", func() Profile {
			m := account()
			m.Incoming.HostName = ""
			return profile(m)
		}},
		{"no outgoing auth", func() Profile {
			m := account()
			m.Outgoing.Authentication = ""
			return profile(m)
		}},
		{"port out of range", func() Profile {
			m := account()
			m.Incoming.Port = 70000
			return profile(m)
		}},
		{"bad smime uuid", func() Profile {
			m := account()
			m.SMIMESigningCertificateUUID = "x"
			return profile(m)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.p().Marshal()
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Marshal = %q, %v; want ErrInvalid", b, err)
			}
		})
	}
}

func TestDeriveUUID(t *testing.T) {
	a := DeriveUUID("com.example.mail", "alice@example.test")
	if !validUUID(a) {
		t.Fatalf("%q is not a UUID", a)
	}
	if a != strings.ToUpper(a) {
		t.Errorf("%q is not upper case", a)
	}
	if a[14] != '5' {
		t.Errorf("%q: version %c, want 5", a, a[14])
	}
	if !strings.ContainsRune("89AB", rune(a[19])) {
		t.Errorf("%q: variant nibble %c, want 8-B", a, a[19])
	}
	if b := DeriveUUID("com.example.mail", "Alice@Example.TEST"); b != a {
		t.Errorf("user case changes the UUID: %s vs %s", a, b)
	}
	for _, other := range [][2]string{
		{"com.example.mail", "bob@example.test"},
		{"com.example.mai", "lalice@example.test"},
		{"com.example.mail.account", "alice@example.test"},
	} {
		if DeriveUUID(other[0], other[1]) == a {
			t.Errorf("DeriveUUID(%q, %q) collides with %s", other[0], other[1], a)
		}
	}
}

func TestValidUUID(t *testing.T) {
	for s, want := range map[string]bool{
		"6D2F1C84-3A5E-4B1F-9C07-52D8E14A903B":  true,
		"6d2f1c84-3a5e-4b1f-9c07-52d8e14a903b":  true,
		"6D2F1C84-3A5E-4B1F-9C07-52D8E14A903":   false,
		"6D2F1C84+3A5E-4B1F-9C07-52D8E14A903B":  false,
		"6D2F1C84-3A5E-4B1F-9C07-52D8E14A903B0": false,
		"6D2F1C84-3A5E-4B1F-9C0_-52D8E14A903B":  false,
		"":                                      false,
	} {
		if got := validUUID(s); got != want {
			t.Errorf("validUUID(%q) = %v, want %v", s, got, want)
		}
	}
}
