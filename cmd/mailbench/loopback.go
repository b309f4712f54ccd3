package main

// Loopback only: the workplace forbids traffic to anything but this machine, so every
// address is checked when the flags are read, and again on the socket itself when it
// connects.

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"syscall"
	"time"
)

// errNotLoopback is wrapped by every refusal of a non-loopback address.
var errNotLoopback = errors.New("mailbench connects only to loopback addresses (127.0.0.0/8, ::1, localhost)")

// loopbackAddr checks that hostport names a loopback address and a port, and returns it
// with "localhost" spelled 127.0.0.1. Host names other than localhost are refused rather
// than resolved, so no lookup can send the tool elsewhere.
func loopbackAddr(hostport string) (string, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return "", fmt.Errorf("address %q: want host:port: %w", hostport, err)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return "", fmt.Errorf("address %q: bad port %q", hostport, port)
	}
	if host == "localhost" {
		return net.JoinHostPort("127.0.0.1", port), nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return "", fmt.Errorf("address %q: %w", hostport, errNotLoopback)
	}
	return net.JoinHostPort(ip.String(), port), nil
}

// dialTimeout bounds connecting; opTimeout bounds each exchange once connected.
const (
	dialTimeout = 10 * time.Second
	opTimeout   = 60 * time.Second
)

// checkSocket refuses, at the socket, to connect anywhere but loopback: the check on
// the flags already did that, this makes it hold for every connection the tool makes.
func checkSocket(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("dial %s: %w", address, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("dial %s: %w", address, errNotLoopback)
	}
	return nil
}

// dial connects to addr, which loopbackAddr has checked.
func dial(ctx context.Context, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: dialTimeout, Control: checkSocket}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	return c, nil
}

// clientTLS is the TLS configuration for STARTTLS, STLS and implicit TLS. The servers
// under test run on this machine with self-signed certificates made for the test, and
// the peer is a loopback address checked above, so the certificate is not verified.
func clientTLS() *tls.Config {
	return &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12} //nolint:gosec // loopback test servers only
}
