package pop3

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"mailroom/internal/retention"
)

// poplibScript drives the server with Python's poplib, an independent client: STLS
// with certificate checking, USER/PASS, every transaction command, DELE of message 1
// and QUIT; then a second session over implicit TLS. Arguments: host, STLS port,
// implicit-TLS port, CA file, login, password. It prints JSON.
const poplibScript = `
import json, poplib, ssl, sys
host, port, tls_port, cafile, user, password = sys.argv[1:7]
ctx = ssl.create_default_context(cafile=cafile)
out = {}
p = poplib.POP3(host, int(port), timeout=10)
out["capa_plain"] = sorted(p.capa().keys())
p.stls(context=ctx)
out["capa_tls"] = sorted(p.capa().keys())
p.user(user)
p.pass_(password)
out["stat"] = list(p.stat())
out["list"] = [l.decode() for l in p.list()[1]]
out["uidl"] = [l.decode() for l in p.uidl()[1]]
out["uidl2"] = p.uidl(2).decode()
out["retr"] = [[l.decode("latin-1") for l in p.retr(i)[1]] for i in (1, 2, 3)]
out["top"] = [l.decode("latin-1") for l in p.top(3, 1)[1]]
out["dele"] = p.dele(1).decode()
out["quit"] = p.quit().decode()
q = poplib.POP3_SSL(host, int(tls_port), context=ctx, timeout=10)
q.user(user)
q.pass_(password)
out["stat_after"] = list(q.stat())
out["uidl_after"] = [l.decode() for l in q.uidl()[1]]
q.quit()
json.dump(out, sys.stdout)
`

func TestPoplib(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	e := newEnv(t)
	host, port, _ := strings.Cut(e.plain, ":")
	_, tlsPort, _ := strings.Cut(e.implicit, ":")
	cmd := exec.Command(python, "-c", poplibScript, host, port, tlsPort, e.caFile, "alice@example.com", testPassword)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("poplib: %v\n%s", err, stderr.String())
	}
	var got struct {
		CapaPlain []string   `json:"capa_plain"`
		CapaTLS   []string   `json:"capa_tls"`
		Stat      []int      `json:"stat"`
		List      []string   `json:"list"`
		UIDL      []string   `json:"uidl"`
		UIDL2     string     `json:"uidl2"`
		Retr      [][]string `json:"retr"`
		Top       []string   `json:"top"`
		Dele      string     `json:"dele"`
		Quit      string     `json:"quit"`
		StatAfter []int      `json:"stat_after"`
		UIDLAfter []string   `json:"uidl_after"`
	}
	if err := json.Unmarshal(stdout, &got); err != nil {
		t.Fatalf("poplib output %q: %v", stdout, err)
	}

	if !slices.Contains(got.CapaPlain, "STLS") || slices.Contains(got.CapaPlain, "USER") {
		t.Errorf("capabilities before TLS: %q", got.CapaPlain)
	}
	if !slices.Contains(got.CapaTLS, "USER") || !slices.Contains(got.CapaTLS, "SASL") || slices.Contains(got.CapaTLS, "STLS") {
		t.Errorf("capabilities after TLS: %q", got.CapaTLS)
	}
	total := 0
	var wantList, wantUIDL []string
	for i, m := range testMessages {
		total += len(m)
		wantList = append(wantList, strconv.Itoa(i+1)+" "+strconv.Itoa(len(m)))
		wantUIDL = append(wantUIDL, strconv.Itoa(i+1)+" "+strconv.Itoa(int(e.ids[i])))
	}
	if !slices.Equal(got.Stat, []int{3, total}) {
		t.Errorf("STAT %v, want [3 %d]", got.Stat, total)
	}
	if !slices.Equal(got.List, wantList) {
		t.Errorf("LIST %q, want %q", got.List, wantList)
	}
	if !slices.Equal(got.UIDL, wantUIDL) {
		t.Errorf("UIDL %q, want %q", got.UIDL, wantUIDL)
	}
	if want := "+OK " + wantUIDL[1]; got.UIDL2 != want {
		t.Errorf("UIDL 2: %q, want %q", got.UIDL2, want)
	}
	// poplib undoes the byte-stuffing; what it returns must be the stored lines.
	for i, m := range testMessages {
		want := strings.Split(strings.TrimSuffix(strings.ReplaceAll(m, "\r\n", "\n"), "\n"), "\n")
		if i >= len(got.Retr) || !slices.Equal(got.Retr[i], want) {
			t.Errorf("RETR %d: got %q, want %q", i+1, got.Retr[i], want)
		}
	}
	wantTop := []string{"From: carol@example.com", "To: alice@example.com", "Subject: third", "Message-ID: <3@test>", "", "line 1"}
	if !slices.Equal(got.Top, wantTop) {
		t.Errorf("TOP 3 1: got %q, want %q", got.Top, wantTop)
	}
	if got.Dele != "+OK message 1 deleted" || !strings.HasPrefix(got.Quit, "+OK") {
		t.Errorf("DELE %q, QUIT %q", got.Dele, got.Quit)
	}
	if !slices.Equal(got.StatAfter, []int{2, total - len(testMessages[0])}) {
		t.Errorf("STAT after deleting message 1: %v", got.StatAfter)
	}
	// The unique ids survive the renumbering.
	if want := []string{"1 " + wantUIDL[1][2:], "2 " + wantUIDL[2][2:]}; !slices.Equal(got.UIDLAfter, want) {
		t.Errorf("UIDL after deleting message 1: %q, want %q", got.UIDLAfter, want)
	}
	if ids := e.inboxIDs(t); !slices.Equal(ids, e.ids[1:]) {
		t.Errorf("Inbox holds %v, want %v", ids, e.ids[1:])
	}
}

