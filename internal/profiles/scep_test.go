package profiles

import (
	"context"
	"errors"
	"testing"

	"mailroom/internal/mobileconfig/schematest"
	"mailroom/internal/scep"
)

func TestSCEPSourceValidation(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*Settings)
		setting string // "" for valid
	}{
		{"client certificate by SCEP", func(s *Settings) { s.Auth, s.ClientCertificate = AuthCertificate, SourceMailroomSCEP }, ""},
		{"S/MIME signing by SCEP", func(s *Settings) {
			s.SMIME, s.SigningCertType, s.SigningCertificate = true, CertProfile, SourceMailroomSCEP
		}, SettingSigningCert},
		{"S/MIME encryption by SCEP", func(s *Settings) {
			s.SMIME, s.EncryptionCertType, s.EncryptionCertificate = true, CertProfile, SourceMailroomSCEP
		}, SettingEncryptCert},
		{"SCEP with password sign-in", func(s *Settings) { s.ClientCertificate = SourceMailroomSCEP }, SettingClientCert},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := base()
			tt.edit(&s)
			err := s.Validate(Config{})
			var se *SettingError
			switch {
			case tt.setting == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tt.setting != "" && (!errors.As(err, &se) || se.Setting != tt.setting):
				t.Errorf("got %v, want an error for %s", err, tt.setting)
			}
		})
	}
}

// scepKeys are the PayloadContent keys of com.apple.security.scep.yaml with their
// types (schematest reads only the top level of a payload).
var scepKeys = map[string]string{
	"URL": "<string>", "Name": "<string>", "Subject": "<array>", "Challenge": "<string>", "Keysize": "<integer>",
	"Key Type": "<string>", "Key Usage": "<integer>", "CAFingerprint": "<data>", "Retries": "<integer>",
	"RetryDelay": "<integer>", "SubjectAltName": "<dictionary>", "KeyIsExtractable": "<boolean>", "AllowAllAppsAccess": "<boolean>",
}

// TestSCEPPayload: a profile whose sign-in certificate comes by SCEP carries a
// com.apple.security.scep payload, valid by Apple's schema, that the Exchange payload
// names, and no PKCS #12 for sign-in; every delivery carries a new challenge.
func TestSCEPPayload(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	ch, err := scep.OpenChallenges(ctx, e.db, 0, e.now)
	must(t, err)
	svc, err := New(ctx, e.db, Options{Hostname: "mail.contoso.test", Directory: e.dir, CA: e.ca, Now: e.now,
		SCEP: ch, SCEPURL: "https://mail.contoso.test/scep"})
	must(t, err)
	s := base()
	s.Auth, s.ClientCertificate = AuthCertificate, SourceMailroomSCEP
	s.SMIME, s.SigningCertType, s.SigningCertificate = true, CertProfile, SourceMailroomCA
	_, err = svc.Create(ctx, "Corp", s)
	must(t, err)
	must(t, svc.Assign(ctx, "Corp", "Staff", Include))
	carol := e.users["carol"]

	// Without SCEP the service cannot deliver it.
	if _, err := e.svc.Build(ctx, carol.ID, true); err == nil {
		t.Error("a service without SCEP built a SCEP profile")
	}
	var challenges []string
	for range 2 {
		d, err := svc.Build(ctx, carol.ID, true)
		must(t, err)
		top, problems, err := schematest.CheckProfile(d.Data)
		must(t, err)
		for _, p := range problems {
			t.Error(p)
		}
		byType := map[string]map[string]any{}
		for _, c := range top["PayloadContent"].([]any) {
			p := c.(map[string]any)
			if byType[p["PayloadType"].(string)] != nil {
				t.Errorf("two %s payloads", p["PayloadType"])
			}
			byType[p["PayloadType"].(string)] = p
		}
		eas, sc, p12 := byType[EASPayloadType], byType[SCEPPayloadType], byType[PKCS12PayloadType]
		if eas == nil || sc == nil || p12 == nil || len(byType) != 3 {
			t.Fatalf("payloads %v, want Exchange, SCEP and the S/MIME PKCS #12", byType)
		}
		if eas["PayloadCertificateUUID"] != sc["PayloadUUID"] || eas["SMIMESigningCertificateUUID"] != p12["PayloadUUID"] {
			t.Errorf("Exchange payload names %v and %v", eas["PayloadCertificateUUID"], eas["SMIMESigningCertificateUUID"])
		}
		content := sc["PayloadContent"].(map[string]any)
		for k, v := range content {
			if typ, ok := scepKeys[k]; !ok {
				t.Errorf("SCEP key %q is not in Apple's schema", k)
			} else if got := plistType(v); got != typ {
				t.Errorf("SCEP key %q is %s, schema says %s", k, got, typ)
			}
		}
		subject := content["Subject"].([]any)[0].([]any)[0].([]any)
		if content["URL"] != "https://mail.contoso.test/scep" || content["Keysize"] != uint64(2048) || content["Key Type"] != "RSA" ||
			content["Key Usage"] != uint64(1) || subject[0] != "CN" || subject[1] != carol.Address {
			t.Errorf("SCEP payload %v", content)
		}
		pw, _ := content["Challenge"].(string)
		if len(pw) < 20 {
			t.Errorf("challenge %q", pw)
		}
		challenges = append(challenges, pw)
	}
	if challenges[0] == challenges[1] {
		t.Error("two deliveries carry the same challenge")
	}
}

func plistType(v any) string {
	switch v.(type) {
	case string:
		return "<string>"
	case uint64, int64:
		return "<integer>"
	case bool:
		return "<boolean>"
	case []byte:
		return "<data>"
	case []any:
		return "<array>"
	case map[string]any:
		return "<dictionary>"
	}
	return "?"
}
