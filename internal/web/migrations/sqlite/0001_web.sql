-- Sessions of the admin console and the self-service page. Written for SQLite and
-- PostgreSQL alike: times are unix microseconds. Kept in the database, not in memory,
-- so that every node of an installation accepts a session another node started.

CREATE TABLE web_sessions (
	token_hash TEXT NOT NULL PRIMARY KEY, -- hex SHA-256 of the cookie value; the value itself is never stored
	user_id BIGINT NOT NULL,              -- directory principal id
	csrf TEXT NOT NULL,                   -- the token every form of the session carries
	created BIGINT NOT NULL,
	expires BIGINT NOT NULL
);
CREATE INDEX web_sessions_expires ON web_sessions (expires);
CREATE INDEX web_sessions_user ON web_sessions (user_id);