// poplibDeleteScript runs two sessions with poplib over implicit TLS: the first marks
// messages 1 and 3, undoes that with RSET and quits; the second deletes message 1
// and quits. Arguments: host, port, CA file, login, password. It prints JSON.
const poplibDeleteScript = `
import json, poplib, ssl, sys
host, port, cafile, user, password = sys.argv[1:6]
ctx = ssl.create_default_context(cafile=cafile)
out = {}
def session():
    p = poplib.POP3_SSL(host, int(port), context=ctx, timeout=10)
    p.user(user)
    p.pass_(password)
    return p
p = session()
p.dele(1)
p.dele(3)
out["rset"] = p.rset().decode()
out["quit_rset"] = p.quit().decode()
p = session()
out["stat_before"] = list(p.stat())
out["dele"] = p.dele(1).decode()
out["quit"] = p.quit().decode()
p = session()
out["stat_after"] = list(p.stat())
p.quit()
json.dump(out, sys.stdout)
`

// TestPoplibDeletedItems checks what a poplib DELE and QUIT does under each setting
// of the domain: with POP3 deletions kept the message moves to Deleted Items marked
// with when POP3 moved it, without it is gone; and RSET undoes DELE either way.
func TestPoplibDeletedItems(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	tests := []struct {
		name string
		keep bool
	}{
		{"keep", true},
		{"expunge", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			if err := e.dir.SetPOP3Retention(ctx, "example.com", tt.keep, 7); err != nil {
				t.Fatal(err)
			}
			host, port, _ := strings.Cut(e.implicit, ":")
			before := time.Now().UTC().Truncate(time.Second)
			cmd := exec.Command(python, "-c", poplibDeleteScript, host, port, e.caFile, "alice@example.com", testPassword)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			stdout, err := cmd.Output()
			if err != nil {
				t.Fatalf("poplib: %v\n%s", err, stderr.String())
			}
			after := time.Now().UTC()
			var got struct {
				Rset       string `json:"rset"`
				QuitRset   string `json:"quit_rset"`
				StatBefore []int  `json:"stat_before"`
				Dele       string `json:"dele"`
				Quit       string `json:"quit"`
				StatAfter  []int  `json:"stat_after"`
			}
			if err := json.Unmarshal(stdout, &got); err != nil {
				t.Fatalf("poplib output %q: %v", stdout, err)
			}
			total := 0
			for _, m := range testMessages {
				total += len(m)
			}
			if !strings.HasPrefix(got.Rset, "+OK") || got.QuitRset != "+OK mail.example.com POP3 server signing off (3 messages left)" {
				t.Errorf("RSET %q, QUIT %q", got.Rset, got.QuitRset)
			}
			if !slices.Equal(got.StatBefore, []int{3, total}) {
				t.Errorf("STAT after RSET and QUIT: %v, want [3 %d]", got.StatBefore, total)
			}
			if got.Dele != "+OK message 1 deleted" || got.Quit != "+OK mail.example.com POP3 server signing off (2 messages left)" {
				t.Errorf("DELE %q, QUIT %q", got.Dele, got.Quit)
			}
			if !slices.Equal(got.StatAfter, []int{2, total - len(testMessages[0])}) {
				t.Errorf("STAT after deleting message 1: %v", got.StatAfter)
			}
			if ids := e.inboxIDs(t); !slices.Equal(ids, e.ids[1:]) {
				t.Errorf("Inbox holds %v, want %v", ids, e.ids[1:])
			}
			trash := e.trash(t)
			if !tt.keep {
				if len(trash) != 0 {
					t.Errorf("Deleted Items holds %d messages, want none", len(trash))
				}
				return
			}
			if len(trash) != 1 {
				t.Fatalf("Deleted Items holds %d messages, want message 1", len(trash))
			}
			raw, err := e.store.Raw(ctx, trash[0].ID)
			if err != nil {
				t.Fatal(err)
			}
			if string(raw) != testMessages[0] {
				t.Errorf("Deleted Items holds %q, want message 1", raw)
			}
			at, err := time.Parse(time.RFC3339, trash[0].Props[retention.DeletedAtProp])
			if err != nil || at.Before(before) || at.After(after) {
				t.Errorf("%s = %q (%v), want a time between %v and %v", retention.DeletedAtProp,
					trash[0].Props[retention.DeletedAtProp], err, before, after)
			}
		})
	}
}
