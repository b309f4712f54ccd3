package oauth

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"mailroom/internal/auth"
)

// TestSecondFactorAPI: the exported enrolment and check that the console uses store
// and use up codes exactly as the sign-in page does.
func TestSecondFactorAPI(t *testing.T) {
	e := newEnv(t)
	id := e.alice.ID
	if _, err := e.store.Verify(e.ctx, id, "123456"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("no factor yet: %v", err)
	}
	en, err := NewEnrolment("Mailroom test", aliceAddress)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseEnrolment(en.URI())
	if err != nil || back.Secret() != en.Secret() || !strings.HasPrefix(string(en.QR()), "data:image/png;base64,") {
		t.Fatalf("round trip: %v %q", err, back.URI())
	}
	for _, bad := range []string{"", "https://example.test/", "otpauth://hotp/x?secret=JBSWY3DPEHPK3PXP&counter=1"} {
		if _, err := ParseEnrolment(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseEnrolment(%q): %v", bad, err)
		}
	}
	at := func(d time.Duration) string {
		c, err := totp.GenerateCode(en.Secret(), e.clock.Now().Add(d))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if _, err := e.store.Enrol(e.ctx, id, en, "000000"); !errors.Is(err, auth.ErrWrongCode) {
		t.Fatalf("enrol with a wrong code: %v", err)
	}
	if on, _ := e.store.MFAEnabled(e.ctx, id); on {
		t.Fatal("a wrong code enrolled")
	}
	codes, err := e.store.Enrol(e.ctx, id, en, at(-30*time.Second))
	if err != nil || len(codes) != recoveryCodes {
		t.Fatalf("enrol: %d codes, %v", len(codes), err)
	}
	if _, err := e.store.Enrol(e.ctx, id, en, at(0)); !errors.Is(err, ErrExists) {
		t.Errorf("enrol twice: %v", err)
	}
	tests := []struct {
		name, code string
		method     string // "": refused
	}{
		{"current code", at(0), MethodTOTP},
		{"the same code again", at(0), ""},
		{"the enrolment's code", at(-30 * time.Second), ""},
		{"recovery code", codes[0], MethodRecovery},
		{"used recovery code", codes[0], ""},
		{"garbage", "not a code", ""},
	}
	for _, tt := range tests {
		m, err := e.store.Verify(e.ctx, id, tt.code)
		switch {
		case tt.method != "" && (err != nil || m != tt.method):
			t.Errorf("%s: %q, %v", tt.name, m, err)
		case tt.method == "" && !errors.Is(err, auth.ErrWrongCode):
			t.Errorf("%s: %q, %v, want a wrong code", tt.name, m, err)
		}
	}
}

// TestServiceScopes: the built-in client asks for every service's scope through the
// device grant, and the discovery document lists them.
func TestServiceScopes(t *testing.T) {
	e := newEnv(t)
	var da deviceAuthorization
	want := auth.Scopes()
	if status := e.postForm("/oauth/device_authorization", url.Values{"client_id": {BuiltinClientID}, "scope": {strings.Join(want, " ")}}, &da); status != http.StatusOK {
		t.Fatalf("device authorization: HTTP %d", status)
	}
	var scopes string
	if err := e.db.Read().QueryRowContext(e.ctx, `SELECT scopes FROM oauth_device_grants WHERE user_code = $1`, da.UserCode).Scan(&scopes); err != nil {
		t.Fatal(err)
	}
	if got := splitList(scopes); !slices.Equal(got, want) {
		t.Errorf("granted scopes %q, want %q", got, want)
	}
	for _, s := range []string{ScopeDAV, ScopeAdmin} {
		if !slices.Contains(mailScopes, s) || !(opClient{}).IsScopeAllowed(s) {
			t.Errorf("scope %s not registered", s)
		}
	}
}
