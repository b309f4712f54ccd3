package imap

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"mailroom/internal/store"
)

// aclScript drives RFC 4314 with Python's imaplib: alice shares her folder Projects
// with bob read-only ("lr"), bob finds it in the other-users namespace, reads it and
// is refused every change with NO [NOPERM], bad SETACLs are refused, and once alice
// takes the rights back the folder is gone for bob. Arguments: host, implicit-TLS
// port, CA file, password. Projects holds two messages.
const aclScript = `
import imaplib, ssl, sys, re
host, port, cafile, pw = sys.argv[1:5]
ctx = ssl.create_default_context(cafile=cafile)

def check(cond, what):
    if not cond:
        raise SystemExit('FAIL: ' + what)

def login(user):
    m = imaplib.IMAP4_SSL(host, int(port), ssl_context=ctx, timeout=10)
    m.login(user, pw)
    return m

def refused(call, code, what):
    try:
        typ, dat = call()
    except imaplib.IMAP4.error as e:
        check(code == 'BAD', '%s: BAD %s' % (what, e))
        return
    check(typ == 'NO' and (code is None or code.encode() in dat[0]), '%s: %r %r' % (what, typ, dat))

A = login('alice@example.com')
check('ACL' in A.capabilities and 'RIGHTS=TEXK' in A.capabilities, 'capabilities %r' % (A.capabilities,))
typ, dat = A.myrights('Projects')
check(typ == 'OK' and dat == [b'"Projects" "lrswipkxtecda"'], 'owner MYRIGHTS %r' % dat)
typ, dat = A.myrights('Shared/sales@example.com/INBOX')
check(typ == 'OK' and dat[0].endswith(b'"lrswipkxtecda"'), 'FullAccess MYRIGHTS %r' % dat)

# Bad SETACLs store nothing.
refused(lambda: A.setacl('Projects', 'bob@example.com', 'lrz'), 'BAD', 'unknown right')
refused(lambda: A.setacl('Projects', 'nobody@example.com', 'lr'), 'NONEXISTENT', 'unknown identifier')
refused(lambda: A.setacl('Projects', 'sales@example.com', 'lr'), 'CANNOT', 'shared mailbox identifier')
refused(lambda: A.setacl('Projects', 'alice@example.com', 'lr'), 'CANNOT', 'owner identifier')
refused(lambda: A.setacl('Projects', 'anyone', 'lr'), 'CANNOT', 'anyone')
refused(lambda: A.setacl('Projects', '-bob@example.com', 'lr'), 'CANNOT', 'negative rights')
refused(lambda: A.setacl('Nowhere', 'bob@example.com', 'lr'), 'NONEXISTENT', 'no such mailbox')
typ, dat = A.getacl('Projects')
check(typ == 'OK' and dat == [b'"Projects" "alice@example.com" "lrswipkxtecda"'], 'GETACL before %r' % dat)

# Share Projects with bob: lrw, then take w away again with "-".
check(A.setacl('Projects', 'bob@example.com', 'lrw')[0] == 'OK', 'SETACL')
check(A.setacl('Projects', 'bob@example.com', '-w')[0] == 'OK', 'SETACL -w')
typ, dat = A.getacl('Projects')
check(dat == [b'"Projects" "alice@example.com" "lrswipkxtecda" "bob@example.com" "lr"'], 'GETACL %r' % dat)
imaplib.Commands['LISTRIGHTS'] = ('AUTH', 'SELECTED')
typ, dat = A._simple_command('LISTRIGHTS', 'Projects', 'bob@example.com')
dat = A.untagged_responses.pop('LISTRIGHTS', [])
check(dat == [b'"Projects" "bob@example.com" "" l r s w i p k x t e c d a'], 'LISTRIGHTS %r' % dat)

B = login('bob@example.com')
typ, dat = B.namespace()
check(dat == [b'(("" "/")) (("Shared/" "/")) NIL'], 'bob NAMESPACE %r' % dat)
typ, dat = B.list('""', 'Shared/*')
lines = [l.decode() for l in dat]
check(lines == [r'(\Noselect \HasChildren) "/" "Shared/alice@example.com"',
                r'(\HasNoChildren) "/" "Shared/alice@example.com/Projects"'], 'bob LIST %r' % lines)
typ, dat = B.myrights('Shared/alice@example.com/Projects')
check(dat == [b'"Shared/alice@example.com/Projects" "lr"'], 'bob MYRIGHTS %r' % dat)
typ, dat = B.select('Shared/alice@example.com/Projects', readonly=True)
check(typ == 'OK' and dat == [b'2'], 'bob SELECT %r' % dat)
check(B.untagged_responses.get('PERMANENTFLAGS') in (None, [b'()']), 'PERMANENTFLAGS %r' % B.untagged_responses)
typ, dat = B.fetch('1:*', '(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])')
check(typ == 'OK' and b'Subject: plan 2' in dat[2][1], 'bob FETCH %r' % dat)
typ, dat = B.fetch('1', '(BODY[TEXT])')
typ, dat = B.fetch('1', '(FLAGS)')
check(b'\\Seen' not in dat[0], 'FETCH set \\Seen without s %r' % dat)
refused(lambda: B.store('1', '+FLAGS', '(\\Flagged)'), 'NOPERM', 'bob STORE')
refused(lambda: B.store('1', '+FLAGS', '(\\Seen)'), 'NOPERM', 'bob STORE \\Seen')
refused(lambda: B.append('Shared/alice@example.com/Projects', None, None, b'Subject: x\r\n\r\nx\r\n'), 'NOPERM', 'bob APPEND')
refused(lambda: B.expunge(), 'NOPERM', 'bob EXPUNGE')
refused(lambda: B.getacl('Shared/alice@example.com/Projects'), 'NOPERM', 'bob GETACL')
refused(lambda: B.setacl('Shared/alice@example.com/Projects', 'bob@example.com', 'lrswipkxtea'), 'NOPERM', 'bob SETACL')
refused(lambda: B.create('Shared/alice@example.com/Projects/Mine'), 'NOPERM', 'bob CREATE')
refused(lambda: B.delete('Shared/alice@example.com/Projects'), 'NOPERM', 'bob DELETE')
refused(lambda: B.select('Shared/alice@example.com/INBOX'), 'NONEXISTENT', 'bob SELECT unshared')
refused(lambda: B.setacl('Shared/alice@example.com/INBOX', 'bob@example.com', 'lr'), 'NONEXISTENT', 'bob SETACL unshared')

# Revoked: gone from bob's namespace and out of reach.
check(A.deleteacl('Projects', 'bob@example.com')[0] == 'OK', 'DELETEACL')
typ, dat = B.namespace()
check(dat == [b'(("" "/")) NIL NIL'], 'bob NAMESPACE after %r' % dat)
typ, dat = B.list('""', 'Shared/*')
check(dat == [None], 'bob LIST after %r' % dat)
refused(lambda: B.select('Shared/alice@example.com/Projects'), 'NONEXISTENT', 'bob SELECT after')
B.logout()
A.logout()
print('ok')
`

