package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writePair makes a self-signed pair for names under dir/prefix.
func writePair(t *testing.T, dir, prefix string, names ...string) (Pair, *x509.Certificate) {
	t.Helper()
	p := Pair{Cert: filepath.Join(dir, prefix+".pem"), Key: filepath.Join(dir, prefix+"-key.pem")}
	if err := WriteSelfSigned(p.Cert, p.Key, names); err != nil {
		t.Fatal(err)
	}
	return p, readCert(t, p.Cert)
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, leaf, err := parseChain(data)
	if err != nil {
		t.Fatal(err)
	}
	return leaf
}

// serve runs a TLS server on loopback that completes handshakes and closes.
func serve(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				tc := tls.Server(conn, cfg)
				_ = tc.SetDeadline(time.Now().Add(5 * time.Second))
				_ = tc.Handshake()
			}()
		}
	}()
	return ln.Addr().String()
}

func TestServerHandshakes(t *testing.T) {
	dir := t.TempDir()
	mailPair, mailCert := writePair(t, dir, "mail", "mail.example.test", "127.0.0.1")
	otherPair, otherCert := writePair(t, dir, "other", "mx.other.test", "*.other.test")
	cfg, err := Server([]Pair{mailPair, otherPair})
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, cfg)
	roots := x509.NewCertPool()
	roots.AddCert(mailCert)
	roots.AddCert(otherCert)

	tests := []struct {
		name       string
		serverName string
		verify     bool // the chosen certificate must be valid for serverName
		want       *x509.Certificate
	}{
		{"exact name, first pair", "mail.example.test", true, mailCert},
		{"exact name, second pair", "mx.other.test", true, otherCert},
		{"upper case and trailing dot", "MX.Other.Test.", false, otherCert},
		{"wildcard", "imap.other.test", true, otherCert},
		{"wildcard covers one label only", "a.b.other.test", false, mailCert},
		{"unknown name gets the default", "unknown.invalid", false, mailCert},
		{"no SNI (connecting by IP) gets the default", "", false, mailCert},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := &tls.Config{ServerName: tt.serverName, RootCAs: roots, InsecureSkipVerify: !tt.verify}
			conn, err := tls.Dial("tcp", addr, client)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			got := conn.ConnectionState().PeerCertificates[0]
			if !got.Equal(tt.want) {
				t.Errorf("server sent the certificate for %v, want %v", got.DNSNames, tt.want.DNSNames)
			}
		})
	}
}

func TestServerRefusesWeakClients(t *testing.T) {
	dir := t.TempDir()
	p, _ := writePair(t, dir, "mail", "mail.example.test")
	cfg, err := Server([]Pair{p})
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, cfg)

	tests := []struct {
		name   string
		client *tls.Config
		ok     bool
	}{
		{"TLS 1.3", &tls.Config{MinVersion: tls.VersionTLS13}, true},
		{"TLS 1.2 with AES-GCM", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}}, true},
		{"TLS 1.2 with ChaCha20-Poly1305", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}}, true},
		{"TLS 1.2 with P-256 only", &tls.Config{MaxVersion: tls.VersionTLS12, CurvePreferences: []tls.CurveID{tls.CurveP256}}, true},
		{"TLS 1.1", &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}, false},
		{"TLS 1.2 with CBC", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256}}, false},
		{"TLS 1.2 with P-384 only", &tls.Config{MaxVersion: tls.VersionTLS12, CurvePreferences: []tls.CurveID{tls.CurveP384}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.client.ServerName = "mail.example.test"
			tt.client.InsecureSkipVerify = true
			conn, err := tls.Dial("tcp", addr, tt.client)
			if err == nil {
				defer conn.Close()
			}
			if (err == nil) != tt.ok {
				t.Fatalf("handshake error %v, want success %v", err, tt.ok)
			}
		})
	}
}

func TestServerLoadErrors(t *testing.T) {
	dir := t.TempDir()
	a, _ := writePair(t, dir, "a", "a.example.test")
	b, _ := writePair(t, dir, "b", "b.example.test")
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not PEM\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")

	tests := []struct {
		name  string
		pairs []Pair
		is    error
		names []string // files the message must name
	}{
		{"no pairs", nil, ErrNoPairs, nil},
		{"key of another certificate", []Pair{a, {Cert: b.Cert, Key: a.Key}}, ErrKeyMismatch, []string{b.Cert, a.Key}},
		{"missing certificate", []Pair{{Cert: missing, Key: a.Key}}, fs.ErrNotExist, []string{missing}},
		{"missing key", []Pair{{Cert: a.Cert, Key: missing}}, fs.ErrNotExist, []string{missing}},
		{"certificate is not PEM", []Pair{{Cert: garbage, Key: a.Key}}, ErrNoCertificate, []string{garbage}},
		{"key is not PEM", []Pair{{Cert: a.Cert, Key: garbage}}, ErrNoKey, []string{garbage}},
		{"key file holds a certificate", []Pair{{Cert: a.Cert, Key: a.Cert}}, ErrNoKey, []string{a.Cert}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Server(tt.pairs)
			if !errors.Is(err, tt.is) {
				t.Fatalf("got %v, want %v", err, tt.is)
			}
			for _, n := range tt.names {
				if !strings.Contains(err.Error(), n) {
					t.Errorf("error %q does not name %s", err, n)
				}
			}
		})
	}
}
