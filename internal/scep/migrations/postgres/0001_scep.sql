-- One-time SCEP challenge passwords (RFC 8894 §2.3). Only a SHA-256 of each is kept:
-- the password is random (130 bits), so a fast hash cannot be reversed, and a copy of
-- the database hands out no usable challenge. A row is used once (used <> 0), and is
-- deleted a day after it expired.
CREATE TABLE scep_challenges (
	hash TEXT NOT NULL PRIMARY KEY,   -- lower-case hex SHA-256 of the password
	user_id BIGINT NOT NULL,          -- directory principal the certificate will name
	address TEXT NOT NULL,            -- the user's primary address when it was made
	name TEXT NOT NULL,               -- display name for the certificate's common name
	created BIGINT NOT NULL,          -- unix microseconds
	expires BIGINT NOT NULL,
	used BIGINT NOT NULL DEFAULT 0    -- when it was consumed; 0: not yet
);
CREATE INDEX scep_challenges_expires ON scep_challenges (expires);
