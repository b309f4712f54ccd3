package autodiscover

import (
	"bytes"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestOutlookSettings(t *testing.T) {
	e := newTestEnv(t, nil)
	wantProtocols := []gotProtocol{
		{Type: "IMAP", Server: "mail.example.test", Port: "2993", LoginName: alice, DomainRequired: "off", SPA: "off", SSL: "on", Encryption: "SSL", AuthRequired: "on"},
		{Type: "SMTP", Server: "mail.example.test", Port: "2587", LoginName: alice, DomainRequired: "off", SPA: "off", SSL: "on", Encryption: "TLS", AuthRequired: "on"},
		{Type: "POP3", Server: "mail.example.test", Port: "2995", LoginName: alice, DomainRequired: "off", SPA: "off", SSL: "on", Encryption: "SSL", AuthRequired: "on"},
	}
	for _, tt := range []struct{ name, file, path, login string }{
		{"outlook", "outlook-request.xml", "/autodiscover/autodiscover.xml", alice},
		{"thunderbird", "thunderbird-request.xml", "/autodiscover/autodiscover.xml", alice},
		{"capitalised path", "outlook-request.xml", "/Autodiscover/Autodiscover.xml", alice},
		{"odd case below the folder", "outlook-request.xml", "/autodiscover/AUTODISCOVER.XML", alice},
		{"login by alias", "outlook-request.xml", "/AutoDiscover/AutoDiscover.xml", "AL@example.test"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, false, "POST", tt.path, tt.login, testPassword, readTestdata(t, tt.file, ""))
			if r.status != 200 {
				t.Fatalf("status %d\n%s", r.status, r.body)
			}
			if ct := r.header.Get("Content-Type"); ct != "text/xml; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			if !bytes.HasPrefix(r.body, []byte(`<?xml version="1.0" encoding="UTF-8"?>`)) {
				t.Errorf("no XML declaration:\n%s", r.body)
			}
			got := parseXML[gotOutlook](t, r.body)
			if u := got.Response.User; u == nil || u.DisplayName != "Alice Example" || u.AutoDiscoverSMTPAddress != alice {
				t.Errorf("User = %+v", u)
			}
			a := got.Response.Account
			if a == nil {
				t.Fatalf("no Account:\n%s", r.body)
			}
			if a.AccountType != "email" || a.Action != "settings" || a.RedirectAddr != "" {
				t.Errorf("Account = %q/%q/%q, want email/settings", a.AccountType, a.Action, a.RedirectAddr)
			}
			if len(a.Protocols) != len(wantProtocols) {
				t.Fatalf("%d protocols, want %d:\n%s", len(a.Protocols), len(wantProtocols), r.body)
			}
			for i, p := range a.Protocols {
				if p != wantProtocols[i] {
					t.Errorf("Protocol %d = %+v\nwant %+v", i, p, wantProtocols[i])
				}
			}
			if got.Response.Error != nil {
				t.Errorf("unexpected Error %+v", got.Response.Error)
			}
		})
	}
}

func TestOutlookOnlyConfiguredProtocols(t *testing.T) {
	e := newTestEnv(t, func(c *Config) {
		c.Services.POP3 = MailService{}
		c.Services.IMAP.ImplicitTLSPort = 0 // only the STARTTLS listener
	})
	r := e.do(t, false, "POST", "/autodiscover/autodiscover.xml", alice, testPassword, readTestdata(t, "outlook-request.xml", ""))
	a := parseXML[gotOutlook](t, r.body).Response.Account
	if a == nil || len(a.Protocols) != 2 {
		t.Fatalf("want IMAP and SMTP only:\n%s", r.body)
	}
	if p := a.Protocols[0]; p.Type != "IMAP" || p.Port != "2143" || p.Encryption != "TLS" || p.SSL != "on" {
		t.Errorf("IMAP = %+v, want port 2143 with STARTTLS", p)
	}

	none := newTestEnv(t, func(c *Config) { c.Services = Services{HTTPS: c.Services.HTTPS} })
	r = none.do(t, false, "POST", "/autodiscover/autodiscover.xml", alice, testPassword, readTestdata(t, "outlook-request.xml", ""))
	checkPOXError(t, r, false, 200, "601")
}

