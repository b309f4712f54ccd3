package activesync

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"mailroom/internal/store"
	"mailroom/internal/wbxml"
)

const folderSyncZero = `<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey></FolderSync>`

func TestLoginForms(t *testing.T) {
	e := newEnv(t)
	for _, login := range []string{"alice@example.com", "ALICE@example.com", "a@example.com", "alice.smith@corp.example.com", `EXAMPLE\asmith`, `example.com\asmith`} {
		c := e.client("dev1")
		c.login = login
		c.provision()
		if r := c.do("FolderSync", folderSyncZero); status(r, wbxml.NSFolderHierarchy) != "1" {
			t.Errorf("login %q: %s", login, r.XML())
		}
	}
	// Every way of failing looks the same.
	var bodies [][]byte
	for _, cred := range [][2]string{{"alice@example.com", "wrong"}, {"nobody@example.com", testPassword}, {"", ""}} {
		c := e.client("dev1")
		c.login, c.password = cred[0], cred[1]
		resp, body := c.raw(http.MethodPost, c.url("FolderSync"), nil, nil)
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != `Basic realm="Mailroom"` {
			t.Errorf("%q: HTTP %d, %q", cred, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
		bodies = append(bodies, body)
	}
	if !bytes.Equal(bodies[0], bodies[1]) || !bytes.Equal(bodies[0], bodies[2]) {
		t.Errorf("failures differ: %q", bodies)
	}
}

func TestPolicyKeyChecks(t *testing.T) {
	e := newEnv(t)
	c := e.client("dev1")
	// 14.x and 16.x: status in the body.
	r := c.do("FolderSync", folderSyncZero)
	if s := status(r, wbxml.NSFolderHierarchy); s != "142" {
		t.Errorf("missing key: %s", s)
	}
	c.provision()
	good := c.policyKey
	c.policyKey = "12345"
	if s := status(c.do("FolderSync", folderSyncZero), wbxml.NSFolderHierarchy); s != "144" {
		t.Errorf("wrong key: %s", s)
	}
	// 12.1: HTTP 449.
	old := e.client("dev2")
	old.version = "12.1"
	if resp, _ := old.send("FolderSync", folderSyncZero); resp.StatusCode != statusNeedProvisioning {
		t.Errorf("12.1 without key: HTTP %d", resp.StatusCode)
	}
	old.provision()
	if r := old.do("FolderSync", folderSyncZero); status(r, wbxml.NSFolderHierarchy) != "1" {
		t.Errorf("12.1 provisioned: %s", r.XML())
	}
	// A changed policy: the device's key is now stale (143), and provisioning again
	// gives a new key.
	p := DefaultPolicy()
	p.MinPasswordLength = 6
	srv2, err := New(e.ctx, Config{Store: e.store, Directory: e.dir, Auth: e.auth, DB: e.db, Submitter: &localSubmitter{e.dir, e.store}, Policy: p})
	must(t, err)
	e.ts.Config.Handler = srv2
	c.policyKey = good
	if s := status(c.do("FolderSync", folderSyncZero), wbxml.NSFolderHierarchy); s != "143" {
		t.Errorf("policy changed: %s", s)
	}
	c.provision()
	if c.policyKey == good {
		t.Error("new policy, same key")
	}
	if s := status(c.do("FolderSync", folderSyncZero), wbxml.NSFolderHierarchy); s != "1" {
		t.Errorf("after provisioning the new policy: %s", s)
	}
}

func TestDeviceAccess(t *testing.T) {
	e := newEnv(t)
	_, err := e.srv.AddAccessRule(e.ctx, AccessRule{Field: "device-type", Pattern: "BadPhone", Access: AccessBlock})
	must(t, err)
	_, err = e.srv.AddAccessRule(e.ctx, AccessRule{Field: "user-agent", Pattern: "OldMail/*", Access: AccessQuarantine})
	must(t, err)
	if _, err := e.srv.AddAccessRule(e.ctx, AccessRule{Field: "colour", Pattern: "x", Access: AccessBlock}); err == nil {
		t.Error("rule on an unknown field accepted")
	}

	blocked := e.client("blocked1")
	blocked.deviceType = "BadPhone"
	if r := blocked.do("Provision", fixture(t, "provision-request.xml")); status(r, wbxml.NSProvision) != "129" {
		t.Errorf("blocked Provision: %s", r.XML())
	}
	blocked.version = "12.1"
	if resp, _ := blocked.send("FolderSync", folderSyncZero); resp.StatusCode != http.StatusForbidden {
		t.Errorf("blocked 12.1: HTTP %d", resp.StatusCode)
	}
	blocked.version = "16.1"
	d, err := e.srv.Device(e.ctx, "alice@example.com", "blocked1")
	must(t, err)
	if d.Access != AccessBlock || d.AccessBy != "rule 1" {
		t.Errorf("blocked device: %s by %s", d.Access, d.AccessBy)
	}
	// An administrator's word beats the rules.
	must(t, e.srv.SetAccess(e.ctx, "alice@example.com", "blocked1", AccessAllow))
	blocked.provision()
	if s := status(blocked.do("FolderSync", folderSyncZero), wbxml.NSFolderHierarchy); s != "1" {
		t.Errorf("allowed by admin: %s", s)
	}
	must(t, e.srv.SetAccess(e.ctx, "alice@example.com", "blocked1", AccessBlock))
	if s := status(blocked.do("FolderSync", folderSyncZero), wbxml.NSFolderHierarchy); s != "129" {
		t.Errorf("blocked by admin: %s", s)
	}

	// Quarantine: provisioning works (the device shows up with its details), the
	// rest waits for an administrator.
	q := e.client("quarantined1")
	q.userAgent = "OldMail/1.0"
	q.provision()
	if s := status(q.do("FolderSync", folderSyncZero), wbxml.NSFolderHierarchy); s != "129" {
		t.Errorf("quarantined FolderSync: %s", s)
	}
	// The default access applies to everything else.
	must(t, e.srv.SetDefaultAccess(e.ctx, AccessBlock))
	other := e.client("other1")
	if r := other.do("Provision", fixture(t, "provision-request.xml")); status(r, wbxml.NSProvision) != "129" {
		t.Errorf("default block: %s", r.XML())
	}
	rules, err := e.srv.AccessRules(e.ctx)
	must(t, err)
	must(t, e.srv.RemoveAccessRule(e.ctx, rules[0].ID))
	if err := e.srv.RemoveAccessRule(e.ctx, rules[0].ID); err == nil {
		t.Error("removed a rule twice")
	}
	if err := e.srv.Wipe(e.ctx, "alice@example.com", "nosuch", false); err == nil {
		t.Error("wiped an unknown device")
	}
	// Account-only wipe needs 16.1.
	old := e.client("old1")
	old.version = "14.1"
	must(t, e.srv.SetDefaultAccess(e.ctx, AccessAllow))
	old.provision()
	if err := e.srv.Wipe(e.ctx, "alice@example.com", "old1", true); err == nil {
		t.Error("account-only wipe accepted for a 14.1 device")
	}
	// 12.1 learns of a wipe through 449.
	old.version = "12.1"
	old.provision()
	must(t, e.srv.Wipe(e.ctx, "alice@example.com", "old1", false))
	if resp, _ := old.send("FolderSync", folderSyncZero); resp.StatusCode != statusNeedProvisioning {
		t.Errorf("12.1 with wipe pending: HTTP %d", resp.StatusCode)
	}
}

func TestBadRequests(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxBodySize = 64 << 10 })
	c := e.client("dev1")
	c.provision()
	post := func(cmd string, body []byte, hdr map[string]string) int {
		resp, _ := c.raw(http.MethodPost, c.url(cmd), body, hdr)
		return resp.StatusCode
	}
	if code := post("Sync", []byte("\x03\x01\x6a\x00\x45\x5c\x4f"), nil); code != http.StatusBadRequest {
		t.Errorf("truncated WBXML: HTTP %d", code)
	}
	if code := post("Sync", []byte("<Sync/>"), nil); code != http.StatusBadRequest {
		t.Errorf("XML body: HTTP %d", code)
	}
	ping, _ := wbxml.Encode(wbxml.New(wbxml.NSPing, "Ping"))
	if code := post("FolderSync", ping, nil); code != http.StatusBadRequest {
		t.Errorf("wrong root element: HTTP %d", code)
	}
	if code := post("Frobnicate", nil, nil); code != http.StatusNotImplemented {
		t.Errorf("unknown command: HTTP %d", code)
	}
	if code := post("ValidateCert", nil, nil); code != http.StatusNotImplemented {
		t.Errorf("command not offered: HTTP %d", code)
	}
	if code := post("Sync", bytes.Repeat([]byte{'x'}, 65<<10), nil); code != http.StatusRequestEntityTooLarge {
		t.Errorf("huge body: HTTP %d", code)
	}
	if code := post("FolderSync", nil, map[string]string{"MS-ASProtocolVersion": "2.5"}); code != http.StatusBadRequest {
		t.Errorf("unsupported version: HTTP %d", code)
	}
	resp, _ := c.raw(http.MethodGet, c.url("FolderSync"), nil, nil)
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: HTTP %d", resp.StatusCode)
	}
	c.deviceID = ""
	if code := post("FolderSync", nil, nil); code != http.StatusBadRequest {
		t.Errorf("no DeviceId: HTTP %d", code)
	}
}

