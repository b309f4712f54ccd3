-- The outbound queue: one row per accepted message (its bytes are a blob in the queue's
-- own blob area), one row per recipient with its delivery state, and what each remote
-- host last did about STARTTLS. Times are unix microseconds.

CREATE TABLE queue_messages (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    sender  TEXT    NOT NULL,            -- envelope sender, '' for a bounce
    blob    TEXT    NOT NULL,            -- id in the queue's blob area
    size    INTEGER NOT NULL,
    ret     TEXT    NOT NULL DEFAULT '', -- RFC 3461 RET: '', 'FULL' or 'HDRS'
    envid   TEXT    NOT NULL DEFAULT '', -- RFC 3461 ENVID
    created INTEGER NOT NULL
);
CREATE INDEX queue_messages_blob ON queue_messages (blob);

-- status is 'queued', 'delivered' or 'failed'. A row needs work while it is queued or
-- while dsn_pending names a notification not yet handed over ('delayed', 'failed',
-- 'relayed'); it is due once next_attempt has passed and nobody holds an unexpired lease.
CREATE TABLE queue_recipients (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    message        INTEGER NOT NULL REFERENCES queue_messages(id) ON DELETE CASCADE,
    address        TEXT    NOT NULL,
    domain         TEXT    NOT NULL,
    notify         TEXT    NOT NULL DEFAULT '', -- RFC 3461 NOTIFY, comma-separated
    orcpt          TEXT    NOT NULL DEFAULT '', -- RFC 3461 ORCPT, 'addr-type;address'
    status         TEXT    NOT NULL DEFAULT 'queued',
    attempts       INTEGER NOT NULL DEFAULT 0,
    next_attempt   INTEGER NOT NULL,
    last_attempt   INTEGER NOT NULL DEFAULT 0,
    last_code      INTEGER NOT NULL DEFAULT 0,  -- remote SMTP reply code, 0 if the failure was ours
    last_status    TEXT    NOT NULL DEFAULT '', -- enhanced status code (RFC 3463)
    last_error     TEXT    NOT NULL DEFAULT '',
    remote_mta     TEXT    NOT NULL DEFAULT '',
    tls            INTEGER NOT NULL DEFAULT 0,
    delay_notified INTEGER NOT NULL DEFAULT 0,
    dsn_pending    TEXT    NOT NULL DEFAULT '',
    leased_until   INTEGER NOT NULL DEFAULT 0,
    leased_by      TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX queue_recipients_message ON queue_recipients (message);
CREATE INDEX queue_recipients_due ON queue_recipients (next_attempt) WHERE status = 'queued' OR dsn_pending <> '';

CREATE TABLE queue_hosts (
    host    TEXT    PRIMARY KEY,
    tls     INTEGER NOT NULL,
    updated INTEGER NOT NULL
);
