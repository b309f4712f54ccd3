-- Text search indexing leaves the delivery path. Two costs dominated a delivery: every
-- trigram of a long text, and FTS5 flushing a new index segment in each one-message
-- transaction. Now the trigram index covers the first 16 KiB of each text, and an
-- indexer adds texts to it in batches shortly after delivery. Search stays exact: texts
-- longer than the indexed part, and texts not indexed yet, are also searched with LIKE.
DROP TRIGGER message_text_ai;
DROP TRIGGER message_text_ad;
DROP TABLE message_fts;
ALTER TABLE message_text ADD COLUMN long INTEGER GENERATED ALWAYS AS (length(body) > 16384) VIRTUAL;
-- Rows present now are indexed again below; rows added later start unindexed.
ALTER TABLE message_text ADD COLUMN indexed INTEGER NOT NULL DEFAULT 0;
UPDATE message_text SET indexed = 1;
CREATE INDEX message_text_long ON message_text (long) WHERE long;
CREATE INDEX message_text_unindexed ON message_text (indexed) WHERE NOT indexed;
CREATE VIEW message_text_head AS SELECT rowid AS id, substr(body, 1, 16384) AS head FROM message_text;
CREATE VIRTUAL TABLE message_fts USING fts5(head, content='message_text_head', content_rowid='id', tokenize='trigram');
INSERT INTO message_fts (message_fts) VALUES ('rebuild');
CREATE TRIGGER message_text_ad AFTER DELETE ON message_text WHEN old.indexed BEGIN
    INSERT INTO message_fts (message_fts, rowid, head) VALUES ('delete', old.rowid, substr(old.body, 1, 16384));
END;
