package imap

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"mailroom/internal/store"
)

// BenchmarkFetchAll times what a fresh client pays to learn a big folder: log in,
// SELECT INBOX and `UID FETCH 1:* (FLAGS ENVELOPE)` until the tagged OK, over
// implicit TLS. The INBOX gets $FETCH_MESSAGES messages of about 2 KB (default
// 100,000; the filling is not timed): up to 2,000 distinct ones through store.Deliver,
// the rest copies of them made with store.Copy, so the folder fills in minutes rather
// than an hour. Run it with -benchtime 1x (every b.N fills anew). Each iteration is
// one fresh connection; it reports the SELECT and FETCH times and the bytes received.
func BenchmarkFetchAll(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("FETCH_MESSAGES")); err == nil && v > 0 {
		n = v
	}
	e := newSrvEnv(b, func(c *Config) { c.Logger = slog.New(slog.DiscardHandler) })
	start := time.Now()
	base := min(n, 2000)
	fillInbox(b, e, base)
	inbox := e.folder(b, e.alice.ID, "INBOX")
	for have := base; have < n; {
		list, err := e.store.List(context.Background(), inbox.ID)
		if err != nil {
			b.Fatal(err)
		}
		uids := make([]store.UID, 0, min(have, n-have))
		for _, m := range list[:min(have, n-have)] {
			uids = append(uids, m.UID)
		}
		if _, err := e.store.Copy(context.Background(), inbox.ID, uids, inbox.ID); err != nil {
			b.Fatal(err)
		}
		have += len(uids)
	}
	b.Logf("delivered %d messages in %v", n, time.Since(start).Round(time.Millisecond))

	var selectTime, fetchTime time.Duration
	var received int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sel, fetch, bytes := fetchAllOnce(b, e)
		selectTime += sel
		fetchTime += fetch
		received += bytes
	}
	b.ReportMetric(float64(selectTime.Milliseconds())/float64(b.N), "select-ms")
	b.ReportMetric(float64(fetchTime.Milliseconds())/float64(b.N), "fetch-ms")
	b.ReportMetric(float64(received)/float64(b.N), "bytes")
}

// fillInbox delivers n messages to alice's INBOX from 16 writers at once, which
// share commits.
func fillInbox(b *testing.B, e *srvEnv, n int) {
	const writers = 16
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += writers {
				raw := fmt.Sprintf("From: Sender %d <sender%d@example.net>\r\nTo: alice@example.com\r\n"+
					"Subject: message %d about the quarterly numbers\r\nDate: Mon, 2 Mar 2026 10:%02d:00 +0000\r\n"+
					"Message-ID: <%d@bench.example.net>\r\n\r\n%s", i%50, i%50, i, i%60, i, strings.Repeat("body text line\r\n", 100))
				var flags []string
				if i%2 == 0 {
					flags = []string{store.FlagSeen}
				}
				if _, err := e.store.Deliver(context.Background(), store.NewMessage{Raw: []byte(raw), Flags: flags},
					[]store.Placement{{Account: store.AccountID(e.alice.ID)}}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
}

// fetchAllOnce logs in on a new connection, then times SELECT and the FETCH.
func fetchAllOnce(b *testing.B, e *srvEnv) (sel, fetch time.Duration, received int64) {
	b.StopTimer()
	conn, err := tls.Dial("tcp", e.implicit, e.client)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReaderSize(conn, 64<<10)
	until := func(tag string) int64 {
		var n int64
		for {
			line, err := r.ReadString('\n')
			n += int64(len(line))
			if err != nil {
				b.Fatalf("waiting for %s: %v", tag, err)
			}
			if strings.HasPrefix(line, tag+" ") {
				if !strings.HasPrefix(line, tag+" OK") {
					b.Fatalf("%s", line)
				}
				return n
			}
		}
	}
	send := func(s string) {
		if _, err := io.WriteString(conn, s+"\r\n"); err != nil {
			b.Fatal(err)
		}
	}
	until("*")
	send("a LOGIN alice@example.com " + quoteArg(srvPassword))
	until("a")
	b.StartTimer()
	t0 := time.Now()
	send("b SELECT INBOX")
	until("b")
	t1 := time.Now()
	send("c UID FETCH 1:* (FLAGS ENVELOPE)")
	received = until("c")
	t2 := time.Now()
	b.StopTimer()
	send("d LOGOUT")
	return t1.Sub(t0), t2.Sub(t1), received
}
