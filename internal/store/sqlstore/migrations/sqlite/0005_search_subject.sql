-- SEARCH SUBJECT from an index of the folder instead of a header lookup per message.
-- Matching the subject through message_headers costs one lookup by blob id for every
-- message of the folder (4 ms for 2,000 messages, a fifth of the server's CPU in the
-- IMAP benchmark's mix, 2026-11-25). The envelope in the summary already holds the
-- first Subject field, unfolded and trimmed; when it has no encoded-word ("=?") and is
-- all ASCII, it is exactly the decoded value message_headers holds (and LIKE folds
-- ASCII case as lower-casing did). This index keeps that subject, or NULL when it is
-- absent or not plain, beside the blob id, so a search reads the index alone.
-- sqlstore's search.go repeats the expression word for word: SQLite takes an indexed
-- expression from the index only when the query's text is the same.
CREATE INDEX messages_subject ON messages (folder, uid, (iif(instr(summary ->> '$.envelope.subject', '=?') OR length(summary ->> '$.envelope.subject') <> length(CAST(summary ->> '$.envelope.subject' AS BLOB)), NULL, summary ->> '$.envelope.subject')), blob);

-- The envelope holds only the first Subject field. The contents with more than one
-- (a malformed message) are listed here, kept by the triggers below, so that search
-- looks at all of their Subject fields in message_headers, as it always has.
-- PostgreSQL keeps the same table (its migration 0003) for `mailroom migrate`.
CREATE TABLE message_multi_subject (blob TEXT PRIMARY KEY) WITHOUT ROWID;
INSERT INTO message_multi_subject (blob)
    SELECT blob FROM message_headers WHERE name = 'subject' GROUP BY blob HAVING count(*) > 1;
CREATE TRIGGER message_headers_multi_subject AFTER INSERT ON message_headers
WHEN new.name = 'subject' BEGIN
    INSERT OR IGNORE INTO message_multi_subject (blob) SELECT new.blob
        WHERE (SELECT count(*) FROM message_headers WHERE blob = new.blob AND name = 'subject') > 1;
END;
CREATE TRIGGER message_headers_multi_subject_gone AFTER DELETE ON message_headers
WHEN old.name = 'subject' BEGIN
    DELETE FROM message_multi_subject WHERE blob = old.blob;
END;
