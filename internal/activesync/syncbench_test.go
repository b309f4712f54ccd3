package activesync

import (
	"crypto/tls"
	"fmt"
	"runtime"
	"testing"
	"time"

	"mailroom/internal/store"
	"mailroom/internal/wbxml"
)

// benchInbox fills alice's Inbox with n messages of about 5 KB and returns a
// provisioned client with the Inbox's collection id.
func benchInbox(b *testing.B, n int) (*client, string) {
	b.Helper()
	e := newEnv(b)
	body := make([]byte, 5000)
	for i := range body {
		body[i] = 'a' + byte(i%26)
		if i%70 == 69 {
			body[i] = '\n'
		}
	}
	for i := range n {
		e.deliver(e.alice, store.RoleInbox, message("bob@example.com", "alice@example.com", fmt.Sprintf("message %d", i), string(body)), time.Now())
	}
	c := e.client("bench")
	c.provision()
	return c, folderServerID(e.folder(e.alice, store.RoleInbox).ID)
}

// BenchmarkSyncNoChange is a device polling an unchanged 200-message Inbox it holds.
func BenchmarkSyncNoChange(b *testing.B) {
	c, inbox := benchInbox(b, 200)
	ns := wbxml.NSAirSync
	key := collection(c.do("Sync", syncXML(inbox, "0", ""))).ChildText(ns, "SyncKey")
	for {
		col := collection(c.do("Sync", syncXML(inbox, key, `<WindowSize>512</WindowSize>`)))
		key = col.ChildText(ns, "SyncKey")
		if col.Child(ns, "MoreAvailable") == nil {
			break
		}
	}
	b.ResetTimer()
	for b.Loop() {
		col := collection(c.do("Sync", syncXML(inbox, key, "")))
		if col.ChildText(ns, "SyncKey") != key || col.Child(ns, "Commands") != nil {
			b.Fatalf("not a no-change Sync: %s", col.XML())
		}
	}
}

// BenchmarkSyncFullPage is one round trip of a first sync: 100 items of a 300-message
// Inbox (after a SyncKey 0, which is not timed). "cached" finds the items in the render
// cache, as every device but the first to sync them does; "cold" empties it first.
func BenchmarkSyncFullPage(b *testing.B) {
	for _, cold := range []bool{false, true} {
		name := "cached"
		if cold {
			name = "cold"
		}
		b.Run(name, func(b *testing.B) { benchFullPage(b, cold) })
	}
}

func benchFullPage(b *testing.B, cold bool) {
	c, inbox := benchInbox(b, 300)
	ns := wbxml.NSAirSync
	opts := `<WindowSize>100</WindowSize><Options><airsyncbase:BodyPreference><airsyncbase:Type>1</airsyncbase:Type>` +
		`<airsyncbase:TruncationSize>32768</airsyncbase:TruncationSize></airsyncbase:BodyPreference></Options>`
	for b.Loop() {
		b.StopTimer()
		key := collection(c.do("Sync", syncXML(inbox, "0", opts))).ChildText(ns, "SyncKey")
		if cold {
			c.e.srv.renders.reset()
		}
		b.StartTimer()
		col := collection(c.do("Sync", syncXML(inbox, key, opts)))
		if n := len(col.Child(ns, "Commands").All(ns, "Add")); n != 100 {
			b.Fatalf("%d items, want 100", n)
		}
	}
}

// BenchmarkHeldPing holds pings Pings, each on its own TLS connection, and reports what
// the server's goroutine stacks and heap grow by per held Ping after a collection
// (the heap figure includes the client ends of the connections, which live in the same
// process; the stacks are the server's alone: the clients have no goroutines). The
// Pings wait in their handlers ("handler") or parked (park.go).
func BenchmarkHeldPing(b *testing.B) {
	b.Run("handler", func(b *testing.B) { benchHeldPing(b, newEnv(b)) })
	b.Run("parked", func(b *testing.B) { benchHeldPing(b, newParkingEnv(b)) })
}

func benchHeldPing(b *testing.B, e *env) {
	const pings = 300
	inbox := folderServerID(e.folder(e.alice, store.RoleInbox).ID)
	el, err := wbxml.ParseXML([]byte(`<Ping xmlns="Ping"><HeartbeatInterval>600</HeartbeatInterval><Folders><Folder>` +
		`<Id>` + inbox + `</Id><Class>Email</Class></Folder></Folders></Ping>`))
	must(b, err)
	body, err := wbxml.Encode(el)
	must(b, err)
	requests := make([][]byte, pings)
	for i := range requests {
		c := e.client(fmt.Sprintf("ping%d", i))
		c.provision()
		requests[i] = pingRequest(b, c, body)
	}
	addr := e.ts.Listener.Addr().String()
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		conns := make([]*tls.Conn, 0, pings)
		for _, req := range requests {
			conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
			must(b, err)
			_, err = conn.Write(req)
			must(b, err)
			conns = append(conns, conn)
		}
		for deadline := time.Now().Add(time.Minute); e.srv.waiting() < pings; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				b.Fatalf("%d of %d Pings held", e.srv.waiting(), pings)
			}
		}
		time.Sleep(500 * time.Millisecond) // past each Ping's first look at the change log
		runtime.GC()
		runtime.GC() // the second collection shrinks the stacks the first found oversized
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(int64(after.StackInuse)-int64(before.StackInuse))/pings, "stack-B/ping")
		b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/pings, "heap-B/ping")
		for _, c := range conns {
			c.Close()
		}
		// A parked Ping notices its closed connection when it is answered.
		e.deliver(e.alice, store.RoleInbox, message("bob@example.com", "alice@example.com", "wake", "up"), time.Now())
		for deadline := time.Now().Add(time.Minute); e.srv.waiting() > 0 && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// reset empties the render cache.
func (c *renderCache) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.entries)
	c.order.Init()
	c.size = 0
}

// holds returns how many requests wait for changes.
func (s *Server) holds() int {
	s.holdMu.Lock()
	defer s.holdMu.Unlock()
	return s.holding
}
