-- Files and images posted in messages.
--
-- A file's bytes are kept under the data directory, named by their SHA-256
-- (never by a name a client chose), so the same file posted twice is kept
-- once; an image's thumbnail likewise. An upload is one person's posting of
-- one file to one room: its id is random (it is the file's address), and
-- `seq` is the message that posted it (NULL until that message is sent; an
-- upload never sent is forgotten after a day). What an account's uploads
-- add up to is its quota's measure. A message keeps what it shows of its
-- file in `messages.file` (JSON: `app::protocol::Attachment`), so reading a
-- page is reading messages.

ALTER TABLE messages ADD COLUMN file TEXT;

CREATE TABLE uploads (
    id         TEXT    PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    -- The room's name as `rooms.name` has it (the room may not exist yet).
    room       TEXT    NOT NULL,
    seq        INTEGER,
    hash       TEXT    NOT NULL,
    thumb_hash TEXT,
    name       TEXT    NOT NULL,
    size       INTEGER NOT NULL,
    mime       TEXT    NOT NULL,
    thumb_w    INTEGER,
    thumb_h    INTEGER,
    created_at INTEGER NOT NULL
);
CREATE INDEX uploads_by_account ON uploads (account_id, created_at);
CREATE INDEX uploads_by_message ON uploads (room, seq) WHERE seq IS NOT NULL;
CREATE INDEX uploads_by_hash ON uploads (hash);
CREATE INDEX uploads_by_thumb ON uploads (thumb_hash) WHERE thumb_hash IS NOT NULL;
