// Package auth is the one place every protocol signs a user in: passwords (checked by
// the directory), per-client app passwords, OAuth 2.0 bearer tokens (checked by a
// TokenVerifier such as internal/oauth), with lockout after repeated failures per
// remote address and per account, and an audit log of sign-ins, token grants and
// revocations.
//
// It never reveals whether an account exists: every refused attempt, locked out or
// not, fails with the same ErrBadCredentials. It never stores a password or token in
// clear text and never logs one.
package auth
