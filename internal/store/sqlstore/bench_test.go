package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"mailroom/internal/db"
	"mailroom/internal/store"
	"mailroom/internal/store/sqlstore"
)

func benchMessage(size int) []byte {
	var b strings.Builder
	b.WriteString("From: Alice <alice@example.test>\r\nTo: bob@example.test\r\nSubject: benchmark\r\nMessage-ID: <bench@x>\r\n\r\n")
	line := "The quick brown fox jumps over the lazy dog, again and again and again.\r\n"
	for b.Len() < size {
		b.WriteString(line)
	}
	return []byte(b.String()[:size])
}

// benchStore opens a store on a fresh place with account 1 (withAccount).
func benchStore(b *testing.B) (*sqlstore.Store, *db.DB, context.Context) {
	b.Helper()
	s, d := withAccount(b, newPlace(b))
	return s, d, context.Background()
}

// numbered makes message i of a run distinct from the others (its own blob).
func numbered(i int, base []byte) []byte {
	return append(fmt.Appendf(nil, "X-Seq: %d\r\n", i), base...)
}

// BenchmarkDeliver measures a durable delivery (blob fsync, then one committed
// transaction) of a 10 KB, a 100 KB and a 1 MB message.
func BenchmarkDeliver(b *testing.B) {
	for _, size := range []int{10 << 10, 100 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("%dKB", size>>10), func(b *testing.B) {
			s, _, ctx := benchStore(b)
			base := benchMessage(size)
			b.SetBytes(int64(size))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				raw := numbered(i, base)
				if _, err := s.Deliver(ctx, store.NewMessage{Raw: raw}, []store.Placement{{Account: 1}}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkConcurrentWrites measures what many sessions at once cost: 16 writers
// delivering 10 KB messages, and 16 writers changing flags, which share commits (and so
// fsyncs) where the engine has a single writer.
func BenchmarkConcurrentWrites(b *testing.B) {
	setup := func(b *testing.B) (store.Store, context.Context) {
		s, _, ctx := benchStore(b)
		return s, ctx
	}
	base := benchMessage(10 << 10)
	b.Run("deliver", func(b *testing.B) {
		s, ctx := setup(b)
		var seq atomic.Int64
		b.SetParallelism(8)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				raw := append(fmt.Appendf(nil, "X-Seq: %d\r\n", seq.Add(1)), base...)
				if _, err := s.Deliver(ctx, store.NewMessage{Raw: raw}, []store.Placement{{Account: 1}}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("flags", func(b *testing.B) {
		s, ctx := setup(b)
		var got []store.Delivered
		for i := range 256 {
			d, err := s.Deliver(ctx, store.NewMessage{Raw: append(fmt.Appendf(nil, "X-Seq: %d\r\n", i), base...)}, []store.Placement{{Account: 1}})
			if err != nil {
				b.Fatal(err)
			}
			got = append(got, d...)
		}
		var seq atomic.Int64
		b.SetParallelism(8)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				d := got[seq.Add(1)%int64(len(got))]
				op := store.FlagsAdd
				if seq.Load()%2 == 0 {
					op = store.FlagsRemove
				}
				if _, err := s.StoreFlags(ctx, store.FlagUpdate{Folder: d.Folder, UIDs: []store.UID{d.UID}, Op: op, Flags: []string{store.FlagSeen}}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkLargeFolder measures, on a folder of 100,000 messages, listing UIDs and flags,
// reading the changes after a point 1,000 changes back, and searching.
func BenchmarkLargeFolder(b *testing.B) {
	const n = 100_000
	s, d, ctx := benchStore(b)
	// Deliver a few hundred distinct messages the normal way, then multiply the rows in
	// SQL: a real delivery per message would make the set-up take many minutes.
	const distinct = 500
	var folder store.FolderID
	for i := range distinct {
		raw := fmt.Appendf(nil, "From: user%d@example.test\r\nTo: bob@example.test\r\nSubject: topic %d\r\nMessage-ID: <%d@bench>\r\n\r\nBody number %d mentions code%05d.\r\n", i, i, i, i, i)
		ds, err := s.Deliver(ctx, store.NewMessage{Raw: raw}, []store.Placement{{Account: 1}})
		if err != nil {
			b.Fatal(err)
		}
		folder = ds[0].Folder
	}
	err := d.WriteTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `WITH RECURSIVE k(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM k WHERE x < $2)
			INSERT INTO messages (account, folder, uid, modseq, flags, keywords, size, internal_date, sent_date, blob, message_id, summary, props)
			SELECT account, folder, uid + k.x * $3, modseq, (k.x % 3) & 1, keywords, size, internal_date, sent_date, blob, message_id, summary, props
			FROM messages, k WHERE folder = $1`, folder, n/distinct-1, distinct)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE blobs SET refs = refs * $1`, n/distinct)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	// 1,000 changes after a point: flag changes one by one.
	list, err := s.List(ctx, folder)
	if err != nil || len(list) != n {
		b.Fatalf("list: %d messages, %v", len(list), err)
	}
	acct, _ := s.Account(ctx, 1)
	for i := range 1000 {
		if _, err := s.StoreFlags(ctx, store.FlagUpdate{Folder: folder, UIDs: []store.UID{list[i].UID}, Op: store.FlagsAdd, Flags: []string{store.FlagFlagged}}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	b.Run("List100k", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if l, err := s.List(ctx, folder); err != nil || len(l) != n {
				b.Fatal(len(l), err)
			}
		}
	})
	b.Run("ChangesSince1000", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if ch, _, err := s.Changes(ctx, 1, acct.ModSeq, 0); err != nil || len(ch) != 1000 {
				b.Fatal(len(ch), err)
			}
		}
	})
	searches := []struct {
		name string
		c    store.Criteria
		want int
	}{
		{"Body", store.Criteria{Body: "code00042"}, n / distinct},
		{"Subject", store.Criteria{Subject: "topic 77"}, n / distinct},
		{"Unseen", store.Criteria{NotFlags: []string{store.FlagSeen}}, -1},
		{"FromAndBody", store.Criteria{From: "user12@", Body: "number 12 "}, n / distinct},
	}
	for _, sc := range searches {
		b.Run("Search"+sc.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				got, err := s.Search(ctx, folder, &sc.c)
				if err != nil || (sc.want >= 0 && len(got) != sc.want) {
					b.Fatalf("%d results, %v", len(got), err)
				}
			}
		})
	}
}

// textBodies are the bodies the indexing benchmarks deliver: English-like text that
// repeats (few distinct trigrams) and mailbench's random letters and digits (a new
// trigram at nearly every position, the index's worst case).
var textBodies = []struct {
	name string
	make func(size int) []byte
}{{"prose", benchMessage}, {"random", randomMessage}}

// randomMessage is a message of size bytes whose body is lines of random letters,
// digits and spaces, as cmd/mailbench sends.
func randomMessage(size int) []byte {
	const alphabet = "abcdefghijklmnopqrstuvwxyz abcdefghijklmnopqrstuvwxyz ABCDEFGHIJ0123456789"
	r := rand.New(rand.NewPCG(1, 2))
	b := []byte("From: Alice <alice@example.test>\r\nTo: bob@example.test\r\nSubject: benchmark\r\nMessage-ID: <bench@x>\r\n\r\n")
	for len(b) < size {
		for range 76 {
			b = append(b, alphabet[r.IntN(len(alphabet))])
		}
		b = append(b, '\r', '\n')
	}
	return b[:size]
}

// BenchmarkIndexText measures the SQLite text indexer: the CPU time the process spends,
// per 10 KB message, from the end of a run of deliveries until every text is indexed
// (cpu-ms/msg; the deliveries themselves are outside the figure).
func BenchmarkIndexText(b *testing.B) {
	for _, body := range textBodies {
		b.Run(body.name, func(b *testing.B) {
			s, d, ctx := benchStore(b)
			base := body.make(10 << 10)
			var cpu time.Duration
			for i := 0; i < b.N; i++ {
				raw := numbered(i, base)
				if _, err := s.Deliver(ctx, store.NewMessage{Raw: raw}, []store.Placement{{Account: 1}}); err != nil {
					b.Fatal(err)
				}
				if (i+1)%256 == 0 || i == b.N-1 {
					start := processCPU(b)
					waitIndexed(b, d)
					cpu += processCPU(b) - start
				}
			}
			b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/msg")
		})
	}
}

// BenchmarkExpunge measures removing one indexed 10 KB message whose bytes no other
// message shares (what an IMAP EXPUNGE of a delivered message costs under the write
// lock), in time and in the process's CPU.
func BenchmarkExpunge(b *testing.B) {
	for _, body := range textBodies {
		b.Run(body.name, func(b *testing.B) {
			s, d, ctx := benchStore(b)
			base := body.make(10 << 10)
			got := make([]store.Delivered, b.N)
			for i := range got {
				raw := numbered(i, base)
				ds, err := s.Deliver(ctx, store.NewMessage{Raw: raw}, []store.Placement{{Account: 1}})
				if err != nil {
					b.Fatal(err)
				}
				got[i] = ds[0]
			}
			waitIndexed(b, d)
			start := processCPU(b)
			b.ResetTimer()
			for _, m := range got {
				if _, err := s.Expunge(ctx, m.Folder, []store.UID{m.UID}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64((processCPU(b)-start).Microseconds())/1000/float64(b.N), "cpu-ms/op")
		})
	}
}

// processCPU is the user and system CPU time the process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
