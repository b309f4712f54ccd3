package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailroom/internal/activesync"
	"mailroom/internal/auth"
	"mailroom/internal/blob"
	"mailroom/internal/db"
	"mailroom/internal/directory"
	"mailroom/internal/httpresume"
	"mailroom/internal/store"
	"mailroom/internal/store/sqlstore"
)

// noSubmitter refuses to send mail: the scenarios never send any.
type noSubmitter struct{}

func (noSubmitter) Submit(context.Context, directory.User, []byte, bool) error {
	return errors.New("mailbench's test server sends no mail")
}

// easServer starts Mailroom's ActiveSync server over HTTPS on loopback, with a real
// SQLite store holding one user whose Inbox has messages messages, and returns its
// address.
func easServer(t *testing.T, messages int) string {
	t.Helper()
	ctx := context.Background()
	tmp := t.TempDir()
	d, err := db.OpenSQLite(ctx, filepath.Join(tmp, "mailroom.db"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := blob.Open(filepath.Join(tmp, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlstore.New(ctx, d, b, sqlstore.Options{WatchInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	dir, err := directory.New(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dir.AddDomain(ctx, "bench.test", "BENCH"); err != nil {
		t.Fatal(err)
	}
	u, err := dir.AddUser(ctx, directory.NewUser{Address: "bench@bench.test", Password: "correct horse battery"})
	if err != nil {
		t.Fatal(err)
	}
	acct := store.AccountID(u.ID)
	if _, err := st.EnsureAccount(ctx, acct); err != nil {
		t.Fatal(err)
	}
	inbox, err := st.FolderByRole(ctx, acct, store.RoleInbox)
	if err != nil {
		t.Fatal(err)
	}
	mk, err := newMessageMaker("load@sender.test", []string{"bench@bench.test"}, 2000, 1)
	if err != nil {
		t.Fatal(err)
	}
	for i := range messages {
		raw, err := mk.message(i)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Deliver(ctx, store.NewMessage{Raw: raw}, []store.Placement{{Account: acct, Folder: inbox.ID}}); err != nil {
			t.Fatal(err)
		}
	}
	signIn, err := auth.New(ctx, auth.Config{DB: d, Directory: dir})
	if err != nil {
		t.Fatal(err)
	}
	// Waiting Pings park and come back to the HTTPS server, as in "mailroom serve".
	resumed := httpresume.New()
	srv, err := activesync.New(ctx, activesync.Config{
		Store: st, Directory: dir, Auth: signIn, DB: d, Submitter: noSubmitter{}, Policy: activesync.DefaultPolicy(),
		MinHeartbeat: 1, Resume: resumed,
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/Microsoft-Server-ActiveSync", srv)
	ts := httptest.NewTLSServer(mux)
	go ts.Config.Serve(resumed)
	t.Cleanup(func() {
		resumed.Close()
		ts.Close()
		_ = srv.Shutdown(ctx)
		st.Close()
		d.Close()
	})
	return strings.TrimPrefix(ts.URL, "https://")
}

// TestActiveSyncScenarios runs the three scenarios at a small size against a real
// server: a smoke test of the tool, with no assertion on its figures' speed.
func TestActiveSyncScenarios(t *testing.T) {
	const messages = 30
	addr := easServer(t, messages)
	auth := []string{"--addr", addr, "--user", "bench@bench.test", "--password", "correct horse battery"}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	so, err := parseEASSyncFlags(append(auth, "--devices", "3", "--window", "7", "--duration", "300ms"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	srep, errs, err := benchEASSync(ctx, so)
	if err != nil || errs != 0 {
		t.Fatalf("activesync-sync: %v, %d errors: %+v", err, errs, srep)
	}
	if srep.ItemsPerDevice != messages || srep.Items != 3*messages || srep.Syncs == 0 || srep.Changed != 0 {
		t.Errorf("activesync-sync report %+v", srep)
	}

	po, err := parseEASPingFlags(append(auth, "--devices", "5", "--heartbeat", "30", "--settle", "500ms", "--wait", "20s",
		"--server-pid", fmt.Sprint(os.Getpid()), "--sources", "2"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	prep, errs, err := benchEASPing(ctx, po)
	if err != nil || errs != 0 {
		t.Fatalf("activesync-ping: %v, %d errors: %+v", err, errs, prep)
	}
	if prep.Answered != 5 || prep.Early != 0 || prep.RSSHeldKB <= 0 {
		t.Errorf("activesync-ping report %+v", prep)
	}

	fo, err := parseEASFullFlags(append(auth, "--window", "8", "--runs", "2", "--expect", fmt.Sprint(messages)), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	frep, errs, err := benchEASFull(ctx, fo)
	if err != nil || errs != 0 {
		t.Fatalf("activesync-fullsync: %v, %d errors: %+v", err, errs, frep)
	}
	if len(frep.Runs) != 2 || frep.Runs[0].Items != messages || frep.Runs[0].Rounds != 1+(messages+7)/8 {
		t.Errorf("activesync-fullsync report %+v", frep)
	}
	// The text reports print.
	var sb strings.Builder
	srep.writeText(&sb)
	prep.writeText(&sb)
	frep.writeText(&sb)
	if !strings.Contains(sb.String(), "Syncs/s") || !strings.Contains(sb.String(), "within 1 s") {
		t.Errorf("text report:\n%s", sb.String())
	}
}

func TestActiveSyncFlags(t *testing.T) {
	base := []string{"--addr", "127.0.0.1:8443", "--user", "u@x.test", "--password", "p"}
	for _, tc := range []struct {
		name string
		args []string
		want string // "" for no error
	}{
		{"ok", base, ""},
		{"not loopback", []string{"--addr", "192.0.2.1:443", "--user", "u", "--password", "p"}, "loopback"},
		{"no password", []string{"--addr", "127.0.0.1:443", "--user", "u"}, "--password"},
		{"protocol", append(base, "--protocol", "12.1"), "--protocol"},
		{"sources", append(base, "--sources", "0"), "--sources"},
		{"window", append(base, "--window", "513"), "--window"},
		{"prefix", append(base, "--device-prefix", "a-b"), "--device-prefix"},
		{"devices", append(base, "--devices", "0"), "--devices"},
		{"duration", append(base, "--duration", "0s"), "--duration"},
		{"extra", append(base, "x"), "unexpected"},
	} {
		_, err := parseEASSyncFlags(tc.args, io.Discard)
		if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: err %v, want %q", tc.name, err, tc.want)
		}
	}
	if _, err := parseEASPingFlags(append(base, "--heartbeat", "4000"), io.Discard); err == nil {
		t.Error("activesync-ping: --heartbeat 4000 accepted")
	}
	if _, err := parseEASFullFlags(append(base, "--runs", "0"), io.Discard); err == nil {
		t.Error("activesync-fullsync: --runs 0 accepted")
	}
	var stderr strings.Builder
	if code := run(context.Background(), []string{"activesync-ping", "--addr", "10.0.0.1:443"}, io.Discard, &stderr); code != 2 {
		t.Errorf("exit %d for a remote address, stderr %q", code, stderr.String())
	}
}

func TestReadProc(t *testing.T) {
	kb, err := readRSS(os.Getpid())
	if err != nil || kb <= 0 {
		t.Errorf("readRSS(self) = %d, %v", kb, err)
	}
	if _, err := readRSS(1 << 30); err == nil {
		t.Error("readRSS of no process succeeded")
	}
	if d, err := readCPU(os.Getpid()); err != nil || d < 0 {
		t.Errorf("readCPU(self) = %v, %v", d, err)
	}
	if _, err := readCPU(1 << 30); err == nil {
		t.Error("readCPU of no process succeeded")
	}
}
