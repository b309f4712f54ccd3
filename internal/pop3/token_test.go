package pop3

import (
	"context"
	"encoding/base64"
	"testing"
	"time"
)

// TestTokenAuth signs in with SASL XOAUTH2 and OAUTHBEARER (RFC 7628), and checks a
// refused token's wire form: the error challenge, the client's dummy response, then
// -ERR [AUTH] (RFC 7628 section 3.2.2, RFC 3206 section 5); and an app password.
func TestTokenAuth(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	e := newEnv(t)
	good := e.tokens.Mint(e.alice.ID, time.Hour)
	expired := e.tokens.Mint(e.alice.ID, -time.Second)
	tests := []struct {
		name string
		mech string
		resp string
		ok   bool
		fail string // the error challenge before -ERR, decoded
	}{
		{"xoauth2", "XOAUTH2", "user=alice@example.com\x01auth=Bearer " + good + "\x01\x01", true, ""},
		{"oauthbearer", "OAUTHBEARER", "n,a=ally@example.com,\x01auth=Bearer " + good + "\x01\x01", true, ""},
		{"oauthbearer without authzid", "OAUTHBEARER", "n,,\x01auth=Bearer " + good + "\x01\x01", true, ""},
		{"xoauth2 expired", "XOAUTH2", "user=alice@example.com\x01auth=Bearer " + expired + "\x01\x01", false, `{"status":"401","schemes":"bearer"}`},
		{"oauthbearer forged", "OAUTHBEARER", "n,,\x01auth=Bearer x.y.z\x01\x01", false, `{"status":"invalid_token"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := e.dial(t, e.implicit, e.client)
			c.send("AUTH " + tt.mech + " " + b64(tt.resp))
			if tt.ok {
				c.expect("+OK maildrop has *")
				c.send("QUIT")
				c.expect("+OK*")
				return
			}
			c.expect("+ " + b64(tt.fail))
			if tt.mech == "OAUTHBEARER" {
				c.send(b64("\x01"))
			} else {
				c.send("")
			}
			c.expect("-ERR [AUTH] invalid login name or password")
		})
	}

	t.Run("app password", func(t *testing.T) {
		_, secret, err := e.auth.NewAppPassword(context.Background(), e.alice.ID, "Mail")
		if err != nil {
			t.Fatal(err)
		}
		c := e.dial(t, e.implicit, e.client)
		c.send("USER alice@example.com")
		c.expect("+OK*")
		c.send("PASS " + secret)
		c.expect("+OK maildrop has *")
		c.send("QUIT")
		c.expect("+OK*")
	})
}
