package sqlstore_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"mailroom/internal/blob"
	"mailroom/internal/store"
)

// The writer half of TestKillMidWrite: run in a child process, it writes until killed and
// reports on stdout each write the store acknowledged.
func TestHelperKillWriter(t *testing.T) {
	p := place{dir: os.Getenv("MAILROOM_KILL_WRITER_DIR"), pg: os.Getenv("MAILROOM_KILL_WRITER_PG")}
	// Rounds alternate between blobs kept in the database (up to the inline limit, which
	// covers every size written here) and blobs in files: both must survive a kill.
	p.inline, _ = strconv.Atoi(os.Getenv("MAILROOM_KILL_WRITER_INLINE"))
	if p.dir == "" {
		t.Skip("only run as the child of TestKillMidWrite")
	}
	s, _, _ := open(t, p)
	ctx := context.Background()
	if _, err := s.EnsureAccount(ctx, 1); err != nil {
		fmt.Println("fatal", err)
		os.Exit(1)
	}
	in, err := s.FolderByRole(ctx, 1, store.RoleInbox)
	if err != nil {
		fmt.Println("fatal", err)
		os.Exit(1)
	}
	trash, _ := s.FolderByRole(ctx, 1, store.RoleTrash)
	out := bufio.NewWriter(os.Stdout)
	fmt.Fprintln(out, "ready")
	out.Flush()
	seed, _ := strconv.ParseUint(os.Getenv("MAILROOM_KILL_WRITER_SEED"), 10, 64)
	rng := rand.New(rand.NewPCG(seed, 1))
	for i := 0; ; i++ {
		size := 200 + rng.IntN(150_000)
		body := make([]byte, size)
		for j := range body {
			body[j] = 'a' + byte(rng.IntN(26))
			if j%76 == 75 {
				body[j] = '\n'
			}
		}
		raw := fmt.Appendf(nil, "From: w@x.test\r\nTo: r@x.test\r\nSubject: %d-%d\r\nMessage-ID: <%d.%d@kill>\r\n\r\n%s\r\n", seed, i, seed, i, body)
		d, err := s.Deliver(ctx, store.NewMessage{Raw: raw}, []store.Placement{{Account: 1}})
		if err != nil {
			fmt.Fprintln(out, "fatal", err)
			out.Flush()
			os.Exit(1)
		}
		sum := sha256.Sum256(raw)
		fmt.Fprintf(out, "ack %d %s\n", d[0].ID, hex.EncodeToString(sum[:]))
		out.Flush()
		switch rng.IntN(4) {
		case 0:
			// Move it to the trash and expunge it there: say so before starting, so the
			// parent knows the message may be gone.
			fmt.Fprintf(out, "dropping %d\n", d[0].ID)
			out.Flush()
			res, err := s.Move(ctx, in.ID, []store.UID{d[0].UID}, trash.ID)
			if err == nil {
				_, err = s.Expunge(ctx, trash.ID, res.Dest)
			}
			if err != nil {
				fmt.Fprintln(out, "fatal", err)
				out.Flush()
				os.Exit(1)
			}
		case 1:
			if _, err := s.StoreFlags(ctx, store.FlagUpdate{Folder: in.ID, UIDs: []store.UID{d[0].UID}, Op: store.FlagsAdd, Flags: []string{store.FlagSeen}}); err != nil {
				fmt.Fprintln(out, "fatal", err)
				out.Flush()
				os.Exit(1)
			}
		}
	}
}

