package activesync

import (
	"bytes"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"mailroom/internal/store"
	"mailroom/internal/wbxml"
)

// FuzzRequest sends arbitrary bytes as a Sync body (and as the other commands' bodies)
// to a provisioned device: the server may refuse them, but never with a 500 and never
// by panicking.
func FuzzRequest(f *testing.F) {
	e := newEnv(f)
	c := e.client("fuzz1")
	c.provision()
	inbox := folderServerID(e.folder(e.alice, store.RoleInbox).ID)
	e.deliver(e.alice, store.RoleInbox, message("bob@example.com", "alice@example.com", "seed", "body"), e.srv.now())
	for _, x := range []string{
		syncXML(inbox, "0", ""),
		syncXML(inbox, "1", `<Options><airsyncbase:BodyPreference><airsyncbase:Type>2</airsyncbase:Type></airsyncbase:BodyPreference></Options>`),
		syncXML(inbox, "1", `<Commands><Change><ServerId>`+inbox+`:1</ServerId><ApplicationData><email:Read>1</email:Read></ApplicationData></Change></Commands>`),
		syncXML(inbox, "1", `<Commands><Fetch><ServerId>`+inbox+`:1</ServerId></Fetch></Commands>`),
		fixture(f, "sync-inbox-options.xml"),
	} {
		el, err := wbxml.ParseXML([]byte(x))
		if err != nil {
			continue // fixtures with placeholders
		}
		b, err := wbxml.Encode(el)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{0x03, 0x01, 0x6a, 0x00, 0x45, 0x5c, 0x4f, 0x4b, 0x03, 0x30, 0x00, 0x01, 0x01, 0x01, 0x01})
	// A body may hold a valid hanging Sync (Wait); the wait is not the server's fault.
	client := &http.Client{Transport: e.ts.Client().Transport, Timeout: 3 * time.Second}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, cmd := range []string{"Sync", "ItemOperations", "GetItemEstimate", "MoveItems"} {
			req, err := http.NewRequest(http.MethodPost, c.url(cmd), bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.SetBasicAuth(c.login, c.password)
			req.Header.Set("MS-ASProtocolVersion", "16.1")
			req.Header.Set("X-MS-PolicyKey", c.policyKey)
			resp, err := client.Do(req)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode >= 500 {
				t.Fatalf("%s: HTTP %d for body %x", cmd, resp.StatusCode, body)
			}
		}
	})
}