// TestACLImaplib runs aclScript against the server.
func TestACLImaplib(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	e := newSrvEnv(t)
	ctx := context.Background()
	f, err := e.store.CreateFolder(ctx, store.AccountID(e.alice.ID), 0, "Projects", store.RoleNone)
	if err != nil {
		t.Fatal(err)
	}
	e.deliver(t, e.alice.ID, f.ID, srvMsg(1, "plan 1"))
	e.deliver(t, e.alice.ID, f.ID, srvMsg(2, "plan 2"))
	_, port, _ := strings.Cut(e.implicit, ":")
	cmd := exec.Command(python, "-c", aclScript, "127.0.0.1", port, e.caFile, srvPassword)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil || !strings.Contains(out.String(), "ok") {
		t.Fatalf("imaplib: %v\n%s", err, out.String())
	}
}

// TestACLRights checks what each right allows a user the folder is shared with: for
// each case alice shares a folder P<n>/2026 (below P<n>, which she does not share)
// with bob, with the rights of the case, and bob runs one command against it ($MB).
func TestACLRights(t *testing.T) {
	e := newSrvEnv(t)
	ctx := context.Background()
	alice := store.AccountID(e.alice.ID)
	a := e.loginRaw(t)
	b := e.dialRaw(t, e.implicit, e.client)
	b.expect(`\* OK .*`)
	b.send(`b1 LOGIN bob@example.com ` + quoteArg(srvPassword))
	b.expect(`b1 OK .*`)
	for i, tc := range []struct {
		rights string
		cmd    string // run with $MB selected when the rights hold r
		want   string // a line of the answer, or alternatives separated by |
	}{
		{"lrs", `STORE 1 +FLAGS (\Seen)`, `t OK STORE completed`},
		{"lrs", `STORE 1 +FLAGS (\Flagged)`, `t NO \[NOPERM\] STORE on $MB needs the right "w", which you do not hold`},
		{"lrs", `STORE 1 FLAGS (\Seen)`, `t NO \[NOPERM\] .*needs the right "wt".*`},
		{"lrw", `STORE 1 +FLAGS (\Flagged $Todo)`, `t OK STORE completed`},
		{"lrt", `STORE 1 +FLAGS (\Deleted)`, `t OK STORE completed`},
		{"lrte", `EXPUNGE`, `t OK EXPUNGE completed`},
		{"lrs", `COPY 1 INBOX`, `t OK \[COPYUID .*`},
		{"lrs", `MOVE 1 INBOX`, `t NO \[NOPERM\] .*needs the right "te".*`},
		{"lrse", `UID EXPUNGE 1`, `t OK UID EXPUNGE completed`},
		{"lrs", `CREATE $MB/Sub`, `t NO \[NOPERM\] CREATE .*needs the right "k".*`},
		{"lrsk", `CREATE $MB/Sub`, `t OK CREATE completed`},
		{"lrs", `CREATE Shared/alice@example.com/Top`, `t NO \[NOPERM\] new top-level mailboxes of Shared/alice@example.com can only be created by its owner`},
		{"lrsx", `RENAME $MB INBOX/Mine`, `t NO \[CANNOT\] a mailbox cannot move to another account`},
		{"lrsa", `SETACL $MB bob@example.com lrswa`, `t OK SETACL completed`},
		{"lrsa", `GETACL $MB`, `\* ACL "$MB" "alice@example.com" "lrswipkxtecda" "bob@example.com" "lrsa"`},
		{"lrs", `SUBSCRIBE $MB`, `t NO \[CANNOT\] subscriptions to folders shared by access list are not kept.*`},
		{"lrs", `STATUS $MB (MESSAGES)`, `\* STATUS "$MB" \(MESSAGES 1\)`},
		{"l", `STATUS $MB (MESSAGES)`, `t NO \[NOPERM\] STATUS on $MB needs the right "r".*`},
		{"l", `APPEND $MB {1+}`, `t NO \[NOPERM\] APPEND .*needs the right "i".*`},
		{"lrsx", `DELETE $MB`, `t OK DELETE completed`},
	} {
		parent := fmt.Sprintf("P%d", i)
		name := "Shared/alice@example.com/" + parent + "/2026"
		t.Run(tc.rights+" "+tc.cmd, func(t *testing.T) {
			p, err := e.store.CreateFolder(ctx, alice, 0, parent, store.RoleNone)
			if err != nil {
				t.Fatal(err)
			}
			f, err := e.store.CreateFolder(ctx, alice, p.ID, "2026", store.RoleNone)
			if err != nil {
				t.Fatal(err)
			}
			e.deliver(t, e.alice.ID, f.ID, srvMsg(1, "plan 1"), `\Deleted`)
			a.t, b.t = t, t
			a.send(`a1 SETACL ` + parent + `/2026 bob@example.com ` + tc.rights)
			a.expect(`a1 OK SETACL completed`)

			b.send(`b2 LIST "" "Shared/alice@example.com/` + parent + `*"`)
			b.expect(`\* LIST \(\\Noselect \\HasChildren\) "/" "Shared/alice@example.com/` + parent + `"`)
			b.expect(`\* LIST \(\\HasNoChildren\) "/" "` + name + `"`)
			b.expect(`b2 OK LIST completed`)
			if strings.Contains(tc.rights, "r") {
				b.send(`b3 SELECT ` + name)
				b.until("b3")
			}
			b.send("t " + strings.ReplaceAll(tc.cmd, "$MB", name))
			if strings.HasSuffix(tc.cmd, "{1+}") {
				b.send("x")
			}
			lines := b.until("t")
			want := strings.ReplaceAll(tc.want, "$MB", regexp.QuoteMeta(name))
			ok := false
			for _, alt := range strings.Split(want, "|") {
				for _, l := range lines {
					ok = ok || regexp.MustCompile("^(?:"+alt+")$").MatchString(l)
				}
			}
			if !ok {
				t.Fatalf("got %q, want %q", lines, want)
			}
		})
	}
}
