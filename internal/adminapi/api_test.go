package adminapi_test

import (
	"net/http"
	"strings"
	"testing"

	"mailroom/internal/activesync"
	"mailroom/internal/directory"
	"mailroom/internal/pki"
	"mailroom/internal/profiles"
	"mailroom/internal/queue"
)

const goodSettings = `{"host":"mail.example.test","accountName":"Work"}`

// TestBadInput: every resource refuses bad input with 400 naming the field, and
// stores nothing of the refused request.
func TestBadInput(t *testing.T) {
	e := newEnv(t)
	e.admin("POST", "groups", map[string]string{"name": "staff"}, http.StatusCreated, nil)
	e.admin("POST", "shared", map[string]string{"address": "info@example.test"}, http.StatusCreated, nil)
	e.admin("POST", "profiles", `{"name":"work","settings":`+goodSettings+`}`, http.StatusCreated, nil)
	cases := []struct {
		name, method, path, body string
		field                    string
		gone                     string // a path that must still answer 404 afterwards
	}{
		{"domain name", "POST", "domains", `{"name":"not_a_domain"}`, "name", "domains/not_a_domain"},
		{"domain netbios", "POST", "domains", `{"name":"new.test","netbios":"NO SPACES"}`, "netbios", "domains/new.test"},
		{"domain type", "POST", "domains", `{"name":7}`, "name", ""},
		{"user address", "POST", "users", `{"address":"carol","password":"correct horse battery"}`, "address", ""},
		{"user foreign domain", "POST", "users", `{"address":"carol@elsewhere.test","password":"correct horse battery"}`, "address", "users/carol@elsewhere.test"},
		{"user weak password", "POST", "users", `{"address":"carol@example.test","password":"short"}`, "password", "users/carol@example.test"},
		{"user upn", "POST", "users", `{"address":"carol@example.test","password":"correct horse battery","upn":"carol"}`, "upn", "users/carol@example.test"},
		{"user sam", "POST", "users", `{"address":"carol@example.test","password":"correct horse battery","sam":"a/b"}`, "sam", "users/carol@example.test"},
		{"user unknown field", "POST", "users", `{"adress":"carol@example.test"}`, "adress", ""},
		{"user admin type", "POST", "users", `{"address":"carol@example.test","password":"correct horse battery","admin":"yes"}`, "admin", "users/carol@example.test"},
		{"patch display name", "PATCH", "users/alice@example.test", `{"displayName":""}`, "displayName", ""},
		{"patch sam", "PATCH", "users/alice@example.test", `{"sam":"x:y","enabled":false}`, "sam", ""},
		{"patch enabled type", "PATCH", "users/alice@example.test", `{"enabled":"no"}`, "enabled", ""},
		{"password is the name", "PUT", "users/alice@example.test/password", `{"password":"alice"}`, "password", ""},
		{"alias syntax", "POST", "users/alice@example.test/aliases", `{"alias":"no-at-sign"}`, "alias", ""},
		{"alias domain", "POST", "users/alice@example.test/aliases", `{"alias":"al@elsewhere.test"}`, "alias", ""},
		{"group name", "POST", "groups", `{"name":"a@b"}`, "name", ""},
		{"group address", "POST", "groups", `{"name":"sales","address":"sales@elsewhere.test"}`, "address", "groups/sales"},
		{"group member", "POST", "groups/staff/members", `{"member":"nobody@example.test"}`, "member", ""},
		{"shared address", "POST", "shared", `{"address":"@example.test"}`, "address", ""},
		{"shared password", "POST", "shared", `{"address":"x@example.test","password":"correct horse battery"}`, "password", "users/x@example.test"},
		{"grant right", "POST", "shared/info@example.test/grants", `{"user":"alice@example.test","right":"Everything"}`, "right", ""},
		{"grant user", "POST", "shared/info@example.test/grants", `{"user":"nobody@example.test","right":"SendAs"}`, "user", ""},
		{"users kind", "GET", "users?kind=robot", "", "kind", ""},
		{"rule field", "POST", "device-rules", `{"field":"os","pattern":"iOS*","access":"block"}`, "field", ""},
		{"rule pattern", "POST", "device-rules", `{"field":"device-type","pattern":" ","access":"block"}`, "pattern", ""},
		{"rule access", "POST", "device-rules", `{"field":"device-type","pattern":"iPhone","access":"maybe"}`, "access", ""},
		{"default access", "PUT", "device-rules/default", `{"access":"maybe"}`, "access", ""},
		{"profile host", "POST", "profiles", `{"name":"bad","settings":{"accountName":"Work"}}`, "settings.host", "profiles/bad"},
		{"profile setting type", "POST", "profiles", `{"name":"bad","settings":{"ssl":"yes"}}`, "settings.ssl", "profiles/bad"},
		{"profile unknown setting", "POST", "profiles", `{"name":"bad","settings":{"colour":"red"}}`, "colour", "profiles/bad"},
		{"profile name", "POST", "profiles", `{"name":"a/b","settings":` + goodSettings + `}`, "name", ""},
		{"profile dry run flag", "POST", "profiles?dryRun=perhaps", `{"name":"bad","settings":` + goodSettings + `}`, "dryRun", "profiles/bad"},
		{"profile update", "PUT", "profiles/work", `{"settings":{"host":"mail.example.test","accountName":"Work","mailDays":"2"}}`, "settings.mailDays", ""},
		{"profile vpn", "PUT", "profiles/work?dryRun=true", `{"settings":{"host":"mail.example.test","accountName":"Work","vpnProfile":"none"}}`, "settings.vpnProfile", ""},
		{"assignment group", "POST", "profiles/work/assignments", `{"group":"nogroup"}`, "group", ""},
		{"assignment mode", "POST", "profiles/work/assignments", `{"group":"staff","mode":"sometimes"}`, "mode", ""},
		{"status state", "GET", "profiles/work/status?state=happy", "", "state", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var body any
			if c.body != "" {
				body = c.body
			}
			a := e.call(adminLogin, password, c.method, c.path, body)
			if a.code != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", a.code, a.body)
			}
			if got := a.errBody(t); got.Field != c.field || got.Error == "" {
				t.Errorf("field %q, want %q (error %q)", got.Field, c.field, got.Error)
			}
			if c.gone != "" {
				if a := e.call(adminLogin, password, "GET", c.gone, nil); a.code != http.StatusNotFound {
					t.Errorf("after the refused request GET %s: status %d, want 404: %s", c.gone, a.code, a.body)
				}
			}
		})
	}
	// Refused PATCHes changed nothing: not the display name, not "enabled" sent beside
	// a bad sAMAccountName.
	var alice directory.User
	e.admin("GET", "users/alice@example.test", nil, http.StatusOK, &alice)
	if !alice.Enabled || alice.DisplayName != "alice" {
		t.Errorf("alice after refused updates: %+v", alice)
	}
	// Refused profile updates saved no version.
	var vs []profiles.Version
	e.admin("GET", "profiles/work/versions", nil, http.StatusOK, &vs)
	if len(vs) != 1 {
		t.Errorf("work has %d versions after refused updates, want 1", len(vs))
	}
}

