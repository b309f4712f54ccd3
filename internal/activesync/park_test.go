package activesync

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"mailroom/internal/httpresume"
	"mailroom/internal/store"
	"mailroom/internal/wbxml"
)

// newParkingEnv is newEnv whose Server parks waiting Pings and hands their connections
// back to the test's HTTPS server. Heartbeats may be as short as a second.
func newParkingEnv(t testing.TB) *env {
	t.Helper()
	resumed := httpresume.New()
	e := newEnv(t, func(c *Config) { c.Resume, c.MinHeartbeat = resumed, 1 })
	go e.ts.Config.Serve(resumed)
	t.Cleanup(func() { resumed.Close() })
	return e
}

// synced is a provisioned device that has synced the empty Inbox, so a Ping on it
// waits; it returns the device, the Inbox and the SyncKey.
func synced(t *testing.T, e *env) (*client, string, string) {
	t.Helper()
	c, inbox, key := primed(t, e, "")
	key = collection(c.do("Sync", syncXML(inbox, key, ""))).ChildText(wbxml.NSAirSync, "SyncKey")
	return c, inbox, key
}

// waiting returns how many Pings wait, in their handlers or parked.
func (s *Server) waiting() int {
	n := s.holds()
	if s.parking != nil {
		n += s.parking.count()
	}
	return n
}

func pingXML(inbox, heartbeat string) string {
	return `<Ping xmlns="Ping:"><HeartbeatInterval>` + heartbeat + `</HeartbeatInterval><Folders><Folder><Id>` +
		inbox + `</Id><Class>Email</Class></Folder></Folders></Ping>`
}

// waitParked waits until n Pings are parked.
func waitParked(t *testing.T, e *env, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); e.srv.parking.count() != n; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d Pings parked, want %d", e.srv.parking.count(), n)
		}
	}
}

// countingClient is c's HTTP client with a dialer that counts the connections made.
func countingClient(c *client) *atomic.Int32 {
	var dials atomic.Int32
	tr := c.http.Transport.(*http.Transport).Clone()
	var d net.Dialer
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		return d.DialContext(ctx, network, addr)
	}
	c.http = &http.Client{Transport: tr}
	return &dials
}

// pingAnswer is what a Ping sent in the background got.
type pingAnswer struct {
	resp *http.Response
	el   *wbxml.Element
}

func sendPing(c *client, xml string) <-chan pingAnswer {
	done := make(chan pingAnswer, 1)
	go func() {
		resp, el := c.send("Ping", xml)
		done <- pingAnswer{resp, el}
	}()
	return done
}

// TestParkedPing parks a Ping over HTTP/1.1, wakes it with a store change (what SMTP
// delivery and IMAP flag changes do) or lets its heartbeat end, and then sends a Sync
// on the very connection the Ping came on.
func TestParkedPing(t *testing.T) {
	for _, tc := range []struct {
		name      string
		heartbeat string
		change    bool
		status    string
	}{
		{"delivery", "300", true, "2"},
		{"heartbeat", "1", false, "1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newParkingEnv(t)
			c, inbox, key := synced(t, e)
			dials := countingClient(c)
			done := sendPing(c, pingXML(inbox, tc.heartbeat))
			waitParked(t, e, 1)
			if e.srv.holds() != 0 {
				t.Errorf("%d handlers hold a Ping, want 0", e.srv.holds())
			}
			if tc.change {
				e.deliver(e.alice, store.RoleInbox, message("bob@example.com", "alice@example.com", "pushed", "hello"), time.Now())
			}
			var a pingAnswer
			select {
			case a = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("parked Ping not answered")
			}
			if a.el == nil || status(a.el, wbxml.NSPing) != tc.status {
				t.Fatalf("Ping answer: HTTP %d %v", a.resp.StatusCode, a.el)
			}
			if tc.change && a.el.Child(wbxml.NSPing, "Folders").ChildText(wbxml.NSPing, "Folder") != inbox {
				t.Errorf("Ping answer %s", a.el.XML())
			}
			for _, h := range []string{"MS-Server-ActiveSync", "Cache-Control", "Content-Length", "Date"} {
				if a.resp.Header.Get(h) == "" {
					t.Errorf("parked Ping answer without %s: %v", h, a.resp.Header)
				}
			}
			if a.resp.Close {
				t.Error("parked Ping answer closes the connection")
			}
			r := c.do("Sync", syncXML(inbox, key, ""))
			if n := len(collection(r).Child(wbxml.NSAirSync, "Commands").All(wbxml.NSAirSync, "Add")); tc.change && n != 1 {
				t.Errorf("Sync after the Ping: %s", r.XML())
			}
			if n := dials.Load(); n != 1 {
				t.Errorf("Ping and Sync used %d connections, want 1", n)
			}
			if n := e.srv.parking.count(); n != 0 {
				t.Errorf("%d Pings still parked", n)
			}
		})
	}
}

