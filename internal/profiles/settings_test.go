package profiles

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestValidateNamesTheSetting(t *testing.T) {
	tests := []struct {
		name    string
		change  func(*Settings)
		setting string // every one the error must name
	}{
		{"empty host", func(s *Settings) { s.Host = " " }, SettingHost},
		{"host with scheme", func(s *Settings) { s.Host = "https://mail.contoso.test" }, SettingHost},
		{"empty account name", func(s *Settings) { s.AccountName = "" }, SettingAccountName},
		{"unknown username attribute", func(s *Settings) { s.UsernameSource = "mail" }, SettingUsername},
		{"sAM without domain source", func(s *Settings) { s.UsernameSource = UsernameSAM }, SettingDomainSource},
		{"sAM with unknown domain source", func(s *Settings) { s.UsernameSource, s.DomainSource = UsernameSAM, "aad" }, SettingDomainSource},
		{"custom domain source without domain", func(s *Settings) { s.UsernameSource, s.DomainSource = UsernameSAM, DomainCustom }, SettingCustomDomain},
		{"custom domain with backslash", func(s *Settings) {
			s.UsernameSource, s.DomainSource, s.CustomDomain = UsernameSAM, DomainCustom, `CORP\x`
		}, SettingCustomDomain},
		{"custom domain with another source", func(s *Settings) {
			s.UsernameSource, s.DomainSource, s.CustomDomain = UsernameSAM, DomainNetBIOS, "CORP"
		}, SettingCustomDomain},
		{"domain source without sAM", func(s *Settings) { s.DomainSource = DomainNetBIOS }, SettingDomainSource},
		{"unknown e-mail attribute", func(s *Settings) { s.EmailSource = "sam" }, SettingEmail},
		{"certificate auth without certificate source", func(s *Settings) { s.Auth = AuthCertificate }, SettingClientCert},
		{"certificate auth with unknown source", func(s *Settings) { s.Auth, s.ClientCertificate = AuthCertificate, "scep" }, SettingClientCert},
		{"certificate source with password auth", func(s *Settings) { s.ClientCertificate = SourceMailroomCA }, SettingClientCert},
		{"derived credential auth", func(s *Settings) { s.Auth = AuthDerivedCredential }, SettingAuth},
		{"unknown auth", func(s *Settings) { s.Auth = "kerberos" }, SettingAuth},
		{"OAuth not offered", func(s *Settings) { s.OAuth = true }, SettingOAuth},
		{"unknown data to sync", func(s *Settings) { s.DataToSync = "notes" }, SettingDataToSync},
		{"signing on with S/MIME off", func(s *Settings) { s.SigningEnabled = true }, settingSigningOn},
		{"encryption certificate with S/MIME off", func(s *Settings) { s.EncryptionCertType = CertNone }, SettingEncryptCertType},
		{"per-message switch with S/MIME off", func(s *Settings) { s.PerMessageSwitch = true }, settingPerMessage},
		{"signing certificate profile without one", func(s *Settings) { s.SMIME, s.SigningCertType = true, CertProfile }, SettingSigningCert},
		{"encryption certificate profile without one", func(s *Settings) { s.SMIME, s.EncryptionCertType = true, CertProfile }, SettingEncryptCert},
		{"signing certificate with type none", func(s *Settings) {
			s.SMIME, s.SigningCertType, s.SigningCertificate = true, CertNone, SourceMailroomCA
		}, SettingSigningCert},
		{"signing derived credential", func(s *Settings) { s.SMIME, s.SigningCertType = true, CertDerivedCredential }, SettingSigningCertType},
		{"encryption derived credential", func(s *Settings) { s.SMIME, s.EncryptionCertType = true, CertDerivedCredential }, SettingEncryptCertType},
		{"unknown signing certificate type", func(s *Settings) { s.SMIME, s.SigningCertType = true, "pkcs" }, SettingSigningCertType},
		{"days not Apple's", func(s *Settings) { s.MailDays = "30" }, SettingMailDays},
		{"VPN name with spaces around", func(s *Settings) { s.VPN = " Corp " }, SettingVPN},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := base()
			tt.change(&s)
			err := s.Validate(Config{})
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("%v does not match ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.setting+": ") {
				t.Errorf("error %q does not name %q", err, tt.setting)
			}
			var se *SettingError
			if !errors.As(err, &se) {
				t.Errorf("%v is not a *SettingError", err)
			}
		})
	}
	if err := base().Validate(Config{}); err != nil {
		t.Errorf("defaults: %v", err)
	}
	s := base()
	s.OAuth = true
	if err := s.Validate(Config{OAuth: true}); err != nil {
		t.Errorf("OAuth on a server that offers it: %v", err)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	s := base()
	s.Host, s.Auth, s.OAuth = "", AuthCertificate, true
	err := s.Validate(Config{})
	for _, name := range []string{SettingHost, SettingClientCert, SettingOAuth} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("%q lacks %s", err, name)
		}
	}
}

func TestSettingsJSONKeepsDefaults(t *testing.T) {
	s := DefaultSettings()
	if err := json.Unmarshal([]byte(`{"host":"mail.contoso.test","accountName":"Mail","mailDays":"14"}`), &s); err != nil {
		t.Fatal(err)
	}
	if !s.AllowMove || !s.SyncRecents || !s.AllowThirdPartySend || !s.SSL || s.DataToSync != SyncAll || s.MailDays != Days14 {
		t.Errorf("defaults lost: %+v", s)
	}
	if err := s.Validate(Config{}); err != nil {
		t.Error(err)
	}
}
