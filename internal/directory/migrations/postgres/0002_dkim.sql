-- Each domain's DKIM signing key (RFC 6376), made when the domain is added. The private
-- key stays in the database so that every node of an installation signs alike.
CREATE TABLE dkim_keys (
	domain TEXT NOT NULL PRIMARY KEY REFERENCES domains(name) ON DELETE CASCADE,
	selector TEXT NOT NULL,
	private_key TEXT NOT NULL,  -- PEM
	created BIGINT NOT NULL
);