func TestOutlookRedirectAddr(t *testing.T) {
	e := newTestEnv(t, nil)
	for _, addr := range []string{aliceAl, "Al@Example.Test"} {
		r := e.do(t, false, "POST", "/autodiscover/autodiscover.xml", alice, testPassword, readTestdata(t, "outlook-request.xml", addr))
		if r.status != 200 {
			t.Fatalf("status %d\n%s", r.status, r.body)
		}
		a := parseXML[gotOutlook](t, r.body).Response.Account
		if a == nil || a.Action != "redirectAddr" || a.RedirectAddr != alice || len(a.Protocols) != 0 {
			t.Errorf("%s: Account = %+v, want redirectAddr to %s", addr, a, alice)
		}
	}
	// The primary address in another case is the same mailbox: settings, no loop.
	r := e.do(t, false, "POST", "/autodiscover/autodiscover.xml", alice, testPassword, readTestdata(t, "outlook-request.xml", "ALICE@example.test"))
	if a := parseXML[gotOutlook](t, r.body).Response.Account; a == nil || a.Action != "settings" {
		t.Errorf("primary address in upper case: %s", r.body)
	}
}

// TestRefusalsAreIdentical: a wrong password, an unknown login, no credentials and a
// signed-in user asking for an address not theirs (someone else's or no one's) all get
// the same bytes, so nothing tells whether an address exists.
func TestRefusalsAreIdentical(t *testing.T) {
	e := newTestEnv(t, nil)
	body := readTestdata(t, "outlook-request.xml", "")
	cases := []struct {
		name, login, password string
		body                  []byte
	}{
		{"wrong password", alice, "wrong password here", body},
		{"unknown login", nobody, testPassword, readTestdata(t, "outlook-request.xml", nobody)},
		{"unknown login, wrong password", nobody, "wrong password here", readTestdata(t, "outlook-request.xml", nobody)},
		{"someone else's address", bob, testPassword, body},
		{"no one's address", alice, testPassword, readTestdata(t, "outlook-request.xml", nobody)},
		{"foreign domain", alice, testPassword, readTestdata(t, "outlook-request.xml", "alice@elsewhere.example")},
		{"mobilesync, someone else's address", bob, testPassword, readTestdata(t, "ios-mobilesync-request.xml", "")},
		{"mobilesync, no one's address", alice, testPassword, readTestdata(t, "ios-mobilesync-request.xml", nobody)},
	}
	var first response
	for i, c := range cases {
		r := e.do(t, false, "POST", "/autodiscover/autodiscover.xml", c.login, c.password, c.body)
		if r.status != 401 {
			t.Errorf("%s: status %d, want 401\n%s", c.name, r.status, r.body)
		}
		if i == 0 {
			first = r
			if got := r.header.Get("WWW-Authenticate"); got != `Basic realm="mail.example.test", charset="UTF-8"` {
				t.Errorf("WWW-Authenticate %q", got)
			}
			continue
		}
		if !bytes.Equal(r.body, first.body) || r.header.Get("WWW-Authenticate") != first.header.Get("WWW-Authenticate") ||
			r.header.Get("Content-Type") != first.header.Get("Content-Type") ||
			r.header.Get("Content-Length") != first.header.Get("Content-Length") {
			t.Errorf("%s: response differs from a wrong password's:\n%v %q\n%v %q", c.name, r.header, r.body, first.header, first.body)
		}
	}
	// Without credentials: the same challenge.
	r := e.do(t, false, "POST", "/autodiscover/autodiscover.xml", "", "", body)
	if r.status != 401 || !bytes.Equal(r.body, first.body) || r.header.Get("WWW-Authenticate") != first.header.Get("WWW-Authenticate") {
		t.Errorf("no credentials: %d %v %q", r.status, r.header, r.body)
	}
}

