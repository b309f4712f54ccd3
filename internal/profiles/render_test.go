package profiles

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"mailroom/internal/directory"
	"mailroom/internal/mobileconfig/schematest"
)

// testUser is a directory user with every attribute a profile may need.
func testUser() directory.User {
	return directory.User{
		ID: 42, Kind: directory.KindUser, Address: "alice@contoso.test", UPN: "alice.archer@corp.contoso.test",
		SAM: "aarcher", Domain: "contoso.test", NetBIOS: "CONTOSO", DisplayName: "Alice Archer", Enabled: true,
	}
}

// base returns valid settings with every switch at Intune's default.
func base() Settings {
	s := DefaultSettings()
	s.Host, s.AccountName = "mail.contoso.test", "Contoso mail"
	return s
}

const testVPNUUID = "0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0"

// combination makes the i-th generated settings: the cartesian product of the
// dimensions that pick keys or values (username, authentication, data to sync, days,
// S/MIME certificate types), with every on/off setting taken from bits of i so that
// each appears both ways across the product.
func combinations() []Settings {
	usernames := []func(*Settings){
		func(s *Settings) { s.UsernameSource = UsernameUPN },
		func(s *Settings) { s.UsernameSource = UsernamePrimarySMTP },
		func(s *Settings) { s.UsernameSource, s.DomainSource = UsernameSAM, DomainFull },
		func(s *Settings) { s.UsernameSource, s.DomainSource = UsernameSAM, DomainNetBIOS },
		func(s *Settings) {
			s.UsernameSource, s.DomainSource, s.CustomDomain = UsernameSAM, DomainCustom, "CORP"
		},
	}
	auths := []func(*Settings){
		func(s *Settings) { s.Auth = AuthPassword },
		func(s *Settings) { s.Auth, s.ClientCertificate = AuthCertificate, SourceMailroomCA },
		func(s *Settings) { s.Auth = AuthDerivedCredential },
	}
	syncs := []DataToSync{SyncAll, SyncEmail, SyncCalendar, SyncCalendarContacts, SyncContacts}
	days := []MailDays{DaysUserDefined, Days1, Days3, Days7, Days14, Days31, DaysUnlimited}
	certTypes := []CertType{CertNotConfigured, CertNone, CertProfile, CertDerivedCredential}
	smimes := []func(*Settings, int){func(*Settings, int) {}}
	for _, sign := range certTypes {
		for _, enc := range certTypes {
			smimes = append(smimes, func(s *Settings, i int) {
				s.SMIME = true
				s.SigningCertType, s.EncryptionCertType = sign, enc
				if sign == CertProfile {
					s.SigningCertificate = SourceMailroomCA
				}
				if enc == CertProfile {
					s.EncryptionCertificate = SourceMailroomCA
				}
				s.SigningEnabled, s.SigningUserOverride, s.SigningCertUserOverride = bit(i, 0), bit(i, 1), bit(i, 2)
				s.EncryptByDefault, s.EncryptByDefaultOverride = bit(i, 3), bit(i, 4)
				s.PerMessageSwitch, s.EncryptionCertUserOverride = bit(i, 5), bit(i, 6)
			})
		}
	}
	var out []Settings
	for _, un := range usernames {
		for _, au := range auths {
			for _, sy := range syncs {
				for _, dy := range days {
					for _, sm := range smimes {
						i := len(out)
						s := base()
						un(&s)
						au(&s)
						s.DataToSync, s.MailDays = sy, dy
						sm(&s, i*7) // a different bit pattern from the switches below
						s.EmailSource = []EmailSource{EmailUPN, EmailPrimarySMTP}[i%2]
						// OAuth goes with the password only (Validate).
						s.SSL, s.OAuth, s.AllowSyncChanges = bit(i, 1), bit(i, 2) && s.Auth == AuthPassword, bit(i, 3)
						s.AllowMove, s.AllowThirdPartySend, s.SyncRecents = bit(i, 4), bit(i, 5), bit(i, 6)
						if bit(i, 7) {
							s.VPN = "Corp VPN"
						}
						out = append(out, s)
					}
				}
			}
		}
	}
	return out
}

