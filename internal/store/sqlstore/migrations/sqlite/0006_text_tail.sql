-- A long text whose end is a plain-ASCII text/plain body is not stored twice: the row
-- keeps the text before it (subject, addresses, earlier parts) in body, and the bytes
-- [tail_start, tail_end) of the message's blob_data row are the rest, with each CRLF
-- read as the LF the text has there (mime.TextTail). Search matches such a tail in
-- place. 0 and 0 mean the whole text is in body, as in every row before this.
ALTER TABLE message_text ADD COLUMN tail_start INTEGER NOT NULL DEFAULT 0;
ALTER TABLE message_text ADD COLUMN tail_end INTEGER NOT NULL DEFAULT 0;
