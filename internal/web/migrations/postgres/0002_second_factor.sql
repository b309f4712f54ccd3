-- The second factor of console sign-ins. A session whose stage is not '' is half
-- signed in: the password was right, and the second factor ('mfa') or the enrolment
-- of one ('enrol') is still to come; it opens no page.
ALTER TABLE web_sessions ADD COLUMN stage TEXT NOT NULL DEFAULT '';
-- When the session's user last gave their second factor (unix microseconds; 0: never),
-- for what asks for a recent one (the derived-credential profile download).
ALTER TABLE web_sessions ADD COLUMN mfa_at BIGINT NOT NULL DEFAULT 0;
-- During enrolment, the otpauth:// URI of the secret offered, until it is confirmed.
ALTER TABLE web_sessions ADD COLUMN pending_totp TEXT NOT NULL DEFAULT '';
-- Wrong codes given at this half sign-in; it ends at five.
ALTER TABLE web_sessions ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;
-- The page to go to once signed in.
ALTER TABLE web_sessions ADD COLUMN next_path TEXT NOT NULL DEFAULT '';
