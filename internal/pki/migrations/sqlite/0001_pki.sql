-- The built-in certificate authority and the certificates it issued. Written for SQLite
-- and PostgreSQL alike: times are unix microseconds, keys and certificates PEM text.

-- One row: the CA. Its key is here rather than in the data directory for the reason
-- the DKIM keys are: every node of an installation that shares the database must
-- issue and verify alike, and a database backup restores a CA that still matches the
-- certificates it lists.
CREATE TABLE pki_ca (
	id INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
	cert_pem TEXT NOT NULL,
	key_pem TEXT NOT NULL,  -- PKCS #8
	created BIGINT NOT NULL
);

-- Every certificate issued, with its key: a re-downloaded profile must carry the same
-- S/MIME identity, or mail encrypted to the old one could no longer be read.
CREATE TABLE pki_certificates (
	serial TEXT NOT NULL PRIMARY KEY,    -- lower-case hex
	user_id BIGINT NOT NULL,             -- directory principal id
	address TEXT NOT NULL,               -- the rfc822Name in the certificate
	purpose TEXT NOT NULL CHECK (purpose IN ('client-auth', 'smime')),
	cert_pem TEXT NOT NULL,
	key_pem TEXT NOT NULL,               -- PKCS #8
	not_before BIGINT NOT NULL,
	not_after BIGINT NOT NULL,
	revoked BIGINT NOT NULL DEFAULT 0    -- when; 0: valid
);
CREATE INDEX pki_certificates_user ON pki_certificates (user_id, purpose);