// TestProfileProblems: a profile with several bad settings names them all.
func TestProfileProblems(t *testing.T) {
	e := newEnv(t)
	a := e.call(adminLogin, password, "POST", "profiles", `{"name":"bad","settings":{"host":"","accountName":""}}`)
	if a.code != http.StatusBadRequest {
		t.Fatalf("status %d: %s", a.code, a.body)
	}
	got := a.errBody(t)
	var fields []string
	for _, p := range got.Problems {
		fields = append(fields, p.Field)
	}
	if got.Field != "settings.host" || !strings.Contains(strings.Join(fields, " "), "settings.accountName") {
		t.Errorf("field %q, problems %v", got.Field, fields)
	}
}

// TestHTTPErrors: the statuses the transport and the services give, all as JSON.
func TestHTTPErrors(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name, method, path, contentType, body string
		want                                  int
		allow                                 string
	}{
		{"form body", "POST", "domains", "application/x-www-form-urlencoded", "name=new.test", http.StatusUnsupportedMediaType, ""},
		{"no content type", "POST", "domains", "", `{"name":"new.test"}`, http.StatusUnsupportedMediaType, ""},
		{"empty body", "POST", "domains", "application/json", "", http.StatusBadRequest, ""},
		{"not JSON", "POST", "domains", "application/json", `{"name":`, http.StatusBadRequest, ""},
		{"two values", "POST", "domains", "application/json", `{"name":"new.test"} {}`, http.StatusBadRequest, ""},
		{"array", "POST", "domains", "application/json", `["new.test"]`, http.StatusBadRequest, ""},
		{"too large", "POST", "domains", "application/json", `{"name":"` + strings.Repeat("a", 1<<20) + `"}`, http.StatusRequestEntityTooLarge, ""},
		{"method", "PUT", "domains", "", "", http.StatusMethodNotAllowed, "GET, HEAD, POST"},
		{"method on one", "POST", "users/alice@example.test", "", "", http.StatusMethodNotAllowed, "DELETE, GET, HEAD, PATCH"},
		{"no route", "GET", "mailboxes", "", "", http.StatusNotFound, ""},
		{"unknown domain", "GET", "domains/nowhere.test", "", "", http.StatusNotFound, ""},
		{"unknown user", "GET", "users/nobody@example.test", "", "", http.StatusNotFound, ""},
		{"unknown queue id", "GET", "queue/99", "", "", http.StatusNotFound, ""},
		{"bad queue id", "GET", "queue/x", "", "", http.StatusNotFound, ""},
		{"unknown device", "GET", "users/alice@example.test/devices/NONE", "", "", http.StatusNotFound, ""},
		{"unknown rule", "DELETE", "device-rules/42", "", "", http.StatusNotFound, ""},
		{"unknown profile", "GET", "profiles/none/status", "", "", http.StatusNotFound, ""},
		{"unknown certificate", "POST", "certificates/abcdef/revoke", "", "", http.StatusNotFound, ""},
		{"unknown alias", "DELETE", "users/alice@example.test/aliases/x@example.test", "", "", http.StatusNotFound, ""},
		{"domain exists", "POST", "domains", "application/json", `{"name":"example.test"}`, http.StatusConflict, ""},
		{"user exists", "POST", "users", "application/json", `{"address":"alice@example.test","password":"correct horse battery"}`, http.StatusConflict, ""},
		{"domain in use", "DELETE", "domains/example.test", "", "", http.StatusConflict, ""},
		{"remove yourself", "DELETE", "users/admin@example.test", "", "", http.StatusConflict, ""},
		{"demote yourself", "PATCH", "users/admin@example.test", "application/json", `{"admin":false}`, http.StatusConflict, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(e.ctx, c.method, e.ts.URL+"/api/v1/"+c.path, strings.NewReader(c.body))
			must(t, err)
			if c.contentType != "" {
				req.Header.Set("Content-Type", c.contentType)
			}
			req.SetBasicAuth(adminLogin, password)
			a := e.do(req)
			if a.code != c.want {
				t.Fatalf("status %d, want %d: %s", a.code, c.want, a.body)
			}
			if ct := a.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q", ct)
			}
			if a.errBody(t).Error == "" {
				t.Errorf("no error message: %s", a.body)
			}
			if got := a.header.Get("Allow"); got != c.allow {
				t.Errorf("Allow %q, want %q", got, c.allow)
			}
		})
	}
}