func TestPOXBadRequests(t *testing.T) {
	e := newTestEnv(t, nil)
	outlook := string(readTestdata(t, "outlook-request.xml", ""))
	mobile := string(readTestdata(t, "ios-mobilesync-request.xml", ""))
	tests := []struct {
		name   string
		body   string
		mobile bool
		status int
		code   string
	}{
		{"not XML", "hello", false, 400, "600"},
		{"empty", "", false, 400, "600"},
		{"truncated", outlook[:len(outlook)-20], false, 400, "600"},
		{"wrong root", `<Autodiscovery xmlns="` + nsOutlookRequest + `"/>`, false, 400, "600"},
		{"no namespace", strings.ReplaceAll(outlook, ` xmlns="`+nsOutlookRequest+`"`, ""), false, 400, "600"},
		{"https namespace", strings.ReplaceAll(outlook, "http://schemas", "https://schemas"), false, 400, "600"},
		{"no Request", `<Autodiscover xmlns="` + nsOutlookRequest + `"/>`, false, 400, "600"},
		{"mobilesync without Request", `<Autodiscover xmlns="` + nsMobileRequest + `"></Autodiscover>`, true, 400, "600"},
		{"mobilesync with two Requests", strings.Replace(mobile, "</Request>", "</Request><Request><EMailAddress>"+alice+"</EMailAddress></Request>", 1), true, 400, "600"},
		{"no address", strings.Replace(outlook, "<EMailAddress>"+alice+"</EMailAddress>", "", 1), false, 400, "600"},
		{"LegacyDN only", strings.Replace(outlook, "<EMailAddress>"+alice+"</EMailAddress>", "<LegacyDN>/o=x/cn=alice</LegacyDN>", 1), false, 400, "600"},
		{"no response schema", strings.Replace(outlook, "<AcceptableResponseSchema>"+nsOutlookResponse+"</AcceptableResponseSchema>", "", 1), false, 400, "600"},
		{"unknown response schema", strings.ReplaceAll(outlook, nsOutlookResponse, "http://example.test/schema"), false, 200, "601"},
		{"mobilesync request, unknown response schema", strings.ReplaceAll(mobile, nsMobileResponse, "http://example.test/schema"), true, 200, "601"},
		{"undefined entity", strings.Replace(outlook, alice, "&evil;", 1), false, 400, "600"},
		{"doctype with external entity", `<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e SYSTEM "file:///etc/passwd">]>` +
			strings.Replace(outlook[strings.Index(outlook, "<Autodiscover"):], alice, "&e;", 1), false, 400, "600"},
		{"latin-1 declared", strings.Replace(outlook, "utf-8", "iso-8859-1", 1), false, 400, "600"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, false, "POST", "/autodiscover/autodiscover.xml", alice, testPassword, []byte(tt.body))
			checkPOXError(t, r, tt.mobile, tt.status, tt.code)
		})
	}
}

func TestPOXOversizedBody(t *testing.T) {
	e := newTestEnv(t, nil)
	body := readTestdata(t, "thunderbird-request.xml", "")
	body = bytes.Replace(body, []byte("<Request>"), append([]byte("<Request><!--"), append(bytes.Repeat([]byte("x"), maxRequestBody), []byte("-->")...)...), 1)
	r := e.do(t, false, "POST", "/autodiscover/autodiscover.xml", alice, testPassword, body)
	checkPOXError(t, r, false, 413, "600")

	// Just under the limit is fine.
	body = readTestdata(t, "thunderbird-request.xml", "")
	pad := maxRequestBody - len(body) - len("<!---->")
	body = append(body, []byte("<!--"+strings.Repeat("x", pad)+"-->")...)
	r = e.do(t, false, "POST", "/autodiscover/autodiscover.xml", alice, testPassword, body)
	if r.status != 200 {
		t.Errorf("request of exactly %d bytes: status %d", len(body), r.status)
	}
}

