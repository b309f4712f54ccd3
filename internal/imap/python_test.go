package imap

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"

	"mailroom/internal/store"
)

// imaplibScript drives the server with Python's imaplib, an independent client,
// through every extension of the session, mailbox and synchronisation commands. It
// checks as it goes and exits non-zero with "FAIL: ..." at the first surprise.
// Arguments: host, STARTTLS port, implicit-TLS port, CA file, login, password.
// alice's INBOX holds five messages, UIDs 1 to 5, and her quota is 1 MiB.
const imaplibScript = `
import imaplib, ssl, sys, re, time, zlib
host, port, tls_port, cafile, user, pw = sys.argv[1:7]
ctx = ssl.create_default_context(cafile=cafile)
for c in ('ID', 'ENABLE', 'COMPRESS', 'UNSELECT', 'GETQUOTA'):
    imaplib.Commands[c] = ('NONAUTH', 'AUTH', 'SELECTED')
imaplib.Commands['MOVE'] = ('SELECTED',)

def check(cond, what):
    if not cond:
        raise SystemExit('FAIL: ' + what)

def untagged(m, name):
    return m.untagged_responses.pop(name, [])

def tls():
    m = imaplib.IMAP4_SSL(host, int(tls_port), ssl_context=ctx, timeout=10)
    m.login(user, pw)
    return m

# Capabilities before and after STARTTLS; LOGIN refused in plain text.
M = imaplib.IMAP4(host, int(port), timeout=10)
caps = M.capabilities
check('STARTTLS' in caps and 'LOGINDISABLED' in caps, 'plain capabilities %r' % (caps,))
check(not [c for c in caps if c.startswith('AUTH=')], 'AUTH= before TLS %r' % (caps,))
try:
    M.login(user, pw)
    check(False, 'LOGIN accepted before TLS')
except imaplib.IMAP4.error as e:
    check('PRIVACYREQUIRED' in str(e), 'LOGIN before TLS: %s' % e)
M.starttls(ssl_context=ctx)
caps = M.capabilities
for c in ('IMAP4REV2', 'AUTH=PLAIN', 'IDLE', 'CONDSTORE', 'QRESYNC', 'MOVE', 'UIDPLUS', 'COMPRESS=DEFLATE', 'QUOTA', 'LIST-STATUS', 'SPECIAL-USE', 'NAMESPACE', 'ID'):
    check(c in caps, 'capability %s missing after TLS: %r' % (c, caps))
check('STARTTLS' not in caps and 'LOGINDISABLED' not in caps, 'after TLS %r' % (caps,))
typ, dat = M._simple_command('ID', '("name" "imaplib" "version" "3")')
idr = untagged(M, 'ID')
check(typ == 'OK' and b'"name" "Mailroom"' in idr[0], 'ID %r %r' % (typ, idr))
typ, dat = M.login(user, pw)
check(typ == 'OK', 'LOGIN %r' % dat)

# ENABLE and NAMESPACE.
typ, dat = M.enable('CONDSTORE')
check(typ == 'OK' and untagged(M, 'ENABLED') == [b'CONDSTORE'], 'ENABLE %r' % dat)
typ, dat = M.namespace()
check(dat == [b'(("" "/")) (("Shared/" "/")) NIL'], 'NAMESPACE %r' % dat)

# LIST with special use, children, subscriptions and status.
typ, dat = M.list()
lines = [l.decode() for l in dat]
check(r'(\HasNoChildren) "/" "INBOX"' in lines, 'LIST INBOX %r' % lines)
check(r'(\HasNoChildren \Sent) "/" "Sent"' in lines, 'LIST Sent %r' % lines)
check(r'(\HasNoChildren \Trash) "/" "Trash"' in lines, 'LIST Trash %r' % lines)
check(r'(\Noselect \HasChildren) "/" "Shared"' in lines, 'LIST Shared %r' % lines)
check(r'(\HasNoChildren) "/" "Shared/sales@example.com/INBOX"' in lines, 'LIST shared INBOX %r' % lines)
typ, dat = M._simple_command('LIST', '(SPECIAL-USE)', '""', '"*"')
lines = [l.decode() for l in untagged(M, 'LIST')]
check(len(lines) == 10 and all(re.search(r'\\(Drafts|Sent|Trash|Junk|Archive)', l) for l in lines), 'LIST (SPECIAL-USE) %r' % lines)
typ, dat = M._simple_command('LIST', '""', '%', 'RETURN (CHILDREN STATUS (MESSAGES UNSEEN))')
lines = [l.decode() for l in untagged(M, 'LIST')]
status = [l.decode() for l in untagged(M, 'STATUS')]
check('"INBOX" (MESSAGES 5 UNSEEN 5)' in status and len(lines) == 7, 'LIST RETURN STATUS %r %r' % (lines, status))
check(M.unsubscribe('Junk')[0] == 'OK', 'UNSUBSCRIBE')
typ, dat = M._simple_command('LIST', '(SUBSCRIBED)', '""', '"*"')
lines = [l.decode() for l in untagged(M, 'LIST')]
check(r'(\HasNoChildren \Subscribed \Sent) "/" "Sent"' in lines and len(lines) == 11 and not [l for l in lines if l.endswith('"Junk"')], 'LIST (SUBSCRIBED) %r' % lines)
typ, dat = M.lsub('""', '%')
check(b'() "/" "Sent"' in dat and b'() "/" "Junk"' not in dat and b'(\\Noselect) "/" "Shared"' in dat, 'LSUB %r' % dat)
check(M.subscribe('Junk')[0] == 'OK', 'SUBSCRIBE')

# CREATE, RENAME, DELETE.
check(M.create('Projects/2026')[0] == 'OK', 'CREATE')
typ, dat = M.list('""', 'Projects*')
check([l.decode() for l in dat] == [r'(\HasChildren) "/" "Projects"', r'(\HasNoChildren) "/" "Projects/2026"'], 'LIST Projects %r' % dat)
typ, dat = M.create('Projects')
check(typ == 'NO' and b'ALREADYEXISTS' in dat[0], 'CREATE existing %r' % dat)
M.unsubscribe('Projects')
M.subscribe('Projects/2026')
typ, dat = M._simple_command('LIST', '(SUBSCRIBED RECURSIVEMATCH)', '""', '"P%"')
lines = [l.decode() for l in untagged(M, 'LIST')]
check(lines == [r'(\HasChildren) "/" "Projects" ("CHILDINFO" ("SUBSCRIBED"))'], 'LIST RECURSIVEMATCH %r' % lines)
typ, dat = M._simple_command('CREATE', 'Memos', '(USE (\\Archive))')
check(typ == 'NO' and b'USEATTR' in dat[0], 'CREATE USE taken %r' % dat)
check(M.rename('Projects/2026', 'Projects/2027')[0] == 'OK', 'RENAME')
typ, dat = M.rename('INBOX', 'Old')
check(typ == 'NO', 'RENAME INBOX %r' % dat)
typ, dat = M.delete('Projects')
check(typ == 'NO' and b'HASCHILDREN' in dat[0], 'DELETE with children %r' % dat)
check(M.delete('Projects/2027')[0] == 'OK' and M.delete('Projects')[0] == 'OK', 'DELETE')
typ, dat = M.delete('Projects')
check(typ == 'NO' and b'NONEXISTENT' in dat[0], 'DELETE missing %r' % dat)

# STATUS.
typ, dat = M.status('INBOX', '(MESSAGES UIDNEXT UIDVALIDITY UNSEEN SIZE HIGHESTMODSEQ RECENT DELETED)')
check(re.fullmatch(rb'"INBOX" \(MESSAGES 5 UIDNEXT 6 UIDVALIDITY \d+ UNSEEN 5 SIZE \d+ HIGHESTMODSEQ \d+ RECENT 0 DELETED 0\)', dat[0]), 'STATUS %r' % dat)

# APPEND with APPENDUID, TRYCREATE.
msg = b'From: a@example.com\r\nSubject: draft\r\n\r\nhello\r\n'
typ, dat = M.append('Drafts', '(\\Draft)', imaplib.Time2Internaldate(time.time()), msg)
check(typ == 'OK' and re.match(rb'\[APPENDUID \d+ 1\]', dat[0]), 'APPEND %r' % dat)
typ, dat = M.append('Nowhere', None, None, msg)
check(typ == 'NO' and b'TRYCREATE' in dat[0], 'APPEND TRYCREATE %r' % dat)

# QUOTA.
typ, dat = M.getquotaroot('INBOX')
check(dat[0] == [b'"INBOX" ""'] and re.fullmatch(rb'"" \(STORAGE \d+ 1024\)', dat[1][0]), 'GETQUOTAROOT %r' % dat)
typ, dat = M._simple_command('SETQUOTA', '""', '(STORAGE 1)')
check(typ == 'NO', 'SETQUOTA %r' % dat)

# SELECT with CONDSTORE.
typ, dat = M._simple_command('SELECT', 'INBOX', '(CONDSTORE)')
M.state = 'SELECTED'
uidvalidity = int(untagged(M, 'UIDVALIDITY')[0])
modseq = int(untagged(M, 'HIGHESTMODSEQ')[0])
check(typ == 'OK' and b'READ-WRITE' in dat[0], 'SELECT CONDSTORE %r' % dat)
M.logout()

# Another connection changes flags and expunges; QRESYNC then tells what changed.
B = tls()
B.select('INBOX')
B.uid('STORE', '2', '+FLAGS', '(\\Flagged)')
B.uid('STORE', '4', '+FLAGS', '(\\Deleted)')
typ, dat = B.expunge()
check(dat == [b'4'], 'EXPUNGE by B %r' % dat)
B.logout()
Q = tls()
typ, dat = Q._simple_command('ENABLE', 'QRESYNC')
check(untagged(Q, 'ENABLED') == [b'QRESYNC'], 'ENABLE QRESYNC')
typ, dat = Q._simple_command('SELECT', 'INBOX', '(QRESYNC (%d %d))' % (uidvalidity, modseq))
Q.state = 'SELECTED'
check(typ == 'OK', 'SELECT QRESYNC %r' % dat)
check(untagged(Q, 'VANISHED') == [b'(EARLIER) 4'], 'VANISHED (EARLIER)')
fetches = untagged(Q, 'FETCH')
check(len(fetches) == 1 and re.fullmatch(rb'2 \(FLAGS \(\\Flagged\) UID 2 MODSEQ \(\d+\)\)', fetches[0]), 'QRESYNC FETCH %r' % fetches)
typ, dat = Q._simple_command('SELECT', 'INBOX', '(QRESYNC (%d %d 1:3))' % (uidvalidity, modseq))
check(untagged(Q, 'VANISHED') == [] and untagged(Q, 'CLOSED') == [b''], 'VANISHED outside known-uids')
Q.logout()

# COPY, MOVE, UID EXPUNGE, EXPUNGE, CLOSE. INBOX holds UIDs 1 2 3 5.
M = tls()
typ, dat = M.select('INBOX')
check(dat == [b'4'], 'SELECT %r' % dat)
typ, dat = M.copy('1:2', 'Archive')
check(typ == 'OK' and re.match(rb'\[COPYUID \d+ 1:2 1:2\]', dat[0]), 'COPY %r' % dat)
typ, dat = M._simple_command('MOVE', '3', 'Trash')
cu = untagged(M, 'COPYUID')
check(typ == 'OK' and re.fullmatch(rb'\d+ 3 1', cu[-1]), 'MOVE COPYUID %r %r' % (cu, dat))
check(untagged(M, 'EXPUNGE') == [b'3'], 'MOVE EXPUNGE')
M.uid('STORE', '1,5', '+FLAGS', '(\\Deleted)')
typ, dat = M.uid('EXPUNGE', '5')
check(typ == 'OK' and untagged(M, 'EXPUNGE') == [b'3'], 'UID EXPUNGE %r' % dat)
typ, dat = M.expunge()
check(dat == [b'1'], 'EXPUNGE %r' % dat)
M.store('1', '+FLAGS', '(\\Deleted)')
typ, dat = M.close()
check(typ == 'OK' and untagged(M, 'EXPUNGE') == [], 'CLOSE %r' % dat)
typ, dat = M.select('INBOX', readonly=True)
check(dat == [b'0'], 'after CLOSE %r' % dat)
typ, dat = M.select('Archive')
check(dat == [b'2'], 'Archive %r' % dat)
M.logout()

# AUTHENTICATE PLAIN with a continuation, then COMPRESS.
class Z(imaplib.IMAP4_SSL):
    z = False
    def compress(self):
        typ, dat = self._simple_command('COMPRESS', 'DEFLATE')
        check(typ == 'OK', 'COMPRESS %r' % dat)
        self.z, self.co, self.de, self.buf = True, zlib.compressobj(6, zlib.DEFLATED, -15), zlib.decompressobj(-15), b''
    def fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError('server closed')
        self.buf += self.de.decompress(data)
    def read(self, size):
        if not self.z:
            return super().read(size)
        while len(self.buf) < size:
            self.fill()
        r, self.buf = self.buf[:size], self.buf[size:]
        return r
    def readline(self):
        if not self.z:
            return super().readline()
        while b'\n' not in self.buf:
            self.fill()
        i = self.buf.index(b'\n') + 1
        r, self.buf = self.buf[:i], self.buf[i:]
        return r
    def send(self, data):
        if self.z:
            data = self.co.compress(data) + self.co.flush(zlib.Z_SYNC_FLUSH)
        self.sock.sendall(data)
C = Z(host, int(tls_port), ssl_context=ctx, timeout=10)
typ, dat = C.authenticate('PLAIN', lambda _: ('\0%s\0%s' % (user, pw)).encode())
check(typ == 'OK', 'AUTHENTICATE %r' % dat)
C.compress()
typ, dat = C.select('Archive')
check(dat == [b'2'], 'compressed SELECT %r' % dat)
typ, dat = C.fetch('1', '(BODY.PEEK[] FLAGS)')
check(b'Body of message 1.' in dat[0][1], 'compressed FETCH %r' % dat)
typ, dat = C.append('Archive', None, None, b'Subject: big\r\n\r\n' + b'x' * 100000 + b'\r\n')
check(typ == 'OK', 'compressed APPEND %r' % dat)
typ, dat = C.list()
check(len(dat) == 14, 'compressed LIST %r' % dat)
for i in range(20):
    check(C.noop()[0] == 'OK', 'compressed NOOP')
C.logout()
print('ok')
`

func TestImaplib(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	e := newSrvEnv(t)
	for i := 1; i <= 5; i++ {
		e.deliver(t, e.alice.ID, 0, srvMsg(i, "message"))
	}
	if err := e.store.SetQuota(context.Background(), store.AccountID(e.alice.ID), 1<<20); err != nil {
		t.Fatal(err)
	}
	host, port, _ := strings.Cut(e.plain, ":")
	_, tlsPort, _ := strings.Cut(e.implicit, ":")
	cmd := exec.Command(python, "-c", imaplibScript, host, port, tlsPort, e.caFile, "alice@example.com", srvPassword)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("imaplib: %v\n%s\n%s", err, out, stderr.String())
	}
}