// TestDirectoryFlow: domains with their DNS records, users, aliases, groups, shared
// mailboxes and grants, each created, read and removed through the API, and each
// change logged with who made it and never with a password.
func TestDirectoryFlow(t *testing.T) {
	e := newEnv(t)
	var dom directory.Domain
	e.admin("POST", "domains", map[string]string{"name": "New.Test"}, http.StatusCreated, &dom)
	if dom.Name != "new.test" || dom.NetBIOS != "NEW" {
		t.Errorf("added domain %+v", dom)
	}
	var details struct {
		Name      string `json:"name"`
		Mailboxes int    `json:"mailboxes"`
		DNS       []struct{ Name, Type, Value string }
	}
	e.admin("GET", "domains/new.test", nil, http.StatusOK, &details)
	var haveMX, haveDKIM bool
	for _, r := range details.DNS {
		haveMX = haveMX || r.Type == "MX" && r.Name == "new.test."
		haveDKIM = haveDKIM || r.Name == "mailroom._domainkey.new.test." && strings.Contains(r.Value, "v=DKIM1")
	}
	if !haveMX || !haveDKIM {
		t.Errorf("DNS records of new.test: %+v", details.DNS)
	}

	const secret = "a secret horse battery"
	var carol directory.User
	e.admin("POST", "users", map[string]any{"address": "carol@new.test", "password": secret, "displayName": "Carol"}, http.StatusCreated, &carol)
	e.admin("PATCH", "users/carol@new.test", map[string]any{"displayName": "Carol C.", "upn": "carol@corp.test", "sam": "ccarol", "admin": true, "enabled": false}, http.StatusOK, &carol)
	if carol.DisplayName != "Carol C." || carol.UPN != "carol@corp.test" || carol.SAM != "ccarol" || !carol.Admin || carol.Enabled {
		t.Errorf("updated carol: %+v", carol)
	}
	e.admin("PATCH", "users/carol@new.test", map[string]any{"enabled": true}, http.StatusOK, nil)
	e.admin("PUT", "users/carol@new.test/password", map[string]string{"password": "yet another " + secret}, http.StatusNoContent, nil)
	if _, err := e.in.Directory.Authenticate(e.ctx, "NEW\\ccarol", "yet another "+secret); err != nil {
		t.Errorf("carol's new password: %v", err)
	}
	// carol is an administrator now and may use the API with her UPN.
	if a := e.call("carol@corp.test", "yet another "+secret, "GET", "users", nil); a.code != http.StatusOK {
		t.Errorf("carol as administrator: %d %s", a.code, a.body)
	}
	e.admin("POST", "users/carol@new.test/aliases", map[string]string{"alias": "cc@new.test"}, http.StatusCreated, &carol)
	if len(carol.Aliases) != 1 || carol.Aliases[0] != "cc@new.test" {
		t.Errorf("aliases %v", carol.Aliases)
	}
	// Another user's alias cannot be removed under alice.
	e.admin("DELETE", "users/alice@example.test/aliases/cc@new.test", nil, http.StatusNotFound, nil)
	e.admin("DELETE", "users/carol@new.test/aliases/cc@new.test", nil, http.StatusNoContent, nil)

	var g directory.Group
	e.admin("POST", "groups", map[string]string{"name": "Staff", "address": "staff@example.test"}, http.StatusCreated, &g)
	e.admin("POST", "groups/staff/members", map[string]string{"member": "carol@new.test"}, http.StatusCreated, &g)
	e.admin("POST", "groups/staff/members", map[string]string{"member": "carol@new.test"}, http.StatusConflict, nil)
	if len(g.Members) != 1 || g.Members[0].Name != "carol@new.test" {
		t.Errorf("members %+v", g.Members)
	}
	var shown struct {
		Groups []string `json:"groups"`
	}
	e.admin("GET", "users/carol@new.test", nil, http.StatusOK, &shown)
	if len(shown.Groups) != 1 || shown.Groups[0] != "Staff" {
		t.Errorf("carol's groups %v", shown.Groups)
	}
	e.admin("DELETE", "groups/staff/members/carol@new.test", nil, http.StatusNoContent, nil)

	var shared directory.User
	e.admin("POST", "shared", map[string]string{"address": "info@new.test", "displayName": "Info"}, http.StatusCreated, &shared)
	if shared.Kind != directory.KindShared {
		t.Errorf("shared mailbox kind %q", shared.Kind)
	}
	var grants []directory.Grant
	e.admin("POST", "shared/info@new.test/grants", map[string]string{"user": "alice@example.test", "right": "sendas"}, http.StatusCreated, &grants)
	if len(grants) != 1 || grants[0].Rights[0] != directory.SendAs {
		t.Errorf("grants %+v", grants)
	}
	e.admin("DELETE", "shared/info@new.test/grants/alice@example.test/SendAs", nil, http.StatusNoContent, nil)
	e.admin("GET", "shared/info@new.test/grants", nil, http.StatusOK, &grants)
	if len(grants) != 0 {
		t.Errorf("grants after revoke: %+v", grants)
	}
	var list []directory.User
	e.admin("GET", "users?kind=shared", nil, http.StatusOK, &list)
	if len(list) != 1 || list[0].Address != "info@new.test" {
		t.Errorf("shared mailboxes %+v", list)
	}

	e.admin("DELETE", "users/info@new.test", nil, http.StatusNoContent, nil)
	e.admin("DELETE", "users/carol@new.test", nil, http.StatusNoContent, nil)
	e.admin("DELETE", "groups/staff", nil, http.StatusNoContent, nil)
	e.admin("DELETE", "domains/new.test", nil, http.StatusNoContent, nil)
	e.admin("GET", "domains/new.test", nil, http.StatusNotFound, nil)

	logs := e.logs.String()
	for _, want := range []string{`msg="admin change" admin=admin@example.test method=POST path=/api/v1/users`,
		`method=PUT path=/api/v1/users/carol@new.test/password`, `method=DELETE path=/api/v1/domains/new.test`} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, secret) {
		t.Errorf("a password is in the log:\n%s", logs)
	}
}