func TestPOXMethodsAndPlainHTTP(t *testing.T) {
	e := newTestEnv(t, nil)
	// MS-OXDISCO's redirect check: unauthenticated GET on plain HTTP gets a 302 to HTTPS.
	for _, path := range []string{"/autodiscover/autodiscover.xml", "/Autodiscover/Autodiscover.xml"} {
		r := e.do(t, true, "GET", path, "", "", nil, "Host", "autodiscover.example.test")
		if r.status != 302 || r.header.Get("Location") != "https://mail.example.test:8443"+path {
			t.Errorf("plain GET %s: %d Location %q", path, r.status, r.header.Get("Location"))
		}
	}
	// Credentials over plain HTTP are never checked.
	r := e.do(t, true, "POST", "/autodiscover/autodiscover.xml", alice, testPassword, readTestdata(t, "outlook-request.xml", ""))
	if r.status != 302 {
		t.Errorf("plain POST: status %d", r.status)
	}
	// A signed-in GET over HTTPS has no request to answer.
	checkPOXError(t, e.do(t, false, "GET", "/autodiscover/autodiscover.xml", alice, testPassword, nil), false, 400, "600")
	if r := e.do(t, false, "GET", "/autodiscover/autodiscover.xml", "", "", nil); r.status != 401 {
		t.Errorf("unauthenticated GET over HTTPS: status %d", r.status)
	}
	if r := e.do(t, false, "PUT", "/autodiscover/autodiscover.xml", alice, testPassword, nil); r.status != 405 || r.header.Get("Allow") != "POST, GET" {
		t.Errorf("PUT: %d Allow %q", r.status, r.header.Get("Allow"))
	}
	if r := e.do(t, false, "GET", "/autodiscover/other.xml", "", "", nil); r.status != 404 {
		t.Errorf("unknown path: status %d", r.status)
	}
	noHTTPS := newTestEnv(t, func(c *Config) { c.Services.HTTPS = "" })
	if r := noHTTPS.do(t, true, "GET", "/autodiscover/autodiscover.xml", "", "", nil); r.status != 404 {
		t.Errorf("plain GET without an HTTPS listener: status %d", r.status)
	}
}

func TestParseRequest(t *testing.T) {
	req, err := parseRequest(readTestdata(t, "ios-mobilesync-request.xml", ""))
	if err != nil {
		t.Fatal(err)
	}
	want := poxRequest{Mobile: true, EMailAddress: alice, AcceptableResponseSchema: nsMobileResponse}
	if req != want {
		t.Errorf("parseRequest = %+v, want %+v", req, want)
	}
	req, err = parseRequest([]byte(`<Autodiscover xmlns="` + nsOutlookRequest + `"><Request>
		<EMailAddress> alice@example.test </EMailAddress><LegacyDN>/o=x</LegacyDN>
		<AcceptableResponseSchema>` + nsOutlookResponse + `</AcceptableResponseSchema></Request></Autodiscover>`))
	if err != nil {
		t.Fatal(err)
	}
	want = poxRequest{EMailAddress: alice, LegacyDN: "/o=x", AcceptableResponseSchema: nsOutlookResponse}
	if req != want {
		t.Errorf("parseRequest = %+v, want %+v", req, want)
	}
}

func FuzzAutodiscoverRequest(f *testing.F) {
	for _, name := range []string{"outlook-request.xml", "thunderbird-request.xml", "ios-mobilesync-request.xml"} {
		f.Add(readTestdata(f, name, ""))
	}
	f.Add([]byte(`<Autodiscover xmlns="` + nsMobileRequest + `"><Request/><Request/></Autodiscover>`))
	f.Add([]byte(`<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := parseRequest(body)
		if err != nil {
			if req.EMailAddress != "" || req.AcceptableResponseSchema != "" {
				t.Errorf("failed parse returned fields: %+v", req)
			}
			return
		}
		if req.AcceptableResponseSchema == "" {
			t.Errorf("accepted a request without AcceptableResponseSchema: %q", body)
		}
		for _, s := range []string{req.EMailAddress, req.LegacyDN, req.AcceptableResponseSchema} {
			if s != strings.TrimSpace(s) {
				t.Errorf("value %q not trimmed", s)
			}
		}
	})
}

// TestPathCaseFolding: only ASCII letters fold, so a path with a non-ASCII letter that
// lower-cases to an ASCII one is not taken for a known path.
func TestPathCaseFolding(t *testing.T) {
	h := New(Config{Hostname: "mail.example.test", Services: testServices(), Directory: newTestDirectory(t)})
	for path, want := range map[string]int{
		"/AUTODISCOVER/AUTODISCOVER.JSON/V1.0/" + alice + "?Protocol=ActiveSync":       200,
		"/autod\u0130scover/autodiscover.json/v1.0/" + alice + "?Protocol=ActiveSync":  404,
		"/autodiscover/autodiscover.json/v1.0/\u212a@example.test?Protocol=ActiveSync": 200,
	} {
		req := httptest.NewRequest("GET", "https://mail.example.test"+path, nil)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != want {
			t.Errorf("%s: status %d, want %d", path, w.Code, want)
		}
	}
}