func bit(i, n int) bool { return i>>n&1 == 1 }

// want is the com.apple.eas.account dictionary intune-to-apple.md prescribes for s
// and testUser, written out from the mapping tables independently of render.go.
func want(s Settings, clientUUID, smimeUUID string) map[string]any {
	u := testUser()
	d := map[string]any{
		"PayloadType": EASPayloadType, "PayloadVersion": uint64(1), "PayloadDisplayName": s.AccountName,
		"PayloadOrganization": u.Domain, "Host": s.Host, "SSL": s.SSL,
		"PreventMove": !s.AllowMove, "PreventAppSheet": !s.AllowThirdPartySend, "disableMailRecentsSyncing": !s.SyncRecents,
	}
	d["UserName"] = map[string]string{
		"upn": u.UPN, "primary-smtp": u.Address, "sam/full-domain": `contoso.test\aarcher`,
		"sam/netbios": `CONTOSO\aarcher`, "sam/custom": `CORP\aarcher`,
	}[strings.TrimSuffix(string(s.UsernameSource)+"/"+string(s.DomainSource), "/")]
	d["EmailAddress"] = map[EmailSource]string{EmailUPN: u.UPN, EmailPrimarySMTP: u.Address}[s.EmailSource]
	if s.OAuth {
		d["OAuth"] = true
		d["OAuthSignInURL"] = testOAuth.SignIn
		d["OAuthTokenRequestURL"] = testOAuth.Token
	}
	if s.Auth == AuthCertificate || s.Auth == AuthDerivedCredential {
		d["PayloadCertificateUUID"] = clientUUID
	}
	classes := map[DataToSync][5]bool{ // Mail, Contacts, Calendars, Reminders, Notes
		SyncAll: {true, true, true, true, true}, SyncEmail: {true, false, false, false, false},
		SyncCalendar: {false, false, true, false, false}, SyncCalendarContacts: {false, true, true, false, false},
		SyncContacts: {false, true, false, false, false},
	}[s.DataToSync]
	for i, name := range []string{"Mail", "Contacts", "Calendars", "Reminders", "Notes"} {
		d["Enable"+name] = classes[i]
		d["Enable"+name+"UserOverridable"] = s.AllowSyncChanges
	}
	if s.SMIME {
		d["SMIMESigningEnabled"] = s.SigningEnabled
		d["SMIMESigningUserOverrideable"] = s.SigningUserOverride
		d["SMIMESigningCertificateUUIDUserOverrideable"] = s.SigningCertUserOverride
		d["SMIMEEncryptByDefault"] = s.EncryptByDefault
		d["SMIMEEncryptByDefaultUserOverrideable"] = s.EncryptByDefaultOverride
		d["SMIMEEnableEncryptionPerMessageSwitch"] = s.PerMessageSwitch
		d["SMIMEEncryptionCertificateUUIDUserOverrideable"] = s.EncryptionCertUserOverride
		if s.SigningCertType == CertProfile || s.SigningCertType == CertDerivedCredential {
			d["SMIMESigningCertificateUUID"] = smimeUUID
		}
		if s.EncryptionCertType == CertProfile || s.EncryptionCertType == CertDerivedCredential {
			d["SMIMEEncryptionCertificateUUID"] = smimeUUID
		}
	}
	if n, ok := map[MailDays]uint64{Days1: 1, Days3: 3, Days7: 7, Days14: 14, Days31: 31, DaysUnlimited: 0}[s.MailDays]; ok {
		d["MailNumberOfPastDaysToSync"] = n
	}
	if s.VPN != "" {
		d["VPNUUID"] = testVPNUUID
	}
	return d
}

var testOAuth = OAuthEndpoints{SignIn: "https://mail.contoso.test/oauth/authorize", Token: "https://mail.contoso.test/oauth/token"}

const testSCEPURL = "https://mail.contoso.test/scep"

