-- E-mail profiles for iOS/iPadOS: their versions, group assignments and downloads, and
-- the per-app VPN profiles they may route through. Written for SQLite and PostgreSQL
-- alike: times are unix microseconds, text is TEXT, plists are stored as XML text.

-- Profiles are keyed by their lower-case name: it is what administrators type, and it
-- needs no engine-specific id generator.
CREATE TABLE email_profiles (
	name_key TEXT NOT NULL PRIMARY KEY,
	name TEXT NOT NULL,               -- as typed
	current_version INTEGER NOT NULL,
	created BIGINT NOT NULL
);

-- Every version ever saved: editing adds one, and nothing rewrites an old one, so
-- status can tell which version a user downloaded.
CREATE TABLE email_profile_versions (
	profile TEXT NOT NULL REFERENCES email_profiles (name_key) ON DELETE CASCADE,
	version INTEGER NOT NULL,
	settings TEXT NOT NULL,           -- JSON of profiles.Settings
	created BIGINT NOT NULL,
	PRIMARY KEY (profile, version)
);

-- Assignments to directory groups. Removing a group removes its assignments.
CREATE TABLE email_profile_assignments (
	profile TEXT NOT NULL REFERENCES email_profiles (name_key) ON DELETE CASCADE,
	group_id BIGINT NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
	mode TEXT NOT NULL CHECK (mode IN ('include', 'exclude')),
	created BIGINT NOT NULL,
	PRIMARY KEY (profile, group_id)
);
CREATE INDEX email_profile_assignments_group ON email_profile_assignments (group_id);

-- Who downloaded which version, first and last time.
CREATE TABLE email_profile_downloads (
	profile TEXT NOT NULL REFERENCES email_profiles (name_key) ON DELETE CASCADE,
	version INTEGER NOT NULL,
	user_id BIGINT NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
	first_at BIGINT NOT NULL,
	last_at BIGINT NOT NULL,
	downloads INTEGER NOT NULL,
	PRIMARY KEY (profile, user_id, version)
);

-- Per-app VPN profiles the administrator imported, so an e-mail profile can name one.
-- The e-mail account refers to the VPN by its VPNUUID (com.apple.eas.account VPNUUID).
CREATE TABLE vpn_profiles (
	name_key TEXT NOT NULL PRIMARY KEY,
	name TEXT NOT NULL,
	payload_uuid TEXT NOT NULL,       -- PayloadUUID of the VPN payload
	vpn_uuid TEXT NOT NULL,           -- its VPNUUID
	payload TEXT NOT NULL,            -- the plist as imported (XML)
	created BIGINT NOT NULL
);
