-- Removing a text no longer re-tokenises it. The trigram index of migration 0002 was
-- an external-content table: deleting a text's entries meant giving FTS5 the text
-- again, which it tokenised under the write lock of the EXPUNGE that freed the bytes,
-- and made FTS5 flush a segment at every savepoint of that shared transaction (together
-- about a third of the server's CPU in the IMAP benchmark's mix, 2026-11-25).
--
-- Now the index is contentless with contentless_delete=1 (SQLite 3.43): a row is
-- removed by its rowid alone. An EXPUNGE does not touch it at all: the trigger below
-- notes the rowid of a removed text in message_fts_gone, and the indexer deletes those
-- rows from the index in its own batches, before it adds new texts (a rowid that
-- SQLite reuses for a new text is indexed only after its old entries are gone). Search
-- takes index hits only for texts marked indexed, so a rowid waiting here is never
-- matched against a new text's content.
DROP TRIGGER message_text_ad;
DROP TABLE message_fts;
DROP VIEW message_text_head;
CREATE VIRTUAL TABLE message_fts USING fts5(head, content='', contentless_delete=1, tokenize='trigram');
CREATE TABLE message_fts_gone (id INTEGER PRIMARY KEY);
-- Texts longer than the 16 KiB head are no longer put in the index at all (search reads
-- them whole with LIKE in any case), so their removal leaves nothing to delete.
CREATE TRIGGER message_text_ad AFTER DELETE ON message_text WHEN old.indexed AND NOT old.long BEGIN
    INSERT OR IGNORE INTO message_fts_gone (id) VALUES (old.rowid);
END;
-- The indexer builds the new index in the background; search covers the texts it has
-- not reached yet with LIKE.
UPDATE message_text SET indexed = 0;
