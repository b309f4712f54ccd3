package web

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"mailroom/internal/profiles"
)

// settingField is one setting of an e-mail profile on the profile form. Key is the
// setting's JSON name (profiles.Settings), which also ends the names validation
// errors carry, so each error lands next to its field.
type settingField struct {
	Key     string
	Label   string
	Kind    string   // "text", "bool" or "select"
	Options []string // for "select"; "" is the choice "none"
}

// settingGroup is a fieldset of the profile form.
type settingGroup struct {
	Name   string
	Fields []settingField
}

var (
	certSources = []string{"", string(profiles.SourceMailroomCA)}
	certTypes   = []string{string(profiles.CertNotConfigured), string(profiles.CertNone), string(profiles.CertDerivedCredential), string(profiles.CertProfile)}
)

// settingForm lists every setting of profiles.Settings, as Intune's "Email settings
// for iOS/iPadOS" groups them. The VPN choices are the registered VPN profiles.
func settingForm(vpns []string) []settingGroup {
	return []settingGroup{
		{"Account", []settingField{
			{"host", "Email server", "text", nil},
			{"accountName", "Account name", "text", nil},
			{"usernameSource", "Username attribute from the directory", "select", []string{string(profiles.UsernameUPN), string(profiles.UsernamePrimarySMTP), string(profiles.UsernameSAM)}},
			{"userDomainSource", "User domain name source (sAMAccountName only)", "select", []string{"", string(profiles.DomainFull), string(profiles.DomainNetBIOS), string(profiles.DomainCustom)}},
			{"customDomain", "Custom domain name", "text", nil},
			{"emailAddressSource", "Email address attribute from the directory", "select", []string{string(profiles.EmailUPN), string(profiles.EmailPrimarySMTP)}},
		}},
		{"Sign-in", []settingField{
			{"authenticationMethod", "Authentication method", "select", []string{string(profiles.AuthPassword), string(profiles.AuthCertificate), string(profiles.AuthDerivedCredential)}},
			{"clientCertificate", "Client certificate for certificate sign-in", "select", certSources},
			{"ssl", "SSL", "bool", nil},
			{"oauth", "OAuth", "bool", nil},
		}},
		{"Synchronisation", []settingField{
			{"dataToSync", "Exchange data to sync", "select", []string{string(profiles.SyncAll), string(profiles.SyncEmail), string(profiles.SyncCalendar), string(profiles.SyncCalendarContacts), string(profiles.SyncContacts)}},
			{"allowSyncChanges", "Allow users to change sync settings", "bool", nil},
			{"mailDays", "Amount of email to synchronize", "select", []string{string(profiles.DaysUserDefined), string(profiles.Days1), string(profiles.Days3), string(profiles.Days7), string(profiles.Days14), string(profiles.Days31), string(profiles.DaysUnlimited)}},
			{"allowMoveMessages", "Allow messages to be moved to other email accounts", "bool", nil},
			{"allowThirdPartySend", "Allow email to be sent from third-party applications", "bool", nil},
			{"syncRecentAddresses", "Synchronize recently used email addresses", "bool", nil},
			{"vpnProfile", "VPN profile for per-account VPN", "select", append([]string{""}, vpns...)},
		}},
		{"S/MIME", []settingField{
			{"smime", "S/MIME", "bool", nil},
			{"smimeSigning", "S/MIME signing enabled", "bool", nil},
			{"smimeSigningUserOverride", "Allow user to change signing", "bool", nil},
			{"smimeSigningCertificateType", "Signing certificate type", "select", certTypes},
			{"smimeSigningCertificate", "Signing certificate", "select", certSources},
			{"smimeSigningCertificateUserOverride", "Allow user to change the signing certificate", "bool", nil},
			{"smimeEncryptByDefault", "Encrypt by default", "bool", nil},
			{"smimeEncryptByDefaultUserOverride", "Allow user to change encrypt by default", "bool", nil},
			{"smimePerMessageSwitch", "Force per-message encryption switch", "bool", nil},
			{"smimeEncryptionCertificateType", "Encryption certificate type", "select", certTypes},
			{"smimeEncryptionCertificate", "Encryption certificate", "select", certSources},
			{"smimeEncryptionCertificateUserOverride", "Allow user to change the encryption certificate", "bool", nil},
		}},
	}
}

// parseSettings reads the profile form. A choice that is not among a select's
// options is refused with a message for its field; everything else is left to
// profiles.Settings.Validate, so the rules live in one place. vpns are the registered
// VPN names.
func parseSettings(form url.Values, vpns []string) (profiles.Settings, map[string]string) {
	errs := map[string]string{}
	m := map[string]any{}
	for _, g := range settingForm(vpns) {
		for _, f := range g.Fields {
			v := strings.TrimSpace(form.Get(f.Key))
			switch f.Kind {
			case "bool":
				m[f.Key] = v == "on"
			case "select":
				if !slices.Contains(f.Options, v) {
					errs[f.Key] = fmt.Sprintf("%q is not one of the choices", v)
					continue
				}
				m[f.Key] = v
			default:
				m[f.Key] = v
			}
		}
	}
	var st profiles.Settings
	if len(errs) > 0 {
		return st, errs
	}
	b, err := json.Marshal(m)
	if err == nil {
		err = json.Unmarshal(b, &st)
	}
	if err != nil {
		// Every value is a string or a bool of the form above; this is a bug.
		errs[""] = "the form could not be read: " + err.Error()
	}
	return st, errs
}

// settingValues is the form of st: what parseSettings reads back as st.
func settingValues(st profiles.Settings) url.Values {
	form := url.Values{}
	b, _ := json.Marshal(st)
	var m map[string]any
	json.Unmarshal(b, &m)
	for k, v := range m {
		switch v := v.(type) {
		case bool:
			if v {
				form.Set(k, "on")
			}
		case string:
			form.Set(k, v)
		}
	}
	return form
}

// settingErrors puts each *profiles.SettingError of err next to its field; errors of
// no field go under "".
func settingErrors(err error) map[string]string {
	errs := map[string]string{}
	add := func(k, msg string) {
		if errs[k] != "" {
			msg = errs[k] + "; " + msg
		}
		errs[k] = msg
	}
	found := errAs[*profiles.SettingError](err)
	for _, se := range found {
		key := ""
		if i, j := strings.LastIndex(se.Setting, "("), strings.LastIndex(se.Setting, ")"); i >= 0 && j > i {
			key = se.Setting[i+1 : j]
		}
		add(key, se.Problem)
	}
	if len(found) == 0 {
		add("", err.Error())
	}
	return errs
}

// fieldView is one setting as the template shows it.
type fieldView struct {
	settingField
	Value string
	Err   string
}

// groupView is a fieldset as the template shows it.
type groupView struct {
	Name   string
	Fields []fieldView
}

// settingsView fills the form's fields with form's values and errs' messages.
func settingsView(vpns []string, form url.Values, errs map[string]string) []groupView {
	var out []groupView
	for _, g := range settingForm(vpns) {
		gv := groupView{Name: g.Name}
		for _, f := range g.Fields {
			gv.Fields = append(gv.Fields, fieldView{f, form.Get(f.Key), errs[f.Key]})
		}
		out = append(out, gv)
	}
	return out
}
