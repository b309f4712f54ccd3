package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"mailroom/internal/testnet"
)

// TestDNS: every name gets NXDOMAIN over UDP and TCP, at once, from Go's own resolver
// (as Mailroom's is built); addresses off loopback are refused.
func TestDNS(t *testing.T) {
	addr := testnet.Addr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"dns", "--addr", addr}, io.Discard, io.Discard) }()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("mailbench dns exit %d", code)
		}
	}()
	for _, network := range []string{"udp", "tcp"} {
		r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}}
		var err error
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			lctx, lcancel := context.WithTimeout(ctx, 2*time.Second)
			_, err = r.LookupTXT(lctx, "_dmarc.sender.test.")
			lcancel()
			var dnsErr *net.DNSError
			if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
				break
			}
		}
		var dnsErr *net.DNSError
		if !errors.As(err, &dnsErr) || !dnsErr.IsNotFound {
			t.Errorf("%s lookup: %v, want not found", network, err)
		}
	}

	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"dns", "--addr", "192.0.2.53:53"}, io.Discard, &stderr); code != 2 || !strings.Contains(stderr.String(), "only to loopback") {
		t.Errorf("off loopback: exit %d, stderr %q", code, stderr.String())
	}
}
