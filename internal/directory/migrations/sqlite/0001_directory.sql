-- The directory: domains, principals (users, shared mailboxes and groups), their
-- addresses, group membership and mailbox grants. Written for SQLite and PostgreSQL
-- alike: times are unix microseconds, booleans INTEGER 0/1, text is TEXT.

CREATE TABLE domains (
	name TEXT NOT NULL PRIMARY KEY,     -- lower-case ASCII (A-label) DNS name
	netbios TEXT NOT NULL UNIQUE,       -- upper-case, for DOMAIN\sam logins
	created BIGINT NOT NULL
);

-- Principal ids come from this counter instead of an engine-specific auto-increment,
-- and are never reused: a principal's id is also its mailbox account id in the store,
-- so a new user must never inherit a removed user's mail.
CREATE TABLE directory_ids (
	name TEXT NOT NULL PRIMARY KEY,
	last_id BIGINT NOT NULL
);
INSERT INTO directory_ids (name, last_id) VALUES ('principal', 0);

CREATE TABLE principals (
	id BIGINT NOT NULL PRIMARY KEY,
	kind TEXT NOT NULL CHECK (kind IN ('user', 'shared', 'group')),
	domain TEXT REFERENCES domains (name), -- the primary address's domain; NULL for a group without address
	name TEXT,                             -- group name as typed; NULL for mailboxes
	name_key TEXT UNIQUE,                  -- lower-case group name
	upn TEXT,                              -- as typed; NULL for groups
	upn_key TEXT UNIQUE,                   -- lower-case UPN
	sam TEXT,                              -- sAMAccountName as typed; NULL for groups
	sam_key TEXT,                          -- lower-case, unique per domain
	display_name TEXT NOT NULL DEFAULT '',
	given_name TEXT NOT NULL DEFAULT '',
	surname TEXT NOT NULL DEFAULT '',
	department TEXT NOT NULL DEFAULT '',
	title TEXT NOT NULL DEFAULT '',
	phone TEXT NOT NULL DEFAULT '',
	enabled INTEGER NOT NULL DEFAULT 1,
	admin INTEGER NOT NULL DEFAULT 0,
	password_hash TEXT NOT NULL DEFAULT '', -- argon2id PHC string; empty: cannot log in
	created BIGINT NOT NULL,
	UNIQUE (domain, sam_key)
);

-- Every address (primary, alias, group address) in one table, so one primary key
-- makes them unique across all kinds.
CREATE TABLE addresses (
	address TEXT NOT NULL PRIMARY KEY, -- lower case
	principal_id BIGINT NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
	domain TEXT NOT NULL REFERENCES domains (name),
	is_primary INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX addresses_primary ON addresses (principal_id) WHERE is_primary = 1;
CREATE INDEX addresses_principal ON addresses (principal_id);
CREATE INDEX addresses_domain ON addresses (domain);

CREATE TABLE group_members (
	group_id BIGINT NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
	member_id BIGINT NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
	PRIMARY KEY (group_id, member_id)
);
CREATE INDEX group_members_member ON group_members (member_id);

CREATE TABLE mailbox_grants (
	mailbox_id BIGINT NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
	user_id BIGINT NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
	access_right TEXT NOT NULL CHECK (access_right IN ('FullAccess', 'SendAs')),
	created BIGINT NOT NULL,
	PRIMARY KEY (mailbox_id, user_id, access_right)
);
CREATE INDEX mailbox_grants_user ON mailbox_grants (user_id);