func renderInput(s Settings) RenderInput {
	in := RenderInput{Hostname: "mail.contoso.test", Profile: "Corp", Version: 3, Settings: s, User: testUser()}
	if s.VPN != "" {
		in.VPNUUID = testVPNUUID
	}
	if s.OAuth {
		in.OAuth = &testOAuth
	}
	client, smime := s.Needs()
	if client && s.clientBySCEP() {
		in.SCEP = &SCEPEnrolment{URL: testSCEPURL, Challenge: "one-time"}
	} else if client {
		in.Client = &Identity{PKCS12: []byte("client p12"), Password: "pw1", Serial: "c1"}
	}
	if smime {
		in.SMIME = &Identity{PKCS12: []byte("smime p12"), Password: "pw2", Serial: "s1"}
	}
	return in
}

func TestRenderEveryCombinationMatchesAppleSchema(t *testing.T) {
	all := combinations()
	if len(all) < 8000 {
		t.Fatalf("only %d combinations generated", len(all))
	}
	seen := map[string]bool{}
	for i, s := range all {
		if err := s.Validate(Config{OAuth: true, DerivedCredentials: true}); err != nil {
			t.Fatalf("combination %d does not validate: %v\n%+v", i, err, s)
		}
		p, err := Render(renderInput(s))
		if err != nil {
			t.Fatalf("combination %d: %v", i, err)
		}
		body, err := p.Marshal()
		if err != nil {
			t.Fatalf("combination %d: %v", i, err)
		}
		top, problems, err := schematest.CheckProfile(body)
		if err != nil {
			t.Fatal(err)
		}
		for _, pr := range problems {
			t.Errorf("combination %d: %s", i, pr)
		}
		content := top["PayloadContent"].([]any)
		eas := content[0].(map[string]any)
		var clientUUID, smimeUUID string
		for _, c := range content[1:] {
			pk := c.(map[string]any)
			switch {
			case pk["PayloadType"] == SCEPPayloadType:
				clientUUID = pk["PayloadUUID"].(string)
				sc := pk["PayloadContent"].(map[string]any)
				if !s.clientBySCEP() || sc["URL"] != testSCEPURL || sc["Challenge"] != "one-time" {
					t.Errorf("combination %d: SCEP payload %v", i, pk)
				}
			case pk["PayloadType"] != PKCS12PayloadType:
				t.Fatalf("combination %d: extra payload %v", i, pk["PayloadType"])
			case strings.HasSuffix(pk["PayloadIdentifier"].(string), ".client-certificate"):
				clientUUID = pk["PayloadUUID"].(string)
				if string(pk["PayloadContent"].([]byte)) != "client p12" || pk["Password"] != "pw1" {
					t.Errorf("combination %d: client payload %v", i, pk)
				}
			case strings.HasSuffix(pk["PayloadIdentifier"].(string), ".smime-certificate"):
				smimeUUID = pk["PayloadUUID"].(string)
				if string(pk["PayloadContent"].([]byte)) != "smime p12" || pk["Password"] != "pw2" {
					t.Errorf("combination %d: S/MIME payload %v", i, pk)
				}
			}
		}
		needClient, needSMIME := s.Needs()
		if (clientUUID != "") != needClient || (smimeUUID != "") != needSMIME || len(content) != 1+btoi(needClient)+btoi(needSMIME) {
			t.Errorf("combination %d: %d payloads, client %q, S/MIME %q", i, len(content), clientUUID, smimeUUID)
		}
		w := want(s, clientUUID, smimeUUID)
		for _, k := range []string{"PayloadIdentifier", "PayloadUUID"} {
			w[k] = eas[k]
		}
		if !maps.EqualFunc(eas, w, func(a, b any) bool { return fmt.Sprint(a) == fmt.Sprint(b) }) {
			keys := slices.Sorted(maps.Keys(eas))
			for _, k := range slices.Sorted(maps.Keys(w)) {
				if !slices.Contains(keys, k) {
					keys = append(keys, k)
				}
			}
			for _, k := range keys {
				if fmt.Sprint(eas[k]) != fmt.Sprint(w[k]) {
					t.Errorf("combination %d: %s = %v, want %v", i, k, eas[k], w[k])
				}
			}
			t.FailNow()
		}
		if _, ok := eas["Password"]; ok {
			t.Fatalf("combination %d: the EAS payload carries a password", i)
		}
		seen[fmt.Sprint(eas["PayloadUUID"])] = true
	}
	// The UUIDs depend on (profile, version, user) only, not on the settings.
	if len(seen) != 1 {
		t.Errorf("%d different EAS payload UUIDs for one profile version and user", len(seen))
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestRenderUUIDsPerProfileVersionUser(t *testing.T) {
	in := renderInput(base())
	uuid := func(in RenderInput) string {
		p, err := Render(in)
		if err != nil {
			t.Fatal(err)
		}
		return p.UUID
	}
	first := uuid(in)
	if again := uuid(in); again != first {
		t.Errorf("same input, UUIDs %s and %s", first, again)
	}
	next := in
	next.Version++
	other := in
	other.Profile = "Other"
	bob := in
	bob.User.ID, bob.User.Address = 43, "bob@contoso.test"
	for name, v := range map[string]RenderInput{"version": next, "profile": other, "user": bob} {
		if uuid(v) == first {
			t.Errorf("another %s, same UUID %s", name, first)
		}
	}
	// The identifier stays: a new version replaces the installed profile.
	p1, _ := Render(in)
	p2, _ := Render(next)
	if p1.Identifier != p2.Identifier || p1.Identifier != "test.contoso.mail.mailroom.email.42" {
		t.Errorf("identifiers %s, %s", p1.Identifier, p2.Identifier)
	}
}

func TestAccountForUserErrors(t *testing.T) {
	sam := base()
	sam.UsernameSource, sam.DomainSource = UsernameSAM, DomainNetBIOS
	full := base()
	full.UsernameSource, full.DomainSource = UsernameSAM, DomainFull
	smtp := base()
	smtp.UsernameSource, smtp.EmailSource = UsernamePrimarySMTP, EmailPrimarySMTP
	tests := []struct {
		name     string
		settings Settings
		change   func(*directory.User)
		want     string // in the error; "" for none
	}{
		{"complete", sam, func(*directory.User) {}, ""},
		{"no UPN", base(), func(u *directory.User) { u.UPN = "" }, "no user principal name"},
		{"no UPN but not needed", smtp, func(u *directory.User) { u.UPN = "" }, ""},
		{"no sAMAccountName", sam, func(u *directory.User) { u.SAM = "" }, "no sAMAccountName"},
		{"no NetBIOS", sam, func(u *directory.User) { u.NetBIOS = "" }, "no NetBIOS domain name"},
		{"no domain", full, func(u *directory.User) { u.Domain = "" }, "has no domain"},
		{"no address", smtp, func(u *directory.User) { u.Address = "" }, "no primary SMTP address"},
		{"shared mailbox", base(), func(u *directory.User) { u.Kind = directory.KindShared }, "never signs in"},
		{"disabled", base(), func(u *directory.User) { u.Enabled = false }, "disabled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := testUser()
			tt.change(&u)
			in := renderInput(tt.settings)
			in.User = u
			_, err := Render(in)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrUserAttribute) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want ErrUserAttribute with %q", err, tt.want)
			}
			var ue *UserError
			if !errors.As(err, &ue) || ue.User != u.Address {
				t.Errorf("error %#v does not name the user", err)
			}
		})
	}
}

func TestRenderRefusesMissingInputs(t *testing.T) {
	cert := base()
	cert.Auth, cert.ClientCertificate = AuthCertificate, SourceMailroomCA
	vpn := base()
	vpn.VPN = "Corp VPN"
	tests := []struct {
		name   string
		in     RenderInput
		change func(*RenderInput)
	}{
		{"certificate auth without identity", renderInput(cert), func(in *RenderInput) { in.Client = nil }},
		{"VPN without VPNUUID", renderInput(vpn), func(in *RenderInput) { in.VPNUUID = "" }},
		{"VPNUUID without VPN", renderInput(base()), func(in *RenderInput) { in.VPNUUID = testVPNUUID }},
		{"no version", renderInput(base()), func(in *RenderInput) { in.Version = 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.change(&tt.in)
			if _, err := Render(tt.in); err == nil {
				t.Fatal("rendered")
			}
		})
	}
}