// rawPing is c's Ping request in wire form.
func rawPing(t *testing.T, c *client, xml string) []byte {
	t.Helper()
	body, err := wbxml.Encode(mustParse(t, xml))
	must(t, err)
	return pingRequest(t, c, body)
}

// pingRequest is c's Ping request with the encoded body, in wire form.
func pingRequest(tb testing.TB, c *client, body []byte) []byte {
	tb.Helper()
	req, err := http.NewRequest(http.MethodPost, c.url("Ping"), bytes.NewReader(body))
	must(tb, err)
	req.SetBasicAuth(c.login, c.password)
	req.Header.Set("MS-ASProtocolVersion", c.version)
	req.Header.Set("X-MS-PolicyKey", c.policyKey)
	req.Header.Set("Content-Type", contentTypeWBXML)
	var b bytes.Buffer
	must(tb, req.Write(&b))
	return b.Bytes()
}

func dialTLS(t *testing.T, e *env) *tls.Conn {
	t.Helper()
	conn, err := tls.Dial("tcp", e.ts.Listener.Addr().String(), &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
	must(t, err)
	t.Cleanup(func() { conn.Close() })
	return conn
}

// TestParkedPingClientGone: a device that hangs up while its Ping is parked is
// forgotten at once, subscription and all, with no change and long before its
// heartbeat ends.
func TestParkedPingClientGone(t *testing.T) {
	e := newParkingEnv(t)
	c, inbox, _ := synced(t, e)
	conn := dialTLS(t, e)
	_, err := conn.Write(rawPing(t, c, pingXML(inbox, "300")))
	must(t, err)
	waitParked(t, e, 1)
	must(t, conn.Close())
	for deadline := time.Now().Add(10 * time.Second); e.srv.parking.count() != 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the Ping of a closed connection stays parked")
		}
	}
	if n := e.srv.parking.hangups.Len(); n != 0 {
		t.Errorf("%d connections still watched", n)
	}
	e.srv.parking.mu.Lock()
	accounts := len(e.srv.parking.accounts)
	e.srv.parking.mu.Unlock()
	if accounts != 0 {
		t.Errorf("%d accounts still watched", accounts)
	}
}

