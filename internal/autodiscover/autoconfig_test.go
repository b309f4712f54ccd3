package autodiscover

import (
	"encoding/xml"
	"slices"
	"testing"
)

// gotClientConfig reads config-v1.1.xml the way Thunderbird's readFromXML does: by
// element names, no namespace.
type gotClientConfig struct {
	XMLName  xml.Name `xml:"clientConfig"`
	Version  string   `xml:"version,attr"`
	Provider struct {
		ID               string      `xml:"id,attr"`
		Domains          []string    `xml:"domain"`
		DisplayName      string      `xml:"displayName"`
		DisplayShortName string      `xml:"displayShortName"`
		Incoming         []gotServer `xml:"incomingServer"`
		Outgoing         []gotServer `xml:"outgoingServer"`
	} `xml:"emailProvider"`
	AddressBooks []gotDAV `xml:"addressBook"`
	Calendars    []gotDAV `xml:"calendar"`
}

type gotServer struct {
	Type           string `xml:"type,attr"`
	Hostname       string `xml:"hostname"`
	Port           int    `xml:"port"`
	SocketType     string `xml:"socketType"`
	Authentication string `xml:"authentication"`
	Username       string `xml:"username"`
	EASURL         string `xml:"easURL"`
}

type gotDAV struct {
	Type           string `xml:"type,attr"`
	Username       string `xml:"username"`
	Authentication string `xml:"authentication"`
	ServerURL      string `xml:"serverURL"`
}

func TestAutoconfig(t *testing.T) {
	e := newTestEnv(t, nil)
	tests := []struct {
		name   string
		plain  bool
		path   string
		host   string
		wantID string
	}{
		{"well-known on the domain", false, "/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=" + alice, "example.test", "example.test"},
		{"autoconfig host", false, "/mail/config-v1.1.xml?emailaddress=" + alice, "autoconfig.example.org", "example.org"},
		{"autoconfig host with port, plain HTTP", true, "/mail/config-v1.1.xml", "autoconfig.example.org:80", "example.org"},
		{"emailaddress names the domain", false, "/mail/config-v1.1.xml?emailaddress=x@example.org", "mail.example.test", "example.org"},
		{"no emailaddress: hostname's parent", false, "/mail/config-v1.1.xml", "mail.example.test", "example.test"},
		{"foreign host and address fall back", false, "/mail/config-v1.1.xml?emailaddress=x@evil.example", "autoconfig.evil.example", "example.test"},
		{"draft mail-v1.xml", false, "/.well-known/mail-v1.xml?emailaddress=" + alice, "autoconfig.example.test", "example.test"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, tt.plain, "GET", tt.path, "", "", nil, "Host", tt.host)
			if r.status != 200 {
				t.Fatalf("status %d %s", r.status, r.body)
			}
			cc := parseXML[gotClientConfig](t, r.body)
			if cc.Version != "1.1" || cc.Provider.ID != tt.wantID {
				t.Errorf("version %q id %q, want 1.1 %s", cc.Version, cc.Provider.ID, tt.wantID)
			}
			if !slices.Equal(cc.Provider.Domains, []string{"example.org", "example.test"}) {
				t.Errorf("domains %v", cc.Provider.Domains)
			}
			if cc.Provider.DisplayName == "" || cc.Provider.DisplayShortName == "" {
				t.Errorf("display names %q %q", cc.Provider.DisplayName, cc.Provider.DisplayShortName)
			}
			host := "mail.example.test"
			eas := "https://mail.example.test:8443/Microsoft-Server-ActiveSync"
			pw, addr := "password-cleartext", "%EMAILADDRESS%"
			wantIn := []gotServer{
				{"imap", host, 2993, "SSL", pw, addr, ""},
				{"imap", host, 2143, "STARTTLS", pw, addr, ""},
				{"pop3", host, 2995, "SSL", pw, addr, ""},
				{"pop3", host, 2110, "STARTTLS", pw, addr, ""},
				{"exchange", host, 8443, "SSL", pw, addr, eas},
			}
			if !slices.Equal(cc.Provider.Incoming, wantIn) {
				t.Errorf("incoming servers\n%+v\nwant\n%+v", cc.Provider.Incoming, wantIn)
			}
			wantOut := []gotServer{
				{"smtp", host, 2587, "STARTTLS", pw, addr, ""},
				{"smtp", host, 2465, "SSL", pw, addr, ""},
			}
			if !slices.Equal(cc.Provider.Outgoing, wantOut) {
				t.Errorf("outgoing servers\n%+v\nwant\n%+v", cc.Provider.Outgoing, wantOut)
			}
			if want := []gotDAV{{"carddav", addr, "http-basic", "https://mail.example.test:8443/.well-known/carddav"}}; !slices.Equal(cc.AddressBooks, want) {
				t.Errorf("addressBook %+v, want %+v", cc.AddressBooks, want)
			}
			if want := []gotDAV{{"caldav", addr, "http-basic", "https://mail.example.test:8443/.well-known/caldav"}}; !slices.Equal(cc.Calendars, want) {
				t.Errorf("calendar %+v, want %+v", cc.Calendars, want)
			}
		})
	}
}

func TestAutoconfigOnlyConfigured(t *testing.T) {
	e := newTestEnv(t, func(c *Config) {
		c.Services = Services{IMAP: MailService{Host: "imap.example.test", ImplicitTLSPort: 993},
			Submission: MailService{Host: "smtp.example.test", STARTTLSPort: 587}}
	})
	r := e.do(t, false, "GET", "/mail/config-v1.1.xml", "", "", nil, "Host", "autoconfig.example.test")
	cc := parseXML[gotClientConfig](t, r.body)
	if len(cc.Provider.Incoming) != 1 || cc.Provider.Incoming[0].Port != 993 || cc.Provider.Incoming[0].Hostname != "imap.example.test" {
		t.Errorf("incoming %+v", cc.Provider.Incoming)
	}
	if len(cc.Provider.Outgoing) != 1 || cc.Provider.Outgoing[0].Port != 587 {
		t.Errorf("outgoing %+v", cc.Provider.Outgoing)
	}
	if len(cc.AddressBooks)+len(cc.Calendars) != 0 {
		t.Errorf("DAV entries without DAV: %s", r.body)
	}
	if r := e.do(t, false, "POST", "/mail/config-v1.1.xml", "", "", []byte("x")); r.status != 405 {
		t.Errorf("POST: status %d", r.status)
	}
}
