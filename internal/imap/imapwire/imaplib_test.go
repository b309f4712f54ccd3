package imapwire

import (
	"bufio"
	"context"
	"net"
	"os/exec"
	"reflect"
	"strconv"
	"testing"
	"time"
)

// imaplibScript drives the server with Python's imaplib, a real client whose command
// encoding this package must read. It checks the answers it gets.
const imaplibScript = `
import imaplib, sys, datetime
M = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]))
typ, _ = M.login('alice', 'pa ss"w\\rd')
assert typ == 'OK', typ
typ, dat = M.select('Entw&APw-rfe')
assert typ == 'OK' and dat == [b'3'], (typ, dat)
typ, dat = M.uid('FETCH', '1:*', '(UID BODY.PEEK[])')
assert typ == 'OK' and dat[0] == (b'1 (UID 7 BODY[] {5}', b'Hello'), dat
M.literal = 'Café'.encode()
typ, dat = M.search('UTF-8', 'SUBJECT')
assert typ == 'OK' and dat == [b'1'], (typ, dat)
when = datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))
typ, dat = M.append('Sent', '(\\Seen)', imaplib.Time2Internaldate(when), b'Subject: hi\r\n\r\nbody\r\n')
assert typ == 'OK', (typ, dat)
typ, _ = M.store('1:3', '+FLAGS.SILENT', '(\\Deleted)')
assert typ == 'OK', typ
M.logout()
`

// TestImaplibRoundTrip serves one imaplib session with a Reader and checks the
// commands the Reader parsed.
func TestImaplibRoundTrip(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	type result struct {
		cmds []*Command
		err  error
	}
	done := make(chan result, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			done <- result{err: err}
			return
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
		cmds, err := serveImaplib(conn)
		done <- result{cmds, err}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	port := ln.Addr().(*net.TCPAddr).Port
	out, err := exec.CommandContext(ctx, python, "-c", imaplibScript, strconv.Itoa(port)).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	res := <-done
	if res.err != nil {
		t.Fatal(res.err)
	}
	date := time.Date(2024, 1, 2, 1, 4, 5, 0, time.UTC)
	var names []string
	for _, c := range res.cmds {
		if c.UID {
			names = append(names, "UID "+c.Name)
		} else {
			names = append(names, c.Name)
		}
		if a, ok := c.Args.(*Append); ok {
			if !a.Date.Equal(date) {
				t.Errorf("APPEND date %v, want %v", a.Date, date)
			}
			a.Date = time.Time{}
		}
	}
	wantNames := []string{"CAPABILITY", "LOGIN", "SELECT", "UID FETCH", "SEARCH", "APPEND", "STORE", "LOGOUT"}
	if !reflect.DeepEqual(names, wantNames) {
		t.Fatalf("commands %v, want %v", names, wantNames)
	}
	wantArgs := []any{
		nil,
		&Login{Username: "alice", Password: `pa ss"w\rd`},
		&Select{Mailbox: "Entwürfe"},
		&Fetch{Set: set(SeqRange{1, Star}), Items: []FetchItem{{Att: FetchUID},
			{Att: FetchBodySection, Section: &Section{}, Peek: true}}},
		&Search{Charset: "UTF-8", Key: &SearchKey{Op: "SUBJECT", Text: "Café"}},
		&Append{Mailbox: "Sent", Flags: []string{`\Seen`}, Message: []byte("Subject: hi\r\n\r\nbody\r\n")},
		&Store{Set: set(SeqRange{1, 3}), Op: StoreAdd, Silent: true, Flags: []string{`\Deleted`}},
		nil,
	}
	for i, c := range res.cmds {
		if !reflect.DeepEqual(c.Args, wantArgs[i]) {
			t.Errorf("%s: got %+v, want %+v", names[i], c.Args, wantArgs[i])
		}
	}
}

// serveImaplib answers each command with OK and the untagged data imaplib expects.
func serveImaplib(conn net.Conn) ([]*Command, error) {
	w := NewWriter(bufio.NewWriter(conn))
	r := NewReader(bufio.NewReader(conn), Options{
		Continue: func(LiteralInfo) error { return w.Continue("Ready").Flush() },
	})
	w.StatusResponse("", OK, nil, "test server ready")
	if err := w.Flush(); err != nil {
		return nil, err
	}
	var cmds []*Command
	for {
		cmd, err := r.ReadCommand()
		if err != nil {
			return cmds, err
		}
		cmds = append(cmds, cmd)
		switch cmd.Name {
		case "CAPABILITY":
			w.Capability([]string{"IMAP4rev1", "LITERAL+"})
		case "SELECT":
			w.NumberResponse(3, "EXISTS")
		case "FETCH":
			w.Untagged().Atom("1 FETCH (UID 7 BODY[] ").Literal([]byte("Hello")).Close().CRLF()
		case "SEARCH":
			w.Untagged().Atom("SEARCH 1").CRLF()
		case "LOGOUT":
			w.StatusResponse("", BYE, nil, "bye")
		}
		w.StatusResponse(cmd.Tag, OK, nil, cmd.Name+" completed")
		if err := w.Flush(); err != nil {
			return cmds, err
		}
		if cmd.Name == "LOGOUT" {
			return cmds, nil
		}
	}
}
