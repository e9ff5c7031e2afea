-- Search results newest first, for a word too common to rank every match:
-- walking the index from its newest row stops at the first page of results.
-- So an index row's id is the order it was indexed in (about the order the
-- messages were sent, across rooms), and `search_rows` names its message.
-- `search_terms` tells how many messages hold a word (to choose between
-- ranking and newest first). The index is rebuilt by the background task.

DROP TABLE search;
DELETE FROM search_progress;

CREATE VIRTUAL TABLE search USING fts5 (
    body,
    -- The room's name and the author's username, so that a search within a
    -- room or by an author is narrowed by the index itself.
    room,
    author,
    content = '',
    tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO search (search, rank) VALUES ('secure-delete', 1);

CREATE TABLE search_rows (
    id      INTEGER PRIMARY KEY,
    room_id INTEGER NOT NULL,
    seq     INTEGER NOT NULL
);
CREATE UNIQUE INDEX search_rows_by_message ON search_rows (room_id, seq);

CREATE VIRTUAL TABLE search_terms USING fts5vocab (search, 'row');
