-- What a POP3 DELE does in each domain: with pop3_keep_deleted the message moves to the
-- mailbox's Deleted Items and is purged pop3_retention_days later, because POP3 clients
-- delete downloaded mail without asking and users lose it; without, DELE expunges at QUIT.
-- One ADD COLUMN per statement: SQLite allows no more.
ALTER TABLE domains ADD COLUMN pop3_keep_deleted INTEGER NOT NULL DEFAULT 1;
ALTER TABLE domains ADD COLUMN pop3_retention_days INTEGER NOT NULL DEFAULT 30;