// TestProfileFlow: a profile is checked without saving (dry run), created, assigned
// to a group, and its status shows the group's member pending with their device.
func TestProfileFlow(t *testing.T) {
	e := newEnv(t)
	var check struct {
		Valid bool `json:"valid"`
	}
	e.admin("POST", "profiles?dryRun=true", `{"name":"Work","settings":`+goodSettings+`}`, http.StatusOK, &check)
	if !check.Valid {
		t.Error("dry run did not say valid")
	}
	e.admin("GET", "profiles/work", nil, http.StatusNotFound, nil)

	var p profiles.Profile
	e.admin("POST", "profiles", `{"name":"Work","settings":`+goodSettings+`}`, http.StatusCreated, &p)
	if p.Version != 1 || p.Settings.Auth != profiles.AuthPassword || !p.Settings.SSL {
		t.Errorf("created %+v: defaults not applied", p)
	}
	e.admin("POST", "profiles", `{"name":"work","settings":`+goodSettings+`}`, http.StatusConflict, nil)
	e.admin("POST", "profiles?dryRun=true", `{"name":"work","settings":`+goodSettings+`}`, http.StatusConflict, nil)
	e.admin("PUT", "profiles/work", `{"settings":{"host":"mail.example.test","accountName":"Work mail","mailDays":"7"}}`, http.StatusOK, &p)
	if p.Version != 2 || p.Settings.MailDays != profiles.Days7 {
		t.Errorf("updated %+v", p)
	}
	e.admin("PUT", "profiles/work?dryRun=true", `{"settings":`+goodSettings+`}`, http.StatusOK, nil)
	var vs []profiles.Version
	e.admin("GET", "profiles/work/versions", nil, http.StatusOK, &vs)
	if len(vs) != 2 {
		t.Errorf("%d versions after a dry run, want 2", len(vs))
	}

	e.admin("POST", "groups", map[string]string{"name": "Staff"}, http.StatusCreated, nil)
	e.admin("POST", "groups/staff/members", map[string]string{"member": aliceLogin}, http.StatusCreated, nil)
	e.easRequest(aliceLogin, "ALICEPHONE", "FolderSync")
	e.admin("POST", "profiles/work/assignments", map[string]string{"group": "staff"}, http.StatusCreated, &p)
	if len(p.Assignments) != 1 || p.Assignments[0].Group != "Staff" || p.Assignments[0].Mode != profiles.Include {
		t.Errorf("assignments %+v", p.Assignments)
	}

	var rows []struct {
		User    string         `json:"user"`
		State   profiles.State `json:"state"`
		Reason  string         `json:"reason"`
		Devices []struct {
			DeviceID string `json:"deviceId"`
			Current  bool   `json:"current"`
		} `json:"devices"`
	}
	e.admin("GET", "profiles/work/status?state=pending", nil, http.StatusOK, &rows)
	if len(rows) != 1 || rows[0].User != aliceLogin || rows[0].State != profiles.Pending {
		t.Fatalf("pending: %+v", rows)
	}
	if len(rows[0].Devices) != 1 || rows[0].Devices[0].DeviceID != "ALICEPHONE" || rows[0].Devices[0].Current {
		t.Errorf("alice's devices: %+v", rows[0].Devices)
	}
	e.admin("GET", "profiles/work/status?state=not+applicable", nil, http.StatusOK, &rows)
	if len(rows) != 1 || rows[0].User != adminLogin {
		t.Errorf("not applicable: %+v", rows)
	}
	e.admin("GET", "profiles/work/status", nil, http.StatusOK, &rows)
	if len(rows) != 2 {
		t.Errorf("all: %+v", rows)
	}

	e.admin("DELETE", "profiles/work/assignments/staff", nil, http.StatusNoContent, nil)
	e.admin("DELETE", "profiles/work/assignments/staff", nil, http.StatusNotFound, nil)
	e.admin("DELETE", "profiles/work", nil, http.StatusNoContent, nil)
	var ps []profiles.Profile
	e.admin("GET", "profiles", nil, http.StatusOK, &ps)
	if len(ps) != 0 {
		t.Errorf("profiles after removal: %+v", ps)
	}
}

