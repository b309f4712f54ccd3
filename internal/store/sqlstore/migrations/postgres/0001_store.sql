-- The mailbox store, as in the SQLite migration of the same number: accounts, folders,
-- messages, the blobs they share, the text and header values search looks at, and each
-- account's change log. Integers are BIGINT throughout (Go's int64); times are unix
-- microseconds and booleans 0/1, as in SQLite, so the queries are the same.

-- Substring search over message text: trigram GIN index. pg_trgm is a trusted
-- extension since PostgreSQL 13, so the database owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE accounts (
    id          BIGINT PRIMARY KEY,
    modseq      BIGINT NOT NULL DEFAULT 0,
    quota_bytes BIGINT NOT NULL DEFAULT 0,
    used_bytes  BIGINT NOT NULL DEFAULT 0,
    messages    BIGINT NOT NULL DEFAULT 0
);

-- Every change to an account moves its modseq; tell the nodes listening (LISTEN
-- mailroom_store) which account and where it is now. NOTIFY is delivered at commit,
-- and only then.
CREATE FUNCTION mailroom_store_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('mailroom_store', NEW.id::text || ' ' || NEW.modseq::text);
    RETURN NULL;
END;
$$;
CREATE TRIGGER accounts_modseq_notify AFTER UPDATE OF modseq ON accounts
    FOR EACH ROW WHEN (NEW.modseq <> OLD.modseq) EXECUTE FUNCTION mailroom_store_notify();

-- Folder ids come from an identity sequence and are never reused (a sequence never
-- goes back, even for rolled-back transactions), so a folder's id doubles as its
-- UIDVALIDITY: a folder deleted and created again under the same name gets a new one.
CREATE TABLE folders (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account        BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    parent         BIGINT NOT NULL DEFAULT 0,
    name           TEXT   NOT NULL,
    role           TEXT   NOT NULL DEFAULT '',
    uidvalidity    BIGINT NOT NULL DEFAULT 0,
    uidnext        BIGINT NOT NULL DEFAULT 1,
    highest_modseq BIGINT NOT NULL DEFAULT 0,
    subscribed     BIGINT NOT NULL DEFAULT 1,
    messages       BIGINT NOT NULL DEFAULT 0,
    unseen         BIGINT NOT NULL DEFAULT 0,
    size           BIGINT NOT NULL DEFAULT 0,
    UNIQUE (account, parent, name)
);
CREATE UNIQUE INDEX folders_role ON folders (account, role) WHERE role <> '';

-- One row per distinct message content; refs counts the messages that use it.
CREATE TABLE blobs (
    id   TEXT   PRIMARY KEY,
    size BIGINT NOT NULL,
    refs BIGINT NOT NULL
);

-- Lower-cased decoded text of a content, for BODY/TEXT search; the trigram index
-- answers LIKE '%...%' of three characters or more.
CREATE TABLE message_text (
    blob TEXT PRIMARY KEY REFERENCES blobs(id) ON DELETE CASCADE,
    body TEXT NOT NULL
);
CREATE INDEX message_text_trgm ON message_text USING gin (body gin_trgm_ops);

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
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account       BIGINT NOT NULL,
    folder        BIGINT NOT NULL,
    uid           BIGINT NOT NULL,
    modseq        BIGINT NOT NULL,
    flags         BIGINT NOT NULL DEFAULT 0,
    keywords      TEXT   NOT NULL DEFAULT '',
    size          BIGINT NOT NULL,
    internal_date BIGINT NOT NULL,
    sent_date     BIGINT NOT NULL DEFAULT 0,
    blob          TEXT   NOT NULL REFERENCES blobs(id),
    message_id    TEXT   NOT NULL DEFAULT '',
    summary       TEXT   NOT NULL,
    props         TEXT   NOT NULL DEFAULT '',
    UNIQUE (folder, uid)
);
CREATE INDEX messages_account ON messages (account);
CREATE INDEX messages_message_id ON messages (account, message_id);
CREATE INDEX messages_blob ON messages (blob);

-- The change log: every change to an account, in order. Several rows may share a
-- modseq when one operation changed several messages.
CREATE TABLE changes (
    id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account BIGINT NOT NULL,
    modseq  BIGINT NOT NULL,
    kind    TEXT   NOT NULL,
    folder  BIGINT NOT NULL,
    message BIGINT NOT NULL DEFAULT 0,
    uid     BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX changes_account_modseq ON changes (account, modseq);
CREATE INDEX changes_folder_modseq ON changes (folder, modseq);
