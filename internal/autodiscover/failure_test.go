package autodiscover

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"mailroom/internal/auth"
	"mailroom/internal/directory"
)

// brokenDirectory fails every call as a directory whose database is gone would.
type brokenDirectory struct{ user directory.User }

var errBroken = errors.New("database is closed")

// Password signs b.user in, if set; it is the sign-in service over the directory.
func (b brokenDirectory) Password(context.Context, string, string, auth.Source) (directory.User, error) {
	if b.user.ID != 0 {
		return b.user, nil
	}
	return directory.User{}, errBroken
}

func (brokenDirectory) Bearer(context.Context, string, string, auth.Source) (directory.User, error) {
	return directory.User{}, errBroken
}

func (brokenDirectory) TokensEnabled() bool { return true }

func (brokenDirectory) User(context.Context, string) (directory.User, error) {
	return directory.User{}, errBroken
}

func (brokenDirectory) Domains(context.Context) ([]directory.Domain, error) { return nil, errBroken }

// TestDirectoryFailures: a failing directory is a server error, never a 401 that would
// make the client ask for the password again, and never a panic.
func TestDirectoryFailures(t *testing.T) {
	signedIn := brokenDirectory{user: directory.User{ID: 7, Address: alice, Domain: "example.test"}}
	tests := []struct {
		name   string
		dir    brokenDirectory
		method string
		path   string
		body   string
		status int
	}{
		{"authenticate", brokenDirectory{}, "POST", "/autodiscover/autodiscover.xml", "x", 500},
		{"address lookup", signedIn, "POST", "/autodiscover/autodiscover.xml", string(readTestdata(t, "outlook-request.xml", "")), 500},
		{"profile address lookup", signedIn, "GET", "/autodiscover/mail.mobileconfig?emailaddress=" + alice, "", 500},
		{"domains", brokenDirectory{}, "GET", "/mail/config-v1.1.xml", "", 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := New(Config{Hostname: "mail.example.test", Services: testServices(), Directory: tt.dir, Auth: tt.dir})
			req := httptest.NewRequest(tt.method, "https://mail.example.test"+tt.path, strings.NewReader(tt.body))
			req.SetBasicAuth(alice, testPassword)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != tt.status {
				t.Errorf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
		})
	}
	// The profile without emailaddress needs no lookup.
	h := New(Config{Hostname: "mail.example.test", Services: testServices(), Directory: signedIn, Auth: signedIn})
	req := httptest.NewRequest("GET", "https://mail.example.test/autodiscover/mail.mobileconfig", nil)
	req.SetBasicAuth(alice, testPassword)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		t.Errorf("profile for the signed-in user: %d %s", w.Code, w.Body)
	}
}