// TestDevices: a device that signed in over ActiveSync is listed, blocked, allowed,
// wiped (recorded where the ActiveSync server reads it, and logged) and removed;
// access rules and the default level are set.
func TestDevices(t *testing.T) {
	e := newEnv(t)
	e.easRequest(aliceLogin, "PHONE1", "FolderSync")
	var ds []activesync.Device
	e.admin("GET", "devices", nil, http.StatusOK, &ds)
	if len(ds) != 1 || ds[0].DeviceID != "PHONE1" || ds[0].DeviceType != "iPhone" {
		t.Fatalf("devices %+v", ds)
	}
	e.admin("GET", "users/alice@example.test/devices", nil, http.StatusOK, &ds)
	if len(ds) != 1 {
		t.Fatalf("alice's devices %+v", ds)
	}
	var d activesync.Device
	e.admin("POST", "users/alice@example.test/devices/PHONE1/block", nil, http.StatusOK, &d)
	if d.Access != activesync.AccessBlock || d.AccessBy != "admin" {
		t.Errorf("after block: %+v", d)
	}
	if resp := e.easRequest(aliceLogin, "PHONE1", "FolderSync"); resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusOK {
		t.Errorf("blocked device: HTTP %d", resp.StatusCode)
	}
	e.admin("POST", "users/alice@example.test/devices/PHONE1/reset", nil, http.StatusOK, &d)
	if d.Access != activesync.AccessAllow || d.AccessBy != "default" {
		t.Errorf("after reset: %+v", d)
	}

	// Account-only wipe needs protocol 16.1, which the device speaks.
	e.admin("POST", "users/alice@example.test/devices/PHONE1/wipe", `{"accountOnly":true}`, http.StatusAccepted, &d)
	if d.Wipe != activesync.WipePendingAccountOnly || d.WipeRequested.IsZero() {
		t.Errorf("after account-only wipe: %+v", d)
	}
	e.admin("POST", "users/alice@example.test/devices/PHONE1/wipe", nil, http.StatusAccepted, &d)
	e.admin("GET", "users/alice@example.test/devices/PHONE1", nil, http.StatusOK, &d)
	if d.Wipe != activesync.WipePending {
		t.Errorf("recorded wipe %q, want pending", d.Wipe)
	}
	stored, err := e.eas.Device(e.ctx, aliceLogin, "PHONE1")
	if err != nil || stored.Wipe != activesync.WipePending {
		t.Errorf("the ActiveSync server's record: %+v, %v", stored, err)
	}
	if !strings.Contains(e.logs.String(), `path=/api/v1/users/alice@example.test/devices/PHONE1/wipe route="POST /api/v1/users/{user}/devices/{device}/wipe" status=202`) {
		t.Errorf("wipe not logged:\n%s", e.logs.String())
	}

	var rules struct {
		Default activesync.Access       `json:"default"`
		Rules   []activesync.AccessRule `json:"rules"`
	}
	var rule activesync.AccessRule
	e.admin("POST", "device-rules", map[string]string{"field": "user-agent", "pattern": "Apple-*", "access": "quarantine"}, http.StatusCreated, &rule)
	e.admin("PUT", "device-rules/default", map[string]string{"access": "block"}, http.StatusOK, &rules)
	if rules.Default != activesync.AccessBlock || len(rules.Rules) != 1 || rules.Rules[0].ID != rule.ID {
		t.Errorf("rules %+v", rules)
	}
	e.admin("GET", "users/alice@example.test/devices/PHONE1", nil, http.StatusOK, &d)
	if d.Access != activesync.AccessQuarantine {
		t.Errorf("device under the rule: %+v", d)
	}
	e.admin("DELETE", "device-rules/"+itoa(rule.ID), nil, http.StatusNoContent, nil)

	e.admin("DELETE", "users/alice@example.test/devices/PHONE1", nil, http.StatusNoContent, nil)
	e.admin("GET", "users/alice@example.test/devices/PHONE1", nil, http.StatusNotFound, nil)
}

