package profiles

import (
	"context"
	"errors"
	"strings"
	"testing"

	"mailroom/internal/mobileconfig/schematest"
	"mailroom/internal/scep"
)

// TestValidateOAuthAndDerivedCredential checks what OAuth and derived credentials
// need of the server and of the other settings.
func TestValidateOAuthAndDerivedCredential(t *testing.T) {
	full := Config{OAuth: true, DerivedCredentials: true}
	tests := []struct {
		name    string
		change  func(*Settings)
		cfg     Config
		setting string // the setting the error names; empty: accepted
	}{
		{"OAuth offered", func(s *Settings) { s.OAuth = true }, full, ""},
		{"OAuth not offered", func(s *Settings) { s.OAuth = true }, Config{DerivedCredentials: true}, SettingOAuth},
		{"OAuth with certificate sign-in", func(s *Settings) {
			s.OAuth, s.Auth, s.ClientCertificate = true, AuthCertificate, SourceMailroomSCEP
		}, full, SettingOAuth},
		{"OAuth with derived credential", func(s *Settings) { s.OAuth, s.Auth = true, AuthDerivedCredential }, full, SettingOAuth},
		{"derived credential offered", func(s *Settings) { s.Auth = AuthDerivedCredential }, full, ""},
		{"derived credential without SCEP", func(s *Settings) { s.Auth = AuthDerivedCredential }, Config{OAuth: true}, SettingAuth},
		{"derived credential with a certificate source", func(s *Settings) {
			s.Auth, s.ClientCertificate = AuthDerivedCredential, SourceMailroomCA
		}, full, SettingClientCert},
		{"S/MIME signing derived", func(s *Settings) {
			s.SMIME, s.SigningEnabled, s.SigningCertType = true, true, CertDerivedCredential
		}, full, ""},
		{"S/MIME both derived", func(s *Settings) {
			s.SMIME, s.SigningCertType, s.EncryptionCertType = true, CertDerivedCredential, CertDerivedCredential
		}, full, ""},
		{"S/MIME encryption derived, signing certificate", func(s *Settings) {
			s.SMIME, s.EncryptionCertType = true, CertDerivedCredential
			s.SigningCertType, s.SigningCertificate = CertProfile, SourceMailroomCA
		}, full, ""},
		{"S/MIME signing derived not offered", func(s *Settings) { s.SMIME, s.SigningCertType = true, CertDerivedCredential }, Config{}, SettingSigningCertType},
		{"S/MIME encryption derived not offered", func(s *Settings) { s.SMIME, s.EncryptionCertType = true, CertDerivedCredential }, Config{}, SettingEncryptCertType},
		{"S/MIME derived with a source", func(s *Settings) {
			s.SMIME, s.EncryptionCertType, s.EncryptionCertificate = true, CertDerivedCredential, SourceMailroomCA
		}, full, SettingEncryptCert},
		{"derived with S/MIME off", func(s *Settings) { s.SigningCertType = CertDerivedCredential }, full, SettingSigningCertType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := base()
			tt.change(&s)
			err := s.Validate(tt.cfg)
			switch {
			case tt.setting == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.setting == "":
			case err == nil:
				t.Fatal("accepted")
			case !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.setting+": "):
				t.Errorf("error %q does not name %q", err, tt.setting)
			}
		})
	}
}

// TestBuildDerivedCredential checks that a profile with a derived credential is
// built only with a proof, and then carries a SCEP payload for sign-in and the CA's
// S/MIME identity, as Apple's schema allows.
func TestBuildDerivedCredential(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	ch, err := scep.OpenChallenges(ctx, e.db, 0, e.now)
	must(t, err)
	svc, err := New(ctx, e.db, Options{Config: Config{OAuth: true, DerivedCredentials: true}, Hostname: "mail.contoso.test",
		Directory: e.dir, CA: e.ca, Now: e.now, SCEP: ch, SCEPURL: testSCEPURL, OAuth: &testOAuth})
	must(t, err)
	s := base()
	s.Auth = AuthDerivedCredential
	s.SMIME, s.SigningEnabled, s.SigningCertType, s.EncryptionCertType = true, true, CertDerivedCredential, CertDerivedCredential
	_, err = svc.Create(ctx, "PIV-D", s)
	must(t, err)
	must(t, svc.Assign(ctx, "PIV-D", "Staff", Include))
	carol := e.users["carol"]

	if _, err := svc.Build(ctx, carol.ID, true); !errors.Is(err, ErrProofRequired) || !strings.Contains(err.Error(), "two-step verification") {
		t.Fatalf("without proof: %v, want ErrProofRequired", err)
	}
	if list, err := e.ca.List(ctx, carol.ID); err != nil || len(list) != 0 {
		t.Fatalf("a refused build issued certificates: %v, %v", list, err)
	}
	for _, proof := range []Proof{ProofMFA, ProofCertificate} {
		d, err := svc.BuildProven(ctx, carol.ID, true, proof)
		must(t, err)
		top, problems, err := schematest.CheckProfile(d.Data)
		must(t, err)
		for _, p := range problems {
			t.Errorf("%s: %s", proof, p)
		}
		content := top["PayloadContent"].([]any)
		eas := content[0].(map[string]any)
		uuids := map[string]string{}
		for _, c := range content[1:] {
			pk := c.(map[string]any)
			uuids[pk["PayloadType"].(string)] = pk["PayloadUUID"].(string)
		}
		if len(content) != 3 || eas["PayloadCertificateUUID"] != uuids[SCEPPayloadType] ||
			eas["SMIMESigningCertificateUUID"] != uuids[PKCS12PayloadType] || eas["SMIMEEncryptionCertificateUUID"] != uuids[PKCS12PayloadType] {
			t.Errorf("%s: payloads %v, EAS %v", proof, uuids, eas)
		}
	}
}
