-- The rooms each person keeps in their list, how far they have read in each, and
-- who each message mentions: what the room list's unread and mention counts are
-- made of. Read positions live here, on the server, so every device and tab of
-- an account shows the same counts.

CREATE TABLE memberships (
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    room_id    INTEGER NOT NULL REFERENCES rooms (id),
    joined_at  INTEGER NOT NULL,
    -- The newest seq read in the room; it only ever grows, and never past the
    -- room's last_seq.
    read_seq   INTEGER NOT NULL DEFAULT 0,
    -- When to notify: 'all', 'mentions' or 'nothing'.
    notify     TEXT    NOT NULL DEFAULT 'mentions',
    PRIMARY KEY (account_id, room_id)
) WITHOUT ROWID;

CREATE INDEX memberships_by_room ON memberships (room_id);

-- One row per mentioned account per message: the mention counts (seq > read_seq).
CREATE TABLE mentions (
    account_id INTEGER NOT NULL,
    room_id    INTEGER NOT NULL,
    seq        INTEGER NOT NULL,
    PRIMARY KEY (account_id, room_id, seq)
) WITHOUT ROWID;

-- The usernames a message mentions, as a JSON array (NULL: none), so a page of
-- history shows them without a join.
ALTER TABLE messages ADD COLUMN mentions TEXT;

-- When the room's newest message was sent (NULL: none yet): the list's order.
ALTER TABLE rooms ADD COLUMN last_at INTEGER;
