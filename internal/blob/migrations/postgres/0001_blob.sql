-- Message bytes kept in PostgreSQL itself, so that one database is a whole shared
-- deployment. id is "area/sha256-hex": the store and the queue keep separate areas,
-- as they keep separate directories beside SQLite.
CREATE TABLE blob_data (
    id   TEXT  PRIMARY KEY,
    data BYTEA NOT NULL
);