func TestBase64Query(t *testing.T) {
	e := newEnv(t)
	c := e.client("b64dev")
	c.provision()
	var key uint32
	for _, ch := range c.policyKey {
		key = key*10 + uint32(ch-'0')
	}
	body, err := wbxml.Encode(mustParse(t, folderSyncZero))
	must(t, err)
	c.version = "" // the query carries it
	c.policyKey = ""
	q := base64Query(161, 9, "b64dev", "iPhone", key)
	resp, b := c.raw(http.MethodPost, e.ts.URL+"/Microsoft-Server-ActiveSync?"+q, body, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("base64 query: HTTP %d", resp.StatusCode)
	}
	r, err := wbxml.Decode(b)
	must(t, err)
	if status(r, wbxml.NSFolderHierarchy) != "1" {
		t.Errorf("base64 FolderSync: %s", r.XML())
	}
	// Without the key the device must provision; the spec's own example decodes.
	resp, _ = c.raw(http.MethodPost, e.ts.URL+"/Microsoft-Server-ActiveSync?"+base64Query(161, 9, "b64dev", "iPhone", 0), body, nil)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("no key: HTTP %d", resp.StatusCode)
	}
	var r2 request
	r2.params = map[string]string{}
	must(t, parseBase64Query("jAAJBAp2MTQwRGV2aWNlAApTbWFydFBob25l", &r2))
	if r2.version != 140 || r2.cmd != "Sync" || r2.deviceID != "v140Device" || r2.deviceType != "SmartPhone" {
		t.Errorf("spec example: %+v", r2)
	}
	for _, bad := range []string{"jAAJ", "!!!", "AAAAAAA="} {
		if err := parseBase64Query(bad, &r2); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func mustParse(t testing.TB, xml string) *wbxml.Element {
	t.Helper()
	el, err := wbxml.ParseXML([]byte(xml))
	must(t, err)
	return el
}

func TestOverload(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxConcurrent = 1 })
	c := e.client("dev1")
	c.provision()
	inbox := folderServerID(e.folder(e.alice, store.RoleInbox).ID)
	e.srv.slots <- struct{}{} // one command is running
	resp, _ := c.send("FolderSync", folderSyncZero)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("overloaded: HTTP %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// Ping takes no slot.
	done := make(chan *wbxml.Element, 1)
	go func() {
		_, el := c.send("Ping", `<Ping xmlns="Ping:"><HeartbeatInterval>60</HeartbeatInterval><Folders><Folder><Id>`+inbox+`</Id><Class>Email</Class></Folder></Folders></Ping>`)
		done <- el
	}()
	time.Sleep(200 * time.Millisecond)
	must(t, e.srv.Shutdown(context.Background()))
	select {
	case el := <-done:
		if el == nil || status(el, wbxml.NSPing) != "1" {
			t.Errorf("Ping at shutdown: %v", el)
		}
	case <-time.After(2 * time.Second):
		t.Error("Shutdown did not answer the held Ping")
	}
	<-e.srv.slots
}

