package web

import (
	"encoding/json"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"

	"mailroom/internal/profiles"
)

// TestFormCoversEverySetting: the profile form has a field for every setting of
// profiles.Settings, so none can only be set from the command line.
func TestFormCoversEverySetting(t *testing.T) {
	var keys []string
	for _, g := range settingForm(nil) {
		for _, f := range g.Fields {
			keys = append(keys, f.Key)
		}
	}
	typ := reflect.TypeFor[profiles.Settings]()
	for i := range typ.NumField() {
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		if !slices.Contains(keys, name) {
			t.Errorf("setting %s (%s) is not on the form", typ.Field(i).Name, name)
		}
	}
	if len(keys) != typ.NumField() {
		t.Errorf("form has %d fields, Settings %d", len(keys), typ.NumField())
	}
}

// TestSettingsRoundTrip: the form of a profile's settings reads back as the same
// settings.
func TestSettingsRoundTrip(t *testing.T) {
	st := profiles.DefaultSettings()
	st.Host, st.AccountName, st.VPN = "mail.example.test", "Mail", "corp-vpn"
	st.SMIME, st.SigningEnabled, st.SigningCertType, st.SigningCertificate = true, true, profiles.CertProfile, profiles.SourceMailroomCA
	got, errs := parseSettings(settingValues(st), []string{"corp-vpn"})
	if len(errs) > 0 || got != st {
		t.Fatalf("round trip: %+v %v, want %+v", got, errs, st)
	}
}

// TestSettingErrors: each validation error lands on the field its setting names.
func TestSettingErrors(t *testing.T) {
	st := profiles.DefaultSettings()
	st.Auth = profiles.AuthCertificate
	errs := settingErrors(st.Validate(profiles.Config{}))
	for _, k := range []string{"host", "accountName", "clientCertificate"} {
		if errs[k] == "" {
			t.Errorf("no error for %s in %v", k, errs)
		}
	}
}

// FuzzParseSettings: any form either parses into settings whose form reads back the
// same, or is refused with messages; it never panics.
func FuzzParseSettings(f *testing.F) {
	st := profiles.DefaultSettings()
	st.Host = "mail.example.test"
	f.Add(settingValues(st).Encode())
	f.Add("host=a&mailDays=9&smime=on&usernameSource=sam&userDomainSource=custom&customDomain=x")
	f.Add("authenticationMethod=%00&vpnProfile=v")
	f.Fuzz(func(t *testing.T, query string) {
		form, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		got, errs := parseSettings(form, []string{"v"})
		if len(errs) > 0 {
			for k := range errs {
				known := slices.ContainsFunc(settingForm([]string{"v"}), func(g settingGroup) bool {
					return slices.ContainsFunc(g.Fields, func(f settingField) bool { return f.Key == k })
				})
				if !known {
					t.Fatalf("error for a field the form does not have: %q", k)
				}
			}
			return
		}
		again, errs := parseSettings(settingValues(got), []string{"v"})
		if len(errs) > 0 || again != got {
			a, _ := json.Marshal(got)
			b, _ := json.Marshal(again)
			t.Fatalf("round trip changed the settings:\n%s\n%s %v", a, b, errs)
		}
	})
}
