package smtp

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// smtplibAuthScript signs in to submission with Python's smtplib, one case per line
// of stdin: "login USER SECRET WANT" or "xoauth2|oauthbearer USER TOKEN WANT", WANT
// being ok or the reply code and enhanced status of the failure. A refused token must
// first be answered with the mechanism's error challenge (RFC 7628 section 3.2.2).
// Arguments: host, implicit-TLS port, CA file.
const smtplibAuthScript = `
import smtplib, ssl, sys, json, base64
host, port, cafile = sys.argv[1:4]
ctx = ssl.create_default_context(cafile=cafile)
for line in sys.stdin.read().splitlines():
    how, user, secret, want = line.split(' ')
    S = smtplib.SMTP_SSL(host, int(port), context=ctx, timeout=10)
    S.ehlo('client.example')
    challenges = []
    def respond(challenge=None):
        if challenge is not None:
            challenges.append(challenge)
            return '\x01' if how == 'oauthbearer' else ''
        if how == 'xoauth2':
            return 'user=%s\x01auth=Bearer %s\x01\x01' % (user, secret)
        return 'n,a=%s,\x01auth=Bearer %s\x01\x01' % (user, secret)
    try:
        if how == 'login':
            S.login(user, secret)
        else:
            S.auth(how.upper(), respond)
        got = 'ok'
    except smtplib.SMTPAuthenticationError as e:
        got = '%d %s' % (e.smtp_code, e.smtp_error.decode())
    if want == 'ok':
        if got != 'ok':
            raise SystemExit('FAIL: %s: %s' % (line, got))
        S.quit()
        continue
    if not got.startswith(want.replace('_', ' ')):
        raise SystemExit('FAIL: %s: %s, want %s' % (line, got, want))
    if how != 'login':
        if len(challenges) != 1:
            raise SystemExit('FAIL: %s: challenges %r' % (line, challenges))
        status = json.loads(challenges[0])['status']
        if status != ('401' if how == 'xoauth2' else 'invalid_token'):
            raise SystemExit('FAIL: %s: error challenge %r' % (line, challenges[0]))
    S.close()
print('ok')
`

func TestSmtplibAuthMethods(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	e := newEnv(t)
	ctx := context.Background()
	alice := e.ids["alice"]
	_, secret, err := e.Auth.NewAppPassword(ctx, alice, "Outlook")
	if err != nil {
		t.Fatal(err)
	}
	good := e.Tokens.Mint(alice, time.Hour)
	run := func(cases ...string) {
		t.Helper()
		_, port, _ := strings.Cut(e.subTLS, ":")
		cmd := exec.Command(python, "-c", smtplibAuthScript, "127.0.0.1", port, e.certFile)
		cmd.Stdin = strings.NewReader(strings.Join(cases, "\n"))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil || strings.TrimSpace(string(out)) != "ok" {
			t.Fatalf("smtplib: %v\n%s\n%s", err, out, stderr.String())
		}
	}
	run(
		"login alice@example.test "+secret+" ok",
		"xoauth2 alice@example.test "+good+" ok",
		"oauthbearer alice@example.test "+good+" ok",
		"xoauth2 alice@example.test "+e.Tokens.Mint(alice, -time.Second)+" 535_5.7.8",
		"oauthbearer alice@example.test forged.token.value 535_5.7.8",
	)
	if _, err := e.Auth.RevokeAppPassword(ctx, alice, "Outlook"); err != nil {
		t.Fatal(err)
	}
	run("login alice@example.test " + secret + " 535_5.7.8")
}
