-- The OAuth 2.0 / OpenID Connect authorization server and the second factors of
-- sign-in. Written for SQLite and PostgreSQL alike: times are unix microseconds, user
-- ids are directory principal ids. Every bearer secret (authorization code, refresh
-- token, device code, recovery code, sign-in cookie) is stored as its SHA-256 in hex,
-- never as itself: a copy of the database lets nobody sign in.

-- The RS256 keys that sign access and ID tokens. The newest is the signing key; all
-- are published in the JWKS so tokens signed before a rotation still verify. Kept in
-- the database so every node of an installation signs and verifies alike.
CREATE TABLE oauth_keys (
	id TEXT NOT NULL PRIMARY KEY,        -- the JWK "kid"
	key_pem TEXT NOT NULL,               -- PKCS #8
	created BIGINT NOT NULL
);

-- Registered clients besides the built-in one. A public client has no secret_hash.
CREATE TABLE oauth_clients (
	id TEXT NOT NULL PRIMARY KEY,
	name TEXT NOT NULL,
	secret_hash TEXT NOT NULL DEFAULT '',
	redirect_uris TEXT NOT NULL,         -- one per line
	native INTEGER NOT NULL,             -- 1: native app, loopback redirects on any port
	created BIGINT NOT NULL
);

-- Authorization requests between /authorize and the code's exchange.
CREATE TABLE oauth_auth_requests (
	id TEXT NOT NULL PRIMARY KEY,
	client_id TEXT NOT NULL,
	redirect_uri TEXT NOT NULL,
	scopes TEXT NOT NULL,                -- space-separated
	state TEXT NOT NULL,
	nonce TEXT NOT NULL,
	response_type TEXT NOT NULL,
	response_mode TEXT NOT NULL,
	code_challenge TEXT NOT NULL,
	code_challenge_method TEXT NOT NULL,
	user_id BIGINT NOT NULL DEFAULT 0,   -- 0 until signed in
	auth_time BIGINT NOT NULL DEFAULT 0,
	amr TEXT NOT NULL DEFAULT '',        -- space-separated
	code_hash TEXT UNIQUE,
	created BIGINT NOT NULL,
	expires BIGINT NOT NULL
);

-- Refresh tokens. Each use replaces the token by a new one of the same family; a
-- token presented again after its use revokes the whole family (and its access
-- tokens), as a thief and the client cannot both go on.
CREATE TABLE oauth_refresh_tokens (
	id TEXT NOT NULL PRIMARY KEY,
	token_hash TEXT NOT NULL UNIQUE,
	family TEXT NOT NULL,
	user_id BIGINT NOT NULL,
	client_id TEXT NOT NULL,
	scopes TEXT NOT NULL,
	amr TEXT NOT NULL,
	auth_time BIGINT NOT NULL,
	created BIGINT NOT NULL,
	expires BIGINT NOT NULL,
	used BIGINT NOT NULL DEFAULT 0,      -- when it was exchanged; 0: current
	revoked BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX oauth_refresh_tokens_family ON oauth_refresh_tokens (family);

-- Access tokens issued, by JWT id, so that a revocation takes effect before expiry.
CREATE TABLE oauth_access_tokens (
	id TEXT NOT NULL PRIMARY KEY,
	family TEXT NOT NULL,                -- the refresh family, or the id itself
	user_id BIGINT NOT NULL,
	client_id TEXT NOT NULL,
	scopes TEXT NOT NULL,
	expires BIGINT NOT NULL,
	revoked BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX oauth_access_tokens_family ON oauth_access_tokens (family);
CREATE INDEX oauth_access_tokens_expires ON oauth_access_tokens (expires);

-- Device authorization grants (RFC 8628) until they are exchanged or expire.
CREATE TABLE oauth_device_grants (
	device_code_hash TEXT NOT NULL PRIMARY KEY,
	user_code TEXT NOT NULL UNIQUE,
	client_id TEXT NOT NULL,
	scopes TEXT NOT NULL,
	expires BIGINT NOT NULL,
	state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'denied')),
	user_id BIGINT NOT NULL DEFAULT 0,
	auth_time BIGINT NOT NULL DEFAULT 0,
	amr TEXT NOT NULL DEFAULT ''
);

-- Sign-in in progress in a browser: the cookie names a row, which lives minutes.
CREATE TABLE oauth_logins (
	id_hash TEXT NOT NULL PRIMARY KEY,
	csrf TEXT NOT NULL,
	auth_request_id TEXT NOT NULL DEFAULT '',
	user_code TEXT NOT NULL DEFAULT '',
	stage TEXT NOT NULL,                 -- password, mfa, enrol, recovery, consent
	user_id BIGINT NOT NULL DEFAULT 0,
	amr TEXT NOT NULL DEFAULT '',        -- factors passed so far
	pending_totp TEXT NOT NULL DEFAULT '', -- otpauth:// URI shown during enrolment
	failures INTEGER NOT NULL DEFAULT 0,
	expires BIGINT NOT NULL
);

-- A user's TOTP factor (RFC 6238). last_step is the newest time step accepted, so a
-- code is good once.
CREATE TABLE mfa_totp (
	user_id BIGINT NOT NULL PRIMARY KEY,
	secret TEXT NOT NULL,                -- base32
	created BIGINT NOT NULL,
	last_step BIGINT NOT NULL DEFAULT 0
);

-- One-time recovery codes.
CREATE TABLE mfa_recovery_codes (
	user_id BIGINT NOT NULL,
	code_hash TEXT NOT NULL,
	used BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (user_id, code_hash)
);

-- Who must sign in with a second factor: users, and every member of a group.
CREATE TABLE mfa_required (
	principal_id BIGINT NOT NULL PRIMARY KEY,
	kind TEXT NOT NULL CHECK (kind IN ('user', 'group')),
	created BIGINT NOT NULL
);
