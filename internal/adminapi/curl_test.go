package adminapi_test

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestCurl drives the API with curl, a client that shares no code with the server:
// the Basic challenge, a create, a read and the error form.
func TestCurl(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed")
	}
	e := newEnv(t)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	must(t, os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: e.ts.Certificate().Raw}), 0o600))
	// curl runs the request and prints the headers, then the body, then the status.
	curl := func(args ...string) (code int, headers, body string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		hdr := filepath.Join(t.TempDir(), "headers")
		args = append([]string{"-sS", "--cacert", ca, "-D", hdr, "-w", "\n%{http_code}"}, args...)
		out, err := exec.CommandContext(ctx, "curl", args...).Output()
		if err != nil {
			t.Fatalf("curl %v: %v", args, err)
		}
		s := string(out)
		i := strings.LastIndexByte(s, '\n')
		code, err = strconv.Atoi(s[i+1:])
		must(t, err)
		h, err := os.ReadFile(hdr)
		must(t, err)
		return code, string(h), s[:i]
	}
	base := e.ts.URL + "/api/v1/"
	auth := adminLogin + ":" + password

	code, headers, _ := curl(base + "users")
	if code != http.StatusUnauthorized || !strings.Contains(strings.ToLower(headers), `www-authenticate: basic realm="mailroom admin"`) {
		t.Errorf("without credentials: %d\n%s", code, headers)
	}
	code, _, body := curl("-u", auth, "-H", "Content-Type: application/json",
		"--data", `{"address":"dave@example.test","password":"correct horse battery","displayName":"Dave"}`, base+"users")
	if code != http.StatusCreated || !strings.Contains(body, `"displayName": "Dave"`) {
		t.Errorf("create: %d %s", code, body)
	}
	code, headers, body = curl("-u", auth, base+"users/dave@example.test")
	var u struct {
		Address string `json:"address"`
		Admin   bool   `json:"admin"`
	}
	if code != http.StatusOK || json.Unmarshal([]byte(body), &u) != nil || u.Address != "dave@example.test" || u.Admin {
		t.Errorf("show: %d %s", code, body)
	}
	if !strings.Contains(strings.ToLower(headers), "content-type: application/json") {
		t.Errorf("show headers:\n%s", headers)
	}
	code, _, body = curl("-u", auth, "-X", "PATCH", "-H", "Content-Type: application/json", "--data", `{"sam":"no/slash"}`, base+"users/dave@example.test")
	if code != http.StatusBadRequest || !strings.Contains(body, `"field": "sam"`) {
		t.Errorf("bad update: %d %s", code, body)
	}
	code, _, _ = curl("-u", aliceLogin+":"+password, base+"domains")
	if code != http.StatusForbidden {
		t.Errorf("as alice: %d", code)
	}
}
