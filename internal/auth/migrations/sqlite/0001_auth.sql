-- Sign-in protection shared by every node: app passwords, lockout counters, the
-- per-user password switch and the audit log. Times are unix microseconds; user ids
-- are directory principal ids.

-- Per-client passwords for clients that cannot do OAuth. hint is the first group of
-- the password (see apppassword.go), so a login checks one hash, not all of them.
CREATE TABLE auth_app_passwords (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	user_id BIGINT NOT NULL,
	name TEXT NOT NULL,
	name_key TEXT NOT NULL,          -- lower case, unique per user
	hint TEXT NOT NULL,
	hash TEXT NOT NULL,              -- argon2id, PHC string
	created BIGINT NOT NULL,
	last_used BIGINT NOT NULL DEFAULT 0,
	UNIQUE (user_id, name_key)
);
CREATE INDEX auth_app_passwords_hint ON auth_app_passwords (user_id, hint);

-- Failed sign-ins per key ("ip:…", "user:…", "login:…"), and until when the key is
-- refused without checking anything.
CREATE TABLE auth_lockout (
	key TEXT NOT NULL PRIMARY KEY,
	failures INTEGER NOT NULL,
	last_failure BIGINT NOT NULL,
	locked_until BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX auth_lockout_last ON auth_lockout (last_failure);

-- Users who keep password sign-in on the mail protocols although MFA is on. No row:
-- the default, app passwords and tokens only once MFA is on.
CREATE TABLE auth_password_with_mfa (
	user_id BIGINT NOT NULL PRIMARY KEY,
	set_at BIGINT NOT NULL
);

CREATE TABLE auth_audit (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	at BIGINT NOT NULL,
	event TEXT NOT NULL,
	user_id BIGINT NOT NULL DEFAULT 0,   -- 0: no such user, or unknown
	login TEXT NOT NULL DEFAULT '',
	success INTEGER NOT NULL,
	protocol TEXT NOT NULL DEFAULT '',
	remote TEXT NOT NULL DEFAULT '',
	method TEXT NOT NULL DEFAULT '',
	client_id TEXT NOT NULL DEFAULT '',
	detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX auth_audit_at ON auth_audit (at);
CREATE INDEX auth_audit_user ON auth_audit (user_id, at);
