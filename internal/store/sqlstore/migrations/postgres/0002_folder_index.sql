-- What opening a folder reads (Store.FolderIndex), without touching message rows: the
-- UIDs come from the UNIQUE (folder, uid) index; these two partial indexes hold only
-- the unseen messages (flags bit 1 is \Seen) and those with keywords, so the first
-- unseen UID and the folder's keywords are found without reading every row.
CREATE INDEX messages_unseen ON messages (folder, uid) WHERE flags & 1 = 0;
CREATE INDEX messages_keywords ON messages (folder, keywords) WHERE keywords <> '';