// TestQueueAndCertificates: a queued message is listed, shown, made due and dropped;
// an issued certificate is listed per user and revoked.
func TestQueueAndCertificates(t *testing.T) {
	e := newEnv(t)
	id, err := e.in.Queue.Enqueue(e.ctx, queue.Message{From: aliceLogin, To: []string{"bob@elsewhere.test"},
		Raw: []byte("From: alice@example.test\r\nTo: bob@elsewhere.test\r\nSubject: hi\r\n\r\nhi\r\n")})
	must(t, err)
	var entries []struct {
		ID         int64  `json:"id"`
		From       string `json:"from"`
		Recipients []struct {
			Address string `json:"address"`
			Status  string `json:"status"`
		} `json:"recipients"`
	}
	e.admin("GET", "queue", nil, http.StatusOK, &entries)
	if len(entries) != 1 || entries[0].ID != id || entries[0].Recipients[0].Status != "queued" {
		t.Fatalf("queue %+v", entries)
	}
	e.admin("GET", "queue/"+itoa(id), nil, http.StatusOK, nil)
	e.admin("POST", "queue/"+itoa(id)+"/retry", nil, http.StatusOK, nil)
	e.admin("DELETE", "queue/"+itoa(id), nil, http.StatusNoContent, nil)
	e.admin("GET", "queue/"+itoa(id), nil, http.StatusNotFound, nil)
	e.admin("POST", "queue/"+itoa(id)+"/retry", nil, http.StatusNotFound, nil)

	alice, err := e.in.Directory.User(e.ctx, aliceLogin)
	must(t, err)
	is, err := e.ca.Issue(e.ctx, pki.Subject{UserID: alice.ID, Address: alice.Address}, pki.ClientAuth)
	must(t, err)
	var certs []pki.Issued
	e.admin("GET", "users/alice@example.test/certificates", nil, http.StatusOK, &certs)
	if len(certs) != 1 || certs[0].Serial != is.Serial {
		t.Fatalf("alice's certificates %+v", certs)
	}
	e.admin("GET", "users/admin@example.test/certificates", nil, http.StatusOK, &certs)
	if len(certs) != 0 {
		t.Errorf("admin's certificates %+v", certs)
	}
	var revoked pki.Issued
	e.admin("POST", "certificates/"+strings.ToUpper(is.Serial)+"/revoke", nil, http.StatusOK, &revoked)
	if revoked.Revoked.IsZero() {
		t.Errorf("revoked %+v", revoked)
	}
	e.admin("GET", "certificates", nil, http.StatusOK, &certs)
	if len(certs) != 1 || certs[0].Revoked.IsZero() {
		t.Errorf("certificates after revoke %+v", certs)
	}
}
