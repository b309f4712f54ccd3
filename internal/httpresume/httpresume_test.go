package httpresume

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestResume serves a handler that takes its connection over, answers by itself and
// hands the connection back: the next request on the same connection is served by
// the same http.Server.
func TestResume(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	resumed := New()
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second}
	srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/takeover" {
			fmt.Fprint(w, "served")
			return
		}
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		go func() {
			io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\ntaken")
			if err := resumed.Resume(conn); err != nil {
				t.Error(err)
				conn.Close()
			}
		}()
	})
	go srv.Serve(ln)
	go srv.Serve(resumed)
	defer srv.Close()

	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	for _, tc := range []struct{ path, want string }{
		{"/takeover", "taken"},
		{"/", "served"},
		{"/takeover", "taken"},
		{"/", "served"},
	} {
		if _, err := io.WriteString(conn, "GET "+tc.path+" HTTP/1.1\r\nHost: test\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
		b, _ := io.ReadAll(resp.Body)
		if string(b) != tc.want {
			t.Errorf("%s: %q, want %q", tc.path, b, tc.want)
		}
	}

	// Once the server shuts down (closing its listeners), Resume gives the
	// connection back to the caller.
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	client, server := net.Pipe()
	defer client.Close()
	defer server.Close()
	if err := resumed.Resume(server); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Resume after Close: %v", err)
	}
	if _, err := resumed.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close: %v", err)
	}
	if !strings.Contains(resumed.Addr().String(), "resumed") {
		t.Errorf("Addr %q", resumed.Addr())
	}
}
