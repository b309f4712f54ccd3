-- While a collection's first sync pages the folder downward by UID: every message at
-- or above page_below has been sent or comes through the change log (0: not paging).
ALTER TABLE activesync_states ADD COLUMN page_below INTEGER NOT NULL DEFAULT 0;
