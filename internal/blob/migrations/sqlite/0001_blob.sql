-- Small message bytes kept in the SQLite database itself (blob.Local), committed with
-- the transaction that references them. id is "area/sha256-hex", as in PostgreSQL.
CREATE TABLE blob_data (
    id   TEXT PRIMARY KEY,
    data BLOB NOT NULL
) WITHOUT ROWID;