func TestPingParameters(t *testing.T) {
	e := newEnv(t)
	c := e.client("dev1")
	c.provision()
	inbox := folderServerID(e.folder(e.alice, store.RoleInbox).ID)
	ping := func(hb string, ids ...string) *wbxml.Element {
		x := `<Ping xmlns="Ping:">`
		if hb != "" {
			x += `<HeartbeatInterval>` + hb + `</HeartbeatInterval>`
		}
		if len(ids) > 0 {
			x += `<Folders>`
			for _, id := range ids {
				x += `<Folder><Id>` + id + `</Id><Class>Email</Class></Folder>`
			}
			x += `</Folders>`
		}
		return c.do("Ping", x+`</Ping>`)
	}
	r := ping("10", inbox)
	if status(r, wbxml.NSPing) != "5" || r.ChildText(wbxml.NSPing, "HeartbeatInterval") != "60" {
		t.Errorf("short heartbeat: %s", r.XML())
	}
	r = ping("4000", inbox)
	if status(r, wbxml.NSPing) != "5" || r.ChildText(wbxml.NSPing, "HeartbeatInterval") != "3540" {
		t.Errorf("long heartbeat: %s", r.XML())
	}
	if r := c.do("Ping", ""); status(r, wbxml.NSPing) != "3" {
		t.Errorf("empty Ping without cache: %s", r.XML())
	}
	if r := ping("60", "999999"); status(r, wbxml.NSPing) != "7" {
		t.Errorf("unknown folder: %s", r.XML())
	}
	many := make([]string, 301)
	for i := range many {
		many[i] = inbox
	}
	if r := ping("60", many...); status(r, wbxml.NSPing) != "6" || r.ChildText(wbxml.NSPing, "MaxFolders") != "300" {
		t.Errorf("too many folders: %.300s", r.XML())
	}
	// A folder with changes the device has not synced answers at once.
	c.do("Sync", syncXML(inbox, "0", ""))
	start := time.Now()
	if r := ping("60", inbox); status(r, wbxml.NSPing) != "2" || time.Since(start) > time.Second {
		t.Errorf("pending folder: %s after %v", r.XML(), time.Since(start))
	}
	// Once synced, an empty Ping reuses the cached parameters and waits.
	key := collection(c.do("Sync", syncXML(inbox, "0", ""))).ChildText(wbxml.NSAirSync, "SyncKey")
	c.do("Sync", syncXML(inbox, key, ""))
	start = time.Now()
	delivered := make(chan struct{})
	go func() {
		defer close(delivered)
		time.Sleep(200 * time.Millisecond)
		ds, err := e.store.Deliver(e.ctx, store.NewMessage{Raw: []byte(message("bob@example.com", "alice@example.com", "x", "y"))},
			[]store.Placement{{Account: store.AccountID(e.alice.ID)}})
		if err != nil || len(ds) != 1 {
			t.Errorf("deliver: %v", err)
		}
	}()
	r = c.do("Ping", "")
	if status(r, wbxml.NSPing) != "2" || time.Since(start) < 200*time.Millisecond || time.Since(start) > 1500*time.Millisecond {
		t.Errorf("cached Ping: %s after %v", r.XML(), time.Since(start))
	}
	<-delivered
}

