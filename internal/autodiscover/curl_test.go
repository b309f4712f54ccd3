package autodiscover

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// curl runs curl with args against the test servers and returns its standard output.
// -k: the test server's certificate is self-signed; -s -S: quiet but report errors.
func curl(t *testing.T, args ...string) []byte {
	t.Helper()
	bin, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl not installed")
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, append([]string{"-k", "-s", "-S", "--max-time", "10"}, args...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("curl %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return stdout.Bytes()
}

// TestCurlInClientOrder follows the order clients try: the authenticated POST over
// HTTPS, the unauthenticated GET over plain HTTP that only learns the redirect, v2,
// and Thunderbird's autoconfig on the autoconfig host.
func TestCurlInClientOrder(t *testing.T) {
	e := newTestEnv(t, nil)
	request, err := filepath.Abs(filepath.Join("testdata", "outlook-request.xml"))
	if err != nil {
		t.Fatal(err)
	}

	// 1. POST https://DOMAIN/autodiscover/autodiscover.xml with the user's credentials.
	out := curl(t, "--user", alice+":"+testPassword, "-H", "Content-Type: text/xml; charset=utf-8",
		"--data-binary", "@"+request, "-w", "\n%{http_code}", e.tls.URL+"/autodiscover/autodiscover.xml")
	nl := bytes.LastIndexByte(out, '\n')
	body, code := out[:max(nl, 0)], out[nl+1:]
	if string(code) != "200" {
		t.Fatalf("POST: %s", out)
	}
	got := parseXML[gotOutlook](t, body)
	if a := got.Response.Account; a == nil || a.Action != "settings" || len(a.Protocols) != 3 || a.Protocols[0].Port != "2993" {
		t.Errorf("POST answer: %s", body)
	}

	// The same with a wrong password: 401 and a Basic challenge.
	out = curl(t, "--user", alice+":nope", "--data-binary", "@"+request, "-o", "/dev/null",
		"-w", "%{http_code} %header{www-authenticate}", e.tls.URL+"/autodiscover/autodiscover.xml")
	if !strings.HasPrefix(string(out), `401 Basic realm="mail.example.test"`) {
		t.Errorf("wrong password: %s", out)
	}

	// 3. GET http://autodiscover.DOMAIN/autodiscover/autodiscover.xml, no credentials:
	// a redirect to the HTTPS URL.
	out = curl(t, "-H", "Host: autodiscover.example.test", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}",
		e.plain.URL+"/autodiscover/autodiscover.xml")
	if string(out) != "302 https://mail.example.test:8443/autodiscover/autodiscover.xml" {
		t.Errorf("plain GET: %s", out)
	}

	// Autodiscover v2, as Outlook mobile asks.
	out = curl(t, e.tls.URL+"/autodiscover/autodiscover.json/v1.0/"+alice+"?Protocol=ActiveSync")
	var v2 struct{ Protocol, Url string }
	if err := json.Unmarshal(out, &v2); err != nil || v2.Url != "https://mail.example.test:8443/Microsoft-Server-ActiveSync" {
		t.Errorf("v2: %s (%v)", out, err)
	}

	// Thunderbird: https://autoconfig.DOMAIN/mail/config-v1.1.xml?emailaddress=…, then
	// the plain-HTTP variant.
	for _, base := range []string{e.tls.URL, e.plain.URL} {
		out = curl(t, "-H", "Host: autoconfig.example.test", base+"/mail/config-v1.1.xml?emailaddress="+alice)
		cc := parseXML[gotClientConfig](t, out)
		if cc.Provider.ID != "example.test" || len(cc.Provider.Incoming) == 0 || cc.Provider.Incoming[0].Port != 2993 {
			t.Errorf("autoconfig from %s: %s", base, out)
		}
	}

	// iOS: the profile for the signed-in user.
	out = curl(t, "--user", alice+":"+testPassword, "-D", "-", e.tls.URL+"/autodiscover/mail.mobileconfig?emailaddress="+alice)
	if !bytes.Contains(out, []byte("application/x-apple-aspen-config")) || !bytes.Contains(out, []byte("<string>com.apple.mail.managed</string>")) {
		t.Errorf("mobileconfig: %s", out)
	}
}
