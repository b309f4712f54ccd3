package imap

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// imaplibAuthScript signs in with Python's imaplib in each way internal/auth offers,
// one case per line of stdin: "login USER SECRET WANT" or "xoauth2|oauthbearer USER
// TOKEN WANT", WANT being ok or the response code of the NO, optionally followed by
// "/STATUS", the status the error challenge must carry (by default invalid_token, or
// XOAUTH2's 401). A refused token must first be answered with the mechanism's error
// challenge (RFC 7628 section 3.2.2), which the script checks and acknowledges.
// Arguments: host, implicit-TLS port, CA.
const imaplibAuthScript = `
import imaplib, ssl, sys, json
host, port, cafile = sys.argv[1:4]
ctx = ssl.create_default_context(cafile=cafile)
for line in sys.stdin.read().splitlines():
    how, user, secret, want = line.split(' ')
    want, _, want_status = want.partition('/')
    M = imaplib.IMAP4_SSL(host, int(port), ssl_context=ctx, timeout=10)
    challenges = []
    def respond(challenge, first=[True]):
        if not first[0]:
            challenges.append(challenge)
            return b'\x01' if how == 'oauthbearer' else b''
        first[0] = False
        if how == 'xoauth2':
            return ('user=%s\x01auth=Bearer %s\x01\x01' % (user, secret)).encode()
        return ('n,a=%s,\x01host=%s\x01port=%s\x01auth=Bearer %s\x01\x01' % (user, host, port, secret)).encode()
    try:
        if how == 'login':
            M.login(user, secret)
        else:
            M.authenticate(how.upper(), respond)
        got = 'ok'
    except imaplib.IMAP4.error as e:
        got = str(e)
    if want == 'ok':
        if got != 'ok':
            raise SystemExit('FAIL: %s: %s' % (line, got))
        M.select('INBOX')
        M.logout()
        continue
    if want not in got:
        raise SystemExit('FAIL: %s: %s, want %s' % (line, got, want))
    if how != 'login':
        if len(challenges) != 1:
            raise SystemExit('FAIL: %s: challenges %r' % (line, challenges))
        status = json.loads(challenges[0])['status']
        if status != (want_status or ('401' if how == 'xoauth2' else 'invalid_token')):
            raise SystemExit('FAIL: %s: error challenge %r' % (line, challenges[0]))
    M.shutdown()
print('ok')
`

func TestImaplibAuthMethods(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	e := newSrvEnv(t)
	ctx := context.Background()
	_, secret, err := e.auth.NewAppPassword(ctx, e.alice.ID, "Thunderbird")
	if err != nil {
		t.Fatal(err)
	}
	good := e.tokens.Mint(e.alice.ID, time.Hour)
	run := func(cases ...string) {
		t.Helper()
		_, port, _ := strings.Cut(e.implicit, ":")
		cmd := exec.Command(python, "-c", imaplibAuthScript, "127.0.0.1", port, e.caFile)
		cmd.Stdin = strings.NewReader(strings.Join(cases, "\n"))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil || strings.TrimSpace(string(out)) != "ok" {
			t.Fatalf("imaplib: %v\n%s\n%s", err, out, stderr.String())
		}
	}
	run(
		"login alice@example.com "+secret+" ok",
		"login alice@example.com "+strings.ToUpper(strings.ReplaceAll(secret, "-", ""))+" ok",
		"xoauth2 alice@example.com "+good+" ok",
		"oauthbearer alice@example.com "+good+" ok",
		"xoauth2 alice@example.com "+e.tokens.Mint(e.alice.ID, -time.Second)+" AUTHENTICATIONFAILED",
		"oauthbearer alice@example.com forged.token.value AUTHENTICATIONFAILED",
		"xoauth2 bob@example.com "+good+" AUTHENTICATIONFAILED",
		// A token for another service only: RFC 7628's insufficient_scope, then NO.
		"oauthbearer alice@example.com "+e.tokens.MintScoped(e.alice.ID, time.Hour, "smtp")+" AUTHENTICATIONFAILED/insufficient_scope",
		"xoauth2 alice@example.com "+e.tokens.MintScoped(e.alice.ID, time.Hour, "smtp")+" AUTHENTICATIONFAILED/403",
	)
	if _, err := e.auth.RevokeAppPassword(ctx, e.alice.ID, "Thunderbird"); err != nil {
		t.Fatal(err)
	}
	run("login alice@example.com " + secret + " AUTHENTICATIONFAILED")
}
