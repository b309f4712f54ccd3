package autodiscover

import "testing"

func TestMobileSyncSettings(t *testing.T) {
	e := newTestEnv(t, nil)
	r := e.do(t, false, "POST", "/Autodiscover/Autodiscover.xml", alice, testPassword, readTestdata(t, "ios-mobilesync-request.xml", ""))
	if r.status != 200 {
		t.Fatalf("status %d\n%s", r.status, r.body)
	}
	resp := parseXML[gotMobile](t, r.body).Response
	if resp.Culture != "en:us" {
		t.Errorf("Culture %q", resp.Culture)
	}
	if u := resp.User; u == nil || u.DisplayName != "Alice Example" || u.EMailAddress != alice {
		t.Errorf("User = %+v", u)
	}
	if resp.Action == nil || resp.Action.Settings == nil || len(resp.Action.Settings.Servers) != 1 {
		t.Fatalf("no Action/Settings/Server:\n%s", r.body)
	}
	s := resp.Action.Settings.Servers[0]
	const url = "https://mail.example.test:8443/Microsoft-Server-ActiveSync"
	if s.Type != "MobileSync" || s.URL != url || s.Name != url {
		t.Errorf("Server = %+v, want MobileSync %s", s, url)
	}
	if resp.Error != nil || resp.Action.Redirect != "" {
		t.Errorf("unexpected Error %+v / Redirect %q", resp.Error, resp.Action.Redirect)
	}
}

func TestMobileSyncRedirect(t *testing.T) {
	e := newTestEnv(t, nil)
	r := e.do(t, false, "POST", "/autodiscover/autodiscover.xml", aliceAl, testPassword, readTestdata(t, "ios-mobilesync-request.xml", aliceAl))
	resp := parseXML[gotMobile](t, r.body).Response
	if resp.Action == nil || resp.Action.Redirect != alice || resp.Action.Settings != nil {
		t.Errorf("want Redirect to %s:\n%s", alice, r.body)
	}
}

func TestMobileSyncWithoutActiveSync(t *testing.T) {
	e := newTestEnv(t, func(c *Config) { c.Services.ActiveSync = "" })
	r := e.do(t, false, "POST", "/autodiscover/autodiscover.xml", alice, testPassword, readTestdata(t, "ios-mobilesync-request.xml", ""))
	checkPOXError(t, r, true, 200, "601")
}
