-- Per-folder access control lists (RFC 4314): which rights a user holds on one folder
-- of another account. Written for SQLite and PostgreSQL alike. The owner of a folder
-- has every right and never has a row; a row with no rights is deleted, never kept.
CREATE TABLE folder_acl (
	folder_id BIGINT NOT NULL,   -- store folder id
	owner_id BIGINT NOT NULL,    -- store account (directory principal) that holds the folder
	grantee_id BIGINT NOT NULL,  -- directory principal id of the user given the rights
	rights TEXT NOT NULL,        -- RFC 4314 section 2.1 letters, canonical order
	created BIGINT NOT NULL,     -- unix microseconds
	PRIMARY KEY (folder_id, grantee_id)
);
CREATE INDEX folder_acl_grantee ON folder_acl (grantee_id, owner_id);
