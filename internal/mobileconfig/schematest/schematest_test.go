package schematest

import (
	"strings"
	"testing"
)

func TestFormatAndRangeChecks(t *testing.T) {
	eas, err := Load("com.apple.eas.account.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if eas.PayloadType != "com.apple.eas.account" || !strings.HasPrefix(eas.Keys["PayloadCertificateUUID"].Format, "^[0-9A-Za-z]{8}-") {
		t.Fatalf("read %q, PayloadCertificateUUID %+v", eas.PayloadType, eas.Keys["PayloadCertificateUUID"])
	}
	tests := []struct {
		name string
		dict map[string]any
		want string // a problem containing it; "" for none
	}{
		{"good", map[string]any{"PayloadCertificateUUID": "AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE", "MailNumberOfPastDaysToSync": uint64(31)}, ""},
		{"bad format", map[string]any{"PayloadCertificateUUID": "AAAA"}, "does not match"},
		{"out of range", map[string]any{"MailNumberOfPastDaysToSync": uint64(30)}, "not one of"},
		{"wrong type", map[string]any{"SSL": "yes"}, "schema says <boolean>"},
		{"unknown key", map[string]any{"AccountName": "x"}, "not in Apple's schema"},
	}
	for _, tt := range tests {
		problems := CheckDict("eas", tt.dict, eas.Keys)
		if tt.want == "" && len(problems) > 0 || tt.want != "" && (len(problems) != 1 || !strings.Contains(problems[0], tt.want)) {
			t.Errorf("%s: %v, want %q", tt.name, problems, tt.want)
		}
	}
}
