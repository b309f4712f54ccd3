package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"mailroom/internal/wbxml"
)

// easClient is a minimal ActiveSync client: enough to act as a phone against the real
// server in cross-protocol tests (the activesync package has the full protocol suite).
type easClient struct {
	t         *testing.T
	base      string
	http      *http.Client
	user      string
	device    string
	policyKey string
}

func (c *easClient) post(cmd, xml string) (int, *wbxml.Element) {
	c.t.Helper()
	el, err := wbxml.ParseXML([]byte(xml))
	if err != nil {
		c.t.Fatal(err)
	}
	body, err := wbxml.Encode(el)
	if err != nil {
		c.t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, c.base+"/Microsoft-Server-ActiveSync?Cmd="+cmd+"&User="+c.user+"&DeviceId="+c.device+"&DeviceType=iPhone", bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.SetBasicAuth(c.user, goodPassword)
	req.Header.Set("MS-ASProtocolVersion", "16.1")
	req.Header.Set("Content-Type", "application/vnd.ms-sync.wbxml")
	req.Header.Set("User-Agent", "Apple-iPhone15C2/2104.236")
	if c.policyKey != "" {
		req.Header.Set("X-MS-PolicyKey", c.policyKey)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s: %v", cmd, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || len(b) == 0 {
		return resp.StatusCode, nil
	}
	out, err := wbxml.Decode(b)
	if err != nil {
		c.t.Fatalf("%s: %v", cmd, err)
	}
	return resp.StatusCode, out
}

func (c *easClient) do(cmd, xml string) *wbxml.Element {
	c.t.Helper()
	code, el := c.post(cmd, xml)
	if code != http.StatusOK || el == nil {
		c.t.Fatalf("%s: HTTP %d", cmd, code)
	}
	return el
}

func (c *easClient) provision() {
	c.t.Helper()
	const req = `<Provision xmlns="Provision:"><Policies><Policy><PolicyType>MS-EAS-Provisioning-WBXML</PolicyType>%s</Policy></Policies></Provision>`
	key := func(el *wbxml.Element) string {
		return el.Child(wbxml.NSProvision, "Policies").Child(wbxml.NSProvision, "Policy").ChildText(wbxml.NSProvision, "PolicyKey")
	}
	temp := key(c.do("Provision", fmt.Sprintf(req, "")))
	c.policyKey = key(c.do("Provision", fmt.Sprintf(req, "<PolicyKey>"+temp+"</PolicyKey><Status>1</Status>")))
	if c.policyKey == "" {
		c.t.Fatal("no final policy key")
	}
}

func syncRequest(collection, key, extra string) string {
	return `<Sync xmlns="AirSync:" xmlns:email="Email:"><Collections><Collection><SyncKey>` + key +
		`</SyncKey><CollectionId>` + collection + `</CollectionId>` + extra + `</Collection></Collections></Sync>`
}

func collectionOf(el *wbxml.Element) *wbxml.Element {
	return el.Child(wbxml.NSAirSync, "Collections").Child(wbxml.NSAirSync, "Collection")
}

// TestCrossProtocol runs the server and has a phone (ActiveSync), a desktop client
// (IMAP) and the MX (SMTP) work on one mailbox: a message delivered by SMTP wakes a
// waiting Ping, a flag set over IMAP arrives in the next Sync, a delete over ActiveSync
// disappears from an IMAP client in IDLE. The device shows up in `mailroom device list`.
func TestCrossProtocol(t *testing.T) {
	for _, tool := range []string{"swaks", "python3"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (scripts/test.sh installs it)", tool)
		}
	}
	data := newData(t)
	ok(t, goodPassword+"\n", "user", "add", "--data", data, "--password-stdin", "alice@example.test")
	cfg := loopbackConfig(t, data)
	s := startServe(t, data)
	s.waitLog(t, "mailroom serving")
	host, port := splitAddr(t, cfg.SMTP.Listen[0])
	deliver := func(subject string) {
		t.Helper()
		out, err := exec.Command("swaks", "--server", host, "--port", port, "--hide-all", "--from", "someone@remote.test",
			"--to", "alice@example.test", "--header", "Subject: "+subject, "--body", "cross-protocol").CombinedOutput()
		if err != nil {
			t.Fatalf("swaks: %v\n%s", err, out)
		}
	}
	deliver("one")

	// ActiveSync only over TLS.
	plain, err := http.Get("http://" + cfg.HTTP.Listen[0] + "/Microsoft-Server-ActiveSync")
	if err != nil {
		t.Fatal(err)
	}
	plain.Body.Close()
	if plain.StatusCode != http.StatusForbidden {
		t.Fatalf("ActiveSync over plain HTTP: %d", plain.StatusCode)
	}
	// The phone finds its server the way iOS does: mobilesync Autodiscover.
	httpClient := &http.Client{Timeout: 90 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	discover, _ := http.NewRequest(http.MethodPost, "https://"+cfg.HTTP.TLSListen[0]+"/autodiscover/autodiscover.xml", strings.NewReader(
		`<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/mobilesync/requestschema/2006"><Request><EMailAddress>alice@example.test</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006</AcceptableResponseSchema></Request></Autodiscover>`))
	discover.SetBasicAuth("alice@example.test", goodPassword)
	discover.Header.Set("Content-Type", "text/xml")
	resp, err := httpClient.Do(discover)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var found struct {
		Response struct {
			Action struct {
				Settings struct {
					Server []struct{ Type, Url string }
				}
			}
		}
	}
	if err := xml.Unmarshal(answer, &found); err != nil || len(found.Response.Action.Settings.Server) != 1 || found.Response.Action.Settings.Server[0].Type != "MobileSync" {
		t.Fatalf("mobilesync Autodiscover: %v\n%s", err, answer)
	}
	easURL := found.Response.Action.Settings.Server[0].Url
	u, err := url.Parse(easURL)
	if err != nil || u.Scheme != "https" || u.Hostname() != "mail.example.test" || u.Path != "/Microsoft-Server-ActiveSync" {
		t.Fatalf("ActiveSync URL %q: %v", easURL, err)
	}
	u.Host, u.Path = cfg.HTTP.TLSListen[0], "" // the configured host, reached on loopback
	phone := &easClient{t: t, base: u.String(), user: "alice@example.test", device: "PHONE1", http: httpClient}
	phone.provision()
	folders := phone.do("FolderSync", `<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey></FolderSync>`)
	inbox := ""
	for _, add := range folders.Child(wbxml.NSFolderHierarchy, "Changes").All(wbxml.NSFolderHierarchy, "Add") {
		if add.ChildText(wbxml.NSFolderHierarchy, "Type") == "2" {
			inbox = add.ChildText(wbxml.NSFolderHierarchy, "ServerId")
		}
	}
	if inbox == "" {
		t.Fatalf("no Inbox in FolderSync: %s", folders.XML())
	}
	key := collectionOf(phone.do("Sync", syncRequest(inbox, "0", ""))).ChildText(wbxml.NSAirSync, "SyncKey")
	first := collectionOf(phone.do("Sync", syncRequest(inbox, key, "<GetChanges>1</GetChanges>")))
	key = first.ChildText(wbxml.NSAirSync, "SyncKey")
	adds := first.Child(wbxml.NSAirSync, "Commands").All(wbxml.NSAirSync, "Add")
	if len(adds) != 1 {
		t.Fatalf("first sync: %s", first.XML())
	}
	serverID := adds[0].ChildText(wbxml.NSAirSync, "ServerId")

	// A Ping held by the phone answers within a second of an SMTP delivery.
	pinged := make(chan time.Time, 1)
	go func() {
		phone.do("Ping", `<Ping xmlns="Ping:"><HeartbeatInterval>120</HeartbeatInterval><Folders><Folder><Id>`+inbox+`</Id><Class>Email</Class></Folder></Folders></Ping>`)
		pinged <- time.Now()
	}()
	time.Sleep(300 * time.Millisecond)
	sent := time.Now()
	deliver("two")
	select {
	case at := <-pinged:
		if d := at.Sub(sent); d > 1500*time.Millisecond {
			t.Errorf("Ping answered %v after the delivery", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Ping not woken by an SMTP delivery")
	}

	// A flag set over IMAP arrives in the next Sync.
	_, imapTLS := splitAddr(t, cfg.IMAP.TLSListen[0])
	imap := func(script string) string {
		t.Helper()
		out, err := exec.Command("python3", "-c", `
import imaplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4_SSL("127.0.0.1", int(sys.argv[1]), ssl_context=ctx)
m.login("alice@example.test", sys.argv[2])
m.select("INBOX")
`+script+`
m.logout()
`, imapTLS, goodPassword).CombinedOutput()
		if err != nil {
			t.Fatalf("imaplib: %v\n%s", err, out)
		}
		return string(out)
	}
	imap(`m.uid("STORE", "1", "+FLAGS", "(\\Seen)")`)
	changes := collectionOf(phone.do("Sync", syncRequest(inbox, key, "<GetChanges>1</GetChanges>")))
	key = changes.ChildText(wbxml.NSAirSync, "SyncKey")
	var readOnPhone bool
	for _, ch := range changes.Child(wbxml.NSAirSync, "Commands").All(wbxml.NSAirSync, "Change") {
		if ch.ChildText(wbxml.NSAirSync, "ServerId") == serverID && ch.Child(wbxml.NSAirSync, "ApplicationData").ChildText(wbxml.NSEmail, "Read") == "1" {
			readOnPhone = true
		}
	}
	if !readOnPhone {
		t.Fatalf("the IMAP \\Seen did not reach the phone: %s", changes.XML())
	}

	// A delete on the phone disappears from an IMAP client in IDLE.
	idle := exec.Command("python3", "-u", "-c", `
import socket, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))))
f = s.makefile("rwb")
def send(line): f.write(line.encode() + b"\r\n"); f.flush()
f.readline()
send("a LOGIN alice@example.test \"" + sys.argv[2] + "\"")
while not f.readline().startswith(b"a "): pass
send("b SELECT INBOX")
while not f.readline().startswith(b"b "): pass
send("c IDLE")
print(f.readline().decode().strip(), flush=True)
s.settimeout(10)
print(f.readline().decode().strip(), flush=True)
`, imapTLS, goodPassword)
	stdout, _ := idle.StdoutPipe()
	if err := idle.Start(); err != nil {
		t.Fatal(err)
	}
	defer idle.Process.Kill()
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() || !strings.HasPrefix(lines.Text(), "+") {
		t.Fatalf("IDLE not accepted: %q", lines.Text())
	}
	del := collectionOf(phone.do("Sync", syncRequest(inbox, key, `<DeletesAsMoves>0</DeletesAsMoves><Commands><Delete><ServerId>`+serverID+`</ServerId></Delete></Commands>`)))
	if st := del.ChildText(wbxml.NSAirSync, "Status"); st != "1" {
		t.Fatalf("delete on the phone: %s", del.XML())
	}
	deleted := time.Now()
	if !lines.Scan() || !strings.HasSuffix(lines.Text(), "EXPUNGE") {
		t.Fatalf("IDLE saw %q, want an EXPUNGE", lines.Text())
	}
	if d := time.Since(deleted); d > 1500*time.Millisecond {
		t.Errorf("EXPUNGE reached the idling client %v after the delete", d)
	}

	// The phone is a device of alice's, which the administrator sees and can block.
	var devices []struct{ DeviceID, DeviceType, Access string }
	okJSON(t, &devices, "device", "list", "--data", data, "alice@example.test")
	if len(devices) != 1 || devices[0].DeviceID != "PHONE1" || devices[0].Access != "allow" {
		t.Fatalf("devices = %+v", devices)
	}
	ok(t, "", "device", "block", "--data", data, "alice@example.test", "PHONE1")
	code, el := phone.post("FolderSync", `<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey></FolderSync>`)
	if code == http.StatusOK && (el == nil || el.ChildText(wbxml.NSFolderHierarchy, "Status") != "129") {
		t.Fatalf("a blocked device got HTTP %d, %v; want status 129", code, el)
	}
}
