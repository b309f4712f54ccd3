-- Device partnerships: one row per (account, device id).
CREATE TABLE activesync_devices (
	account            INTEGER NOT NULL,
	device_id          TEXT    NOT NULL,
	device_type        TEXT    NOT NULL DEFAULT '',
	model              TEXT    NOT NULL DEFAULT '',
	imei               TEXT    NOT NULL DEFAULT '',
	friendly_name      TEXT    NOT NULL DEFAULT '',
	os                 TEXT    NOT NULL DEFAULT '',
	os_language        TEXT    NOT NULL DEFAULT '',
	phone_number       TEXT    NOT NULL DEFAULT '',
	mobile_operator    TEXT    NOT NULL DEFAULT '',
	user_agent         TEXT    NOT NULL DEFAULT '',
	protocol_version   TEXT    NOT NULL DEFAULT '',
	first_sync         INTEGER NOT NULL,
	last_sync          INTEGER NOT NULL,
	policy_key         INTEGER NOT NULL DEFAULT 0, -- the final key the device acknowledged
	policy_status      INTEGER NOT NULL DEFAULT 0, -- the device's acknowledgement status
	access             TEXT    NOT NULL DEFAULT '', -- set by an administrator; '' follows the rules
	wipe               TEXT    NOT NULL DEFAULT 'none',
	wipe_requested     INTEGER NOT NULL DEFAULT 0,
	wipe_acknowledged  INTEGER NOT NULL DEFAULT 0,
	ping_heartbeat     INTEGER NOT NULL DEFAULT 0,
	ping_folders       TEXT    NOT NULL DEFAULT '',
	PRIMARY KEY (account, device_id)
);

-- Allow/block/quarantine rules by device type or user agent (Exchange ABQ).
CREATE TABLE activesync_access_rules (
	id      INTEGER PRIMARY KEY AUTOINCREMENT,
	field   TEXT NOT NULL,   -- 'device-type' or 'user-agent'
	pattern TEXT NOT NULL,   -- case-insensitive; a trailing '*' matches any rest
	access  TEXT NOT NULL
);

CREATE TABLE activesync_options (
	name  TEXT PRIMARY KEY,
	value TEXT NOT NULL
);

-- Per device and collection ('' is the folder hierarchy): the options the device sent
-- last and the counter that names sync states.
CREATE TABLE activesync_collections (
	account    INTEGER NOT NULL,
	device_id  TEXT    NOT NULL,
	collection TEXT    NOT NULL,
	next_key   INTEGER NOT NULL,
	options    TEXT    NOT NULL DEFAULT '',
	PRIMARY KEY (account, device_id, collection)
);

-- Sync states: what a device holds when it presents a SyncKey.
CREATE TABLE activesync_states (
	account    INTEGER NOT NULL,
	device_id  TEXT    NOT NULL,
	collection TEXT    NOT NULL,
	sync_key   INTEGER NOT NULL,
	parent_key INTEGER NOT NULL, -- the key whose Sync produced this one (0: none)
	modseq     INTEGER NOT NULL, -- the change log position the state reflects
	items      BLOB    NOT NULL, -- what the device holds, encoded by the state's owner
	backlog    INTEGER NOT NULL DEFAULT 0, -- changes remained beyond the window
	response   BLOB    NOT NULL, -- the answer that issued this key, replayed on retry
	created    INTEGER NOT NULL,
	PRIMARY KEY (account, device_id, collection, sync_key)
);
