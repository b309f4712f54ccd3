// Package tlsconf builds the server-side TLS configuration shared by every
// Mailroom listener and makes self-signed certificates for new installations;
// it never offers TLS below 1.2 or non-AEAD cipher suites, and never
// overwrites a key or certificate it finds on disk.
package tlsconf
