-- The outbound queue, as in the SQLite migration of the same number: one row per
-- accepted message (its bytes are a blob in the queue's blob area), one row per
-- recipient with its delivery state, and what each remote host last did about STARTTLS.
-- Times are unix microseconds; booleans are integers 0/1 as in SQLite.

CREATE TABLE queue_messages (
    id      BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sender  TEXT    NOT NULL,            -- envelope sender, '' for a bounce
    blob    TEXT    NOT NULL,            -- id in the queue's blob area
    size    BIGINT  NOT NULL,
    ret     TEXT    NOT NULL DEFAULT '', -- RFC 3461 RET: '', 'FULL' or 'HDRS'
    envid   TEXT    NOT NULL DEFAULT '', -- RFC 3461 ENVID
    created BIGINT  NOT NULL
);
CREATE INDEX queue_messages_blob ON queue_messages (blob);

-- status is 'queued', 'delivered' or 'failed'. A row needs work while it is queued or
-- while dsn_pending names a notification not yet handed over ('delayed', 'failed',
-- 'relayed'); it is due once next_attempt has passed and nobody holds an unexpired lease.
CREATE TABLE queue_recipients (
    id             BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message        BIGINT  NOT NULL REFERENCES queue_messages(id) ON DELETE CASCADE,
    address        TEXT    NOT NULL,
    domain         TEXT    NOT NULL,
    notify         TEXT    NOT NULL DEFAULT '', -- RFC 3461 NOTIFY, comma-separated
    orcpt          TEXT    NOT NULL DEFAULT '', -- RFC 3461 ORCPT, 'addr-type;address'
    status         TEXT    NOT NULL DEFAULT 'queued',
    attempts       BIGINT  NOT NULL DEFAULT 0,
    next_attempt   BIGINT  NOT NULL,
    last_attempt   BIGINT  NOT NULL DEFAULT 0,
    last_code      BIGINT  NOT NULL DEFAULT 0,  -- remote SMTP reply code, 0 if the failure was ours
    last_status    TEXT    NOT NULL DEFAULT '', -- enhanced status code (RFC 3463)
    last_error     TEXT    NOT NULL DEFAULT '',
    remote_mta     TEXT    NOT NULL DEFAULT '',
    tls            BIGINT  NOT NULL DEFAULT 0,
    delay_notified BIGINT  NOT NULL DEFAULT 0,
    dsn_pending    TEXT    NOT NULL DEFAULT '',
    leased_until   BIGINT  NOT NULL DEFAULT 0,
    leased_by      TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX queue_recipients_message ON queue_recipients (message);
CREATE INDEX queue_recipients_due ON queue_recipients (next_attempt) WHERE status = 'queued' OR dsn_pending <> '';

CREATE TABLE queue_hosts (
    host    TEXT    PRIMARY KEY,
    tls     BIGINT  NOT NULL,
    updated BIGINT  NOT NULL
);
