-- blob_data becomes an ordinary rowid table. As a WITHOUT ROWID table each row, bytes
-- and all, lived in the primary-key b-tree, and SQLite reads a cell's whole payload,
-- overflow pages included, to compare keys there: every insert read every large blob
-- on its path down the tree (a tenth of the server's CPU at 100 KB messages,
-- 2026-11-25). Now the key b-tree holds only ids and the bytes sit in the table b-tree.
CREATE TABLE blob_data_new (
    id   TEXT PRIMARY KEY,
    data BLOB NOT NULL
);
INSERT INTO blob_data_new (id, data) SELECT id, data FROM blob_data;
DROP TABLE blob_data;
ALTER TABLE blob_data_new RENAME TO blob_data;
