-- The mailbox store: accounts, folders, messages, the blobs they share, the text and
-- header values search looks at, and each account's change log.

CREATE TABLE accounts (
    id          INTEGER PRIMARY KEY,
    modseq      INTEGER NOT NULL DEFAULT 0,
    quota_bytes INTEGER NOT NULL DEFAULT 0,
    used_bytes  INTEGER NOT NULL DEFAULT 0,
    messages    INTEGER NOT NULL DEFAULT 0
);

-- Folder ids are never reused (AUTOINCREMENT), so a folder's id doubles as its
-- UIDVALIDITY: a folder deleted and created again under the same name gets a new one.
CREATE TABLE folders (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    account        INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    parent         INTEGER NOT NULL DEFAULT 0,
    name           TEXT    NOT NULL,
    role           TEXT    NOT NULL DEFAULT '',
    uidvalidity    INTEGER NOT NULL DEFAULT 0,
    uidnext        INTEGER NOT NULL DEFAULT 1,
    highest_modseq INTEGER NOT NULL DEFAULT 0,
    subscribed     INTEGER NOT NULL DEFAULT 1,
    messages       INTEGER NOT NULL DEFAULT 0,
    unseen         INTEGER NOT NULL DEFAULT 0,
    size           INTEGER NOT NULL DEFAULT 0,
    UNIQUE (account, parent, name)
);
CREATE UNIQUE INDEX folders_role ON folders (account, role) WHERE role <> '';

-- One row per distinct message content; refs counts the messages that use it.
CREATE TABLE blobs (
    id   TEXT    PRIMARY KEY,
    size INTEGER NOT NULL,
    refs INTEGER NOT NULL
);

-- Lower-cased decoded text of a content, for BODY/TEXT search.
CREATE TABLE message_text (
    blob TEXT PRIMARY KEY REFERENCES blobs(id) ON DELETE CASCADE,
    body TEXT NOT NULL
);

-- Trigram index over message_text.body: substring search without reading blobs.
CREATE VIRTUAL TABLE message_fts USING fts5(body, content='message_text', tokenize='trigram');
CREATE TRIGGER message_text_ai AFTER INSERT ON message_text BEGIN
    INSERT INTO message_fts (rowid, body) VALUES (new.rowid, new.body);
END;
CREATE TRIGGER message_text_ad AFTER DELETE ON message_text BEGIN
    INSERT INTO message_fts (message_fts, rowid, body) VALUES ('delete', old.rowid, old.body);
END;

-- Every header field of a content, name and decoded value lower-cased, for header search.
CREATE TABLE message_headers (
    blob  TEXT NOT NULL REFERENCES blobs(id) ON DELETE CASCADE,
    name  TEXT NOT NULL,
    value TEXT NOT NULL
);
CREATE INDEX message_headers_blob ON message_headers (blob, name);
CREATE INDEX message_headers_name ON message_headers (name, blob);

-- Message ids are never reused: POP3's UIDL and ActiveSync's ServerId rest on them.
CREATE TABLE messages (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    account       INTEGER NOT NULL,
    folder        INTEGER NOT NULL,
    uid           INTEGER NOT NULL,
    modseq        INTEGER NOT NULL,
    flags         INTEGER NOT NULL DEFAULT 0,
    keywords      TEXT    NOT NULL DEFAULT '',
    size          INTEGER NOT NULL,
    internal_date INTEGER NOT NULL,
    sent_date     INTEGER NOT NULL DEFAULT 0,
    blob          TEXT    NOT NULL REFERENCES blobs(id),
    message_id    TEXT    NOT NULL DEFAULT '',
    summary       TEXT    NOT NULL,
    props         TEXT    NOT NULL DEFAULT '',
    UNIQUE (folder, uid)
);
CREATE INDEX messages_account ON messages (account);
CREATE INDEX messages_message_id ON messages (account, message_id);

-- The change log: every change to an account, in order. Several rows may share a
-- modseq when one operation changed several messages.
CREATE TABLE changes (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    account INTEGER NOT NULL,
    modseq  INTEGER NOT NULL,
    kind    TEXT    NOT NULL,
    folder  INTEGER NOT NULL,
    message INTEGER NOT NULL DEFAULT 0,
    uid     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX changes_account_modseq ON changes (account, modseq);
CREATE INDEX changes_folder_modseq ON changes (folder, modseq);
