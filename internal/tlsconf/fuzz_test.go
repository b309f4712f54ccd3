package tlsconf

import (
	"testing"
	"time"
)

// FuzzParsePEM feeds arbitrary files to the certificate and key readers,
// which see whatever an administrator points the configuration at: they must
// return an error, never panic.
func FuzzParsePEM(f *testing.F) {
	certPEM, keyPEM, err := SelfSigned([]string{"mail.example.test"}, time.Unix(1_700_000_000, 0))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(certPEM)
	f.Add(keyPEM)
	f.Add(append(append([]byte{}, keyPEM...), certPEM...))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
	f.Add([]byte("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n"))
	f.Add([]byte("-----BEGIN RSA PRIVATE KEY-----\nMAA=\n-----END RSA PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if chain, leaf, err := parseChain(data); err == nil && (len(chain) == 0 || leaf == nil) {
			t.Fatal("parseChain succeeded without a certificate")
		}
		if key, err := parseKey(data); err == nil && key == nil {
			t.Fatal("parseKey succeeded without a key")
		}
	})
}