// TestParkedPingEarlyInput: a device that sends its next request while its Ping is
// parked (HTTP/1.1 pipelining) gets the Ping answered at once with status 1, and the
// next request served on the same connection.
func TestParkedPingEarlyInput(t *testing.T) {
	e := newParkingEnv(t)
	c, inbox, _ := synced(t, e)
	conn := dialTLS(t, e)
	ping := rawPing(t, c, pingXML(inbox, "300"))
	_, err := conn.Write(ping)
	must(t, err)
	waitParked(t, e, 1)
	_, err = conn.Write(ping)
	must(t, err)
	must(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to the parked Ping: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	must(t, err)
	el, err := wbxml.Decode(body)
	must(t, err)
	if status(el, wbxml.NSPing) != "1" || resp.Close {
		t.Fatalf("first answer: HTTP %d, close %v, %s", resp.StatusCode, resp.Close, el.XML())
	}
	waitParked(t, e, 1) // the second Ping, read from the same connection
}

// TestParkedPingShutdown: Shutdown answers every parked Ping with status 1 and closes
// its connection.
func TestParkedPingShutdown(t *testing.T) {
	e := newParkingEnv(t)
	c, inbox, _ := synced(t, e)
	var done []<-chan pingAnswer
	for range 3 {
		pc := *c
		done = append(done, sendPing(&pc, pingXML(inbox, "300")))
	}
	waitParked(t, e, 3)
	must(t, e.srv.Shutdown(context.Background()))
	for _, d := range done {
		select {
		case a := <-d:
			if a.el == nil || status(a.el, wbxml.NSPing) != "1" || !a.resp.Close {
				t.Errorf("Ping at shutdown: HTTP %d, close %v, %v", a.resp.StatusCode, a.resp.Close, a.el)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Shutdown did not answer a parked Ping")
		}
	}
	if n := e.srv.parking.count(); n != 0 {
		t.Errorf("%d Pings parked after Shutdown", n)
	}
	// A Ping after Shutdown is answered at once.
	if r := c.do("Ping", pingXML(inbox, "300")); status(r, wbxml.NSPing) != "1" {
		t.Errorf("Ping after Shutdown: %s", r.XML())
	}
}

// TestParkedPingFallbacks: over HTTP/2 a Ping waits in its handler; a Ping followed by
// pipelined bytes parks, and its connection is closed after the answer, as net/http
// cannot take those bytes back.
func TestParkedPingFallbacks(t *testing.T) {
	t.Run("http2", func(t *testing.T) {
		e := newParkingEnv(t)
		c, inbox, _ := synced(t, e)
		ts2 := httptest.NewUnstartedServer(e.ts.Config.Handler)
		ts2.EnableHTTP2 = true
		ts2.StartTLS()
		defer ts2.Close()
		e2 := *e
		e2.ts = ts2
		c2 := e2.client(c.deviceID)
		c2.policyKey = c.policyKey
		done := sendPing(c2, pingXML(inbox, "300"))
		for deadline := time.Now().Add(10 * time.Second); e.srv.holds() != 1; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("HTTP/2 Ping not held")
			}
		}
		if n := e.srv.parking.count(); n != 0 {
			t.Errorf("%d Pings parked over HTTP/2", n)
		}
		e.deliver(e.alice, store.RoleInbox, message("bob@example.com", "alice@example.com", "pushed", "hello"), time.Now())
		select {
		case a := <-done:
			if a.resp.ProtoMajor != 2 || a.el == nil || status(a.el, wbxml.NSPing) != "2" {
				t.Errorf("HTTP/2 Ping: %s, %v", a.resp.Proto, a.el)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("HTTP/2 Ping not answered")
		}
	})
	t.Run("pipelined", func(t *testing.T) {
		e := newParkingEnv(t)
		c, inbox, _ := synced(t, e)
		conn := dialTLS(t, e)
		next, err := http.NewRequest(http.MethodOptions, c.url("Ping"), nil)
		must(t, err)
		var b bytes.Buffer
		must(t, next.Write(&b))
		_, err = conn.Write(append(rawPing(t, c, pingXML(inbox, "300")), b.Bytes()...))
		must(t, err)
		waitParked(t, e, 1)
		e.deliver(e.alice, store.RoleInbox, message("bob@example.com", "alice@example.com", "pushed", "hello"), time.Now())
		must(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		must(t, err)
		body, err := io.ReadAll(resp.Body)
		must(t, err)
		el, err := wbxml.Decode(body)
		must(t, err)
		if status(el, wbxml.NSPing) != "2" || !resp.Close {
			t.Errorf("pipelined Ping: close %v, %s", resp.Close, el.XML())
		}
		if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
			t.Errorf("after the answer: %v, want EOF", err)
		}
	})
}

// TestParkedPingResponses checks that one batch builds each distinct answer once and
// shares its bytes, and that each response is the answer its Ping is owed.
func TestParkedPingResponses(t *testing.T) {
	e := newParkingEnv(t)
	a, b := []byte("Cache-Control: private\r\n"), []byte("Cache-Control: private\r\nX-Other: 1\r\n")
	ping := func(header []byte, close bool) *parkedPing { return &parkedPing{header: header, close: close} }
	replies := []pingReply{
		{ping(a, false), pingChanges, []store.FolderID{3}},
		{ping(a, false), pingChanges, []store.FolderID{3}},
		{ping(a, false), pingChanges, []store.FolderID{3, 4}},
		{ping(a, false), pingExpired, nil},
		{ping(a, true), pingChanges, []store.FolderID{3}},
		{ping(b, false), pingChanges, []store.FolderID{3}},
	}
	wire := e.srv.parking.responses(replies)
	for _, tc := range []struct {
		i, j  int
		share bool
	}{
		{0, 1, true},
		{0, 2, false}, // other folders
		{0, 3, false}, // other status
		{0, 4, false}, // Connection: close
		{0, 5, false}, // other headers
	} {
		if got := &wire[tc.i][0] == &wire[tc.j][0]; got != tc.share {
			t.Errorf("replies %d and %d share bytes: %v, want %v", tc.i, tc.j, got, tc.share)
		}
	}
	for i, r := range replies {
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(wire[i])), nil)
		must(t, err)
		body, err := io.ReadAll(resp.Body)
		must(t, err)
		el, err := wbxml.Decode(body)
		must(t, err)
		want, err := wbxml.Encode(pingResponse(r.code, r.hit))
		must(t, err)
		if !bytes.Equal(body, want) || resp.Close != r.p.close || resp.Header.Get("Date") == "" ||
			resp.Header.Get("Content-Type") != contentTypeWBXML {
			t.Errorf("reply %d: close %v, header %v, body %s", i, resp.Close, resp.Header, el.XML())
		}
		if got := resp.Header.Get("X-Other") != ""; got != bytes.Equal(r.p.header, b) {
			t.Errorf("reply %d: header %v", i, resp.Header)
		}
	}
}
