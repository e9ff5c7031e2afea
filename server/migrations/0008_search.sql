-- Search. An FTS5 index of the messages' text, contentless (the text stays in
-- `messages`; the index holds its tokens, Chinese and Japanese as pairs of
-- characters: see server/src/search/text.rs), each row keyed by its
-- message: the room's id in the high 32 bits of the rowid, the seq in the low.
-- A background task fills it after the messages are stored and records per
-- room how far it got, in the same transaction.
--
-- A row is deleted by FTS5's 'delete' command, given the text it was indexed
-- with (the message's body before the change), and secure-delete removes its
-- tokens from the index at once: a deleted message's words are gone from the
-- file, as its body is.

CREATE VIRTUAL TABLE search USING fts5 (
    body,
    content = '',
    tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO search (search, rank) VALUES ('secure-delete', 1);

CREATE TABLE search_progress (
    room_id INTEGER PRIMARY KEY REFERENCES rooms (id),
    -- Every message of the room up to here is indexed.
    seq     INTEGER NOT NULL
);
