package autodiscover

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

func TestAutodiscoverV2(t *testing.T) {
	e := newTestEnv(t, nil)
	const (
		eas = "https://mail.example.test:8443/Microsoft-Server-ActiveSync"
		v1  = "https://mail.example.test:8443/autodiscover/autodiscover.xml"
	)
	tests := []struct {
		path          string
		protocol, url string
	}{
		{"/autodiscover/autodiscover.json?Email=" + url.QueryEscape(alice) + "&Protocol=ActiveSync&RedirectCount=1", "ActiveSync", eas},
		{"/autodiscover/autodiscover.json/v1.0/" + alice + "?Protocol=ActiveSync", "ActiveSync", eas},
		{"/autodiscover/autodiscover.json/v1.0/" + alice + "?Protocol=activesync", "ActiveSync", eas},
		{"/autodiscover/autodiscover.json/v1.0/" + alice + "?Protocol=AutodiscoverV1", "AutodiscoverV1", v1},
		{"/autodiscover/autodiscover.json/v1.0/" + alice + "?Protocol=Autodiscoverv1", "AutodiscoverV1", v1},
		{"/Autodiscover/Autodiscover.json/v1.0/" + alice + "?protocol=AUTODISCOVERV1", "AutodiscoverV1", v1},
		{"/autodiscover/autodiscover.json?email=" + alice + "&protocol=autodiscoverv1", "AutodiscoverV1", v1},
	}
	for _, tt := range tests {
		r := e.do(t, false, "GET", tt.path, "", "", nil)
		if r.status != 200 {
			t.Errorf("%s: status %d %s", tt.path, r.status, r.body)
			continue
		}
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("%s: Content-Type %q", tt.path, ct)
		}
		// As Outlook reads it: a JSON object with Protocol and Url.
		var got struct{ Protocol, Url string }
		dec := json.NewDecoder(bytes.NewReader(r.body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&got); err != nil {
			t.Errorf("%s: %v in %s", tt.path, err, r.body)
		}
		if got.Protocol != tt.protocol || got.Url != tt.url {
			t.Errorf("%s: got %+v, want %s %s", tt.path, got, tt.protocol, tt.url)
		}
	}
}

func TestAutodiscoverV2Errors(t *testing.T) {
	e := newTestEnv(t, nil)
	tests := []struct {
		path, code, message string
	}{
		{"/autodiscover/autodiscover.json/v1.0/" + alice + "?Protocol=Ews", "InvalidProtocol",
			"The given protocol value 'Ews' is invalid. Supported values are 'ActiveSync,AutodiscoverV1'"},
		{"/autodiscover/autodiscover.json/v1.0/" + alice + "?Protocol=Rest", "InvalidProtocol", ""},
		{"/autodiscover/autodiscover.json/v1.0/" + alice, "InvalidProtocol", ""},
		{"/autodiscover/autodiscover.json?Protocol=ActiveSync", "InvalidUser", ""},
		{"/autodiscover/autodiscover.json?Email=alice&Protocol=ActiveSync", "InvalidUser", ""},
		{"/autodiscover/autodiscover.json/v1.0/?Protocol=ActiveSync", "InvalidUser", ""},
	}
	for _, tt := range tests {
		r := e.do(t, false, "GET", tt.path, "", "", nil)
		if r.status != 400 {
			t.Errorf("%s: status %d, want 400", tt.path, r.status)
		}
		var got struct{ ErrorCode, ErrorMessage string }
		if err := json.Unmarshal(r.body, &got); err != nil {
			t.Errorf("%s: %v in %s", tt.path, err, r.body)
		}
		if got.ErrorCode != tt.code || got.ErrorMessage == "" || tt.message != "" && got.ErrorMessage != tt.message {
			t.Errorf("%s: got %+v, want %s %q", tt.path, got, tt.code, tt.message)
		}
	}
	// Only what is offered is listed.
	noEAS := newTestEnv(t, func(c *Config) { c.Services.ActiveSync = "" })
	r := noEAS.do(t, false, "GET", "/autodiscover/autodiscover.json/v1.0/"+alice+"?Protocol=ActiveSync", "", "", nil)
	if r.status != 400 || !bytes.Contains(r.body, []byte(`Supported values are 'AutodiscoverV1'`)) {
		t.Errorf("without ActiveSync: %d %s", r.status, r.body)
	}
	if r := e.do(t, false, "POST", "/autodiscover/autodiscover.json/v1.0/"+alice+"?Protocol=ActiveSync", "", "", []byte("{}")); r.status != 405 {
		t.Errorf("POST: status %d", r.status)
	}
}

// TestAutodiscoverV2SameForEveryAddress: v2 is unauthenticated, so its answer must not
// depend on whether the address exists.
func TestAutodiscoverV2SameForEveryAddress(t *testing.T) {
	e := newTestEnv(t, nil)
	var first []byte
	for i, addr := range []string{alice, aliceAl, nobody, "someone@elsewhere.example"} {
		r := e.do(t, false, "GET", "/autodiscover/autodiscover.json/v1.0/"+addr+"?Protocol=ActiveSync", "", "", nil)
		if i == 0 {
			first = r.body
		} else if r.status != 200 || !bytes.Equal(r.body, first) {
			t.Errorf("%s: %d %s, want %s", addr, r.status, r.body, first)
		}
	}
}
