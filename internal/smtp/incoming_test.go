package smtp

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestIncoming(t *testing.T) {
	big := strings.Repeat("line of the body\r\n", 5000) // past the first read buffer
	for _, c := range []struct {
		name    string
		msg     string
		rewrite bool // a step before prepend returns other bytes (a DKIM signature)
		fields  []string
	}{
		{"small", "Subject: a\r\n\r\nbody\r\n", false, []string{"Received: x\r\n", "Authentication-Results: y\r\n"}},
		{"large", "Subject: b\r\n\r\n" + big, false, []string{"Received: x\r\n"}},
		{"empty", "", false, []string{"Received: x\r\n"}},
		{"rewritten", "Subject: c\r\n\r\nbody\r\n", true, []string{"Received: x\r\n"}},
		{"fields past the room", "Subject: d\r\n\r\nbody\r\n", false, []string{"X-Long: " + strings.Repeat("v", traceRoom) + "\r\n"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, r := range []io.Reader{strings.NewReader(c.msg), iotest.OneByteReader(strings.NewReader(c.msg)), iotest.DataErrReader(strings.NewReader(c.msg))} {
				in, err := readMessage(r)
				if err != nil {
					t.Fatal(err)
				}
				if got := string(in.message()); got != c.msg {
					t.Fatalf("read %d bytes, want the %d sent", len(got), len(c.msg))
				}
				msg := in.message()
				if c.rewrite {
					msg = append([]byte("DKIM-Signature: z\r\n"), msg...)
				}
				want := strings.Join(c.fields, "") + string(msg)
				if got := string(in.prepend(msg, c.fields...)); got != want {
					t.Errorf("prepend = %.60q, want %.60q", got, want)
				}
			}
		})
	}
}

func TestIncomingReadError(t *testing.T) {
	broken := errors.New("connection reset")
	_, err := readMessage(io.MultiReader(strings.NewReader("Subject: x\r\n"), iotest.ErrReader(broken)))
	if !errors.Is(err, broken) {
		t.Fatalf("readMessage error %v, want %v", err, broken)
	}
}