func TestFolderCommands(t *testing.T) {
	e := newEnv(t)
	c := e.client("dev1")
	c.provision()
	ns := wbxml.NSFolderHierarchy
	key := c.do("FolderSync", folderSyncZero).ChildText(ns, "SyncKey")
	r := c.do("FolderCreate", `<FolderCreate xmlns="FolderHierarchy:"><SyncKey>`+key+`</SyncKey><ParentId>0</ParentId><DisplayName>Projects</DisplayName><Type>12</Type></FolderCreate>`)
	if status(r, ns) != "1" || r.ChildText(ns, "ServerId") == "" {
		t.Fatalf("FolderCreate: %s", r.XML())
	}
	projects := r.ChildText(ns, "ServerId")
	key = r.ChildText(ns, "SyncKey")
	r = c.do("FolderCreate", `<FolderCreate xmlns="FolderHierarchy:"><SyncKey>`+key+`</SyncKey><ParentId>`+projects+`</ParentId><DisplayName>2026</DisplayName><Type>12</Type></FolderCreate>`)
	sub := r.ChildText(ns, "ServerId")
	key = r.ChildText(ns, "SyncKey")
	if r := c.do("FolderCreate", `<FolderCreate xmlns="FolderHierarchy:"><SyncKey>`+key+`</SyncKey><ParentId>0</ParentId><DisplayName>Projects</DisplayName><Type>12</Type></FolderCreate>`); status(r, ns) != "2" {
		t.Errorf("duplicate: %s", r.XML())
	}
	if r := c.do("FolderCreate", `<FolderCreate xmlns="FolderHierarchy:"><SyncKey>`+key+`</SyncKey><ParentId>4242</ParentId><DisplayName>X</DisplayName><Type>12</Type></FolderCreate>`); status(r, ns) != "5" {
		t.Errorf("no parent: %s", r.XML())
	}
	// The device's own changes do not come back; someone else's do.
	_, err := e.store.CreateFolder(e.ctx, store.AccountID(e.alice.ID), 0, "From IMAP", store.RoleNone)
	must(t, err)
	r = c.do("FolderSync", `<FolderSync xmlns="FolderHierarchy:"><SyncKey>`+key+`</SyncKey></FolderSync>`)
	adds := r.Child(ns, "Changes").All(ns, "Add")
	if len(adds) != 1 || adds[0].ChildText(ns, "DisplayName") != "From IMAP" {
		t.Errorf("FolderSync after create: %s", r.XML())
	}
	key = r.ChildText(ns, "SyncKey")
	r = c.do("FolderUpdate", `<FolderUpdate xmlns="FolderHierarchy:"><SyncKey>`+key+`</SyncKey><ServerId>`+projects+`</ServerId><ParentId>0</ParentId><DisplayName>Work</DisplayName></FolderUpdate>`)
	if status(r, ns) != "1" {
		t.Fatalf("FolderUpdate: %s", r.XML())
	}
	key = r.ChildText(ns, "SyncKey")
	inbox := folderServerID(e.folder(e.alice, store.RoleInbox).ID)
	if r := c.do("FolderUpdate", `<FolderUpdate xmlns="FolderHierarchy:"><SyncKey>`+key+`</SyncKey><ServerId>`+inbox+`</ServerId><ParentId>0</ParentId><DisplayName>Mine</DisplayName></FolderUpdate>`); status(r, ns) != "3" {
		t.Errorf("rename Inbox: %s", r.XML())
	}
	r = c.do("FolderDelete", `<FolderDelete xmlns="FolderHierarchy:"><SyncKey>`+key+`</SyncKey><ServerId>`+projects+`</ServerId></FolderDelete>`)
	if status(r, ns) != "1" {
		t.Fatalf("FolderDelete: %s", r.XML())
	}
	key = r.ChildText(ns, "SyncKey")
	for _, id := range []string{projects, sub} {
		if f, ok := parseFolderID(id); ok {
			if _, err := e.store.Folder(e.ctx, f); err == nil {
				t.Errorf("folder %s still there", id)
			}
		}
	}
	r = c.do("FolderSync", `<FolderSync xmlns="FolderHierarchy:"><SyncKey>`+key+`</SyncKey></FolderSync>`)
	if n := r.Child(ns, "Changes").ChildText(ns, "Count"); n != "0" {
		t.Errorf("after own delete: %s", r.XML())
	}
	if r := c.do("FolderSync", `<FolderSync xmlns="FolderHierarchy:"><SyncKey>77</SyncKey></FolderSync>`); status(r, ns) != "9" {
		t.Errorf("stale key: %s", r.XML())
	}
	if r := c.do("FolderDelete", `<FolderDelete xmlns="FolderHierarchy:"><SyncKey>77</SyncKey><ServerId>1</ServerId></FolderDelete>`); status(r, ns) != "9" {
		t.Errorf("stale key on delete: %s", r.XML())
	}
}

func TestSettings(t *testing.T) {
	e := newEnv(t)
	c := e.client("dev1")
	r := c.do("Settings", `<Settings xmlns="Settings:"><DeviceInformation><Set><Model>Pixel 8</Model><OS>Android 14</OS></Set></DeviceInformation><UserInformation><Get/></UserInformation></Settings>`)
	acc := r.Child(wbxml.NSSettings, "UserInformation").Child(wbxml.NSSettings, "Get").Child(wbxml.NSSettings, "Accounts").Child(wbxml.NSSettings, "Account")
	if acc.Child(wbxml.NSSettings, "EmailAddresses").ChildText(wbxml.NSSettings, "PrimarySmtpAddress") != "alice@example.com" {
		t.Errorf("UserInformation: %s", r.XML())
	}
	d, err := e.srv.Device(e.ctx, "alice@example.com", "dev1")
	must(t, err)
	if d.Model != "Pixel 8" || d.OS != "Android 14" {
		t.Errorf("device information: %+v", d)
	}
	if !strings.Contains(string(r.XML()), "alice@example.com") {
		t.Error("no address")
	}
}
