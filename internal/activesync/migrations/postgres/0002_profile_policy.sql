-- The e-mail profile version a device provisioned under (profiles.PolicyVersion; ''
-- for none), and its last Sync or FolderSync since then (0: none yet).
ALTER TABLE activesync_devices ADD COLUMN profile_policy TEXT NOT NULL DEFAULT '';
ALTER TABLE activesync_devices ADD COLUMN policy_synced BIGINT NOT NULL DEFAULT 0;