// TestKillMidWrite kills a writing process at random instants, again and again, and
// checks after each kill that every acknowledged message is intact and the database and
// counters are consistent. On PostgreSQL the server stays up: the writer is a node
// that dies.
func TestKillMidWrite(t *testing.T) {
	if testing.Short() {
		t.Skip("kills processes in a loop")
	}
	p := newPlace(t)
	acked := map[store.MessageID]string{}
	dropping := map[store.MessageID]bool{}
	const rounds = 20
	for round := range rounds {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperKillWriter$", "-test.v")
		inline := 0
		if round%2 == 0 {
			inline = blob.DefaultInlineLimit
		}
		cmd.Env = append(os.Environ(), "MAILROOM_KILL_WRITER_DIR="+p.dir, "MAILROOM_KILL_WRITER_PG="+p.pg,
			fmt.Sprintf("MAILROOM_KILL_WRITER_INLINE=%d", inline),
			fmt.Sprintf("MAILROOM_KILL_WRITER_SEED=%d", round+1))
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 1024)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		// Once the account exists, let it write for a while, then kill it without warning.
		for ready := false; !ready; {
			select {
			case l, ok := <-lines:
				if !ok || strings.HasPrefix(l, "fatal") {
					t.Fatalf("round %d: writer failed before it was ready: %q", round, l)
				}
				ready = l == "ready"
			case <-time.After(30 * time.Second):
				t.Fatalf("round %d: writer not ready", round)
			}
		}
		deadline := time.After(time.Duration(200+rand.IntN(700)) * time.Millisecond)
		killed := false
		for !killed {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("round %d: writer ended by itself", round)
				}
				record(t, l, acked, dropping)
			case <-deadline:
				if err := cmd.Process.Kill(); err != nil {
					t.Fatal(err)
				}
				killed = true
			}
		}
		for l := range lines {
			record(t, l, acked, dropping)
		}
		_ = cmd.Wait()
		verify(t, p, acked, dropping)
	}
	if len(acked) < rounds {
		t.Fatalf("only %d writes acknowledged over %d rounds", len(acked), rounds)
	}
	t.Logf("%d acknowledged messages survived %d kills", len(acked)-len(dropping), rounds)
}

func record(t *testing.T, line string, acked map[store.MessageID]string, dropping map[store.MessageID]bool) {
	f := strings.Fields(line)
	switch {
	case len(f) == 3 && f[0] == "ack":
		id, _ := strconv.ParseInt(f[1], 10, 64)
		acked[store.MessageID(id)] = f[2]
	case len(f) == 2 && f[0] == "dropping":
		id, _ := strconv.ParseInt(f[1], 10, 64)
		dropping[store.MessageID(id)] = true
	case len(f) > 0 && f[0] == "fatal":
		t.Fatalf("writer failed: %s", line)
	}
}

func verify(t *testing.T, p place, acked map[store.MessageID]string, dropping map[store.MessageID]bool) {
	t.Helper()
	s, d, _ := open(t, p)
	defer d.Close()
	defer s.Close()
	ctx := context.Background()
	if err := d.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
	for id, sum := range acked {
		if dropping[id] {
			continue
		}
		raw, err := s.Raw(ctx, id)
		if err != nil {
			t.Fatalf("acknowledged message %d lost: %v", id, err)
		}
		got := sha256.Sum256(raw)
		if hex.EncodeToString(got[:]) != sum {
			t.Fatalf("acknowledged message %d corrupted", id)
		}
	}
	// Counters agree with the rows.
	folders, err := s.Folders(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	acct, err := s.Account(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	var count int
	for _, f := range folders {
		list, err := s.List(ctx, f.ID)
		if err != nil {
			t.Fatal(err)
		}
		var size int64
		unseen := 0
		for _, m := range list {
			size += m.Size
			if !hasFlag(m.Flags, store.FlagSeen) {
				unseen++
			}
			if _, err := s.Raw(ctx, m.ID); err != nil {
				t.Fatalf("message %d in folder %v has no bytes: %v", m.ID, f.Path, err)
			}
		}
		if f.Messages != len(list) || f.Size != size || f.Unseen != unseen {
			t.Fatalf("folder %v counters %d/%d/%d, rows %d/%d/%d", f.Path, f.Messages, f.Size, f.Unseen, len(list), size, unseen)
		}
		total += size
		count += len(list)
	}
	if acct.UsedBytes != total || acct.Messages != count {
		t.Fatalf("account counters %d bytes/%d messages, rows %d/%d", acct.UsedBytes, acct.Messages, total, count)
	}
}

func hasFlag(flags []string, f string) bool {
	for _, x := range flags {
		if x == f {
			return true
		}
	}
	return false
}
