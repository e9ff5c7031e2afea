-- Rooms and their messages. A message's seq is its position in its room: 1, 2, 3, …
-- with no holes, assigned from rooms.last_seq in the transaction that stores it.

CREATE TABLE rooms (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    last_seq   INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);

CREATE TABLE messages (
    room_id    INTEGER NOT NULL REFERENCES rooms (id),
    seq        INTEGER NOT NULL,
    author     TEXT    NOT NULL,
    body       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    client_id  TEXT    NOT NULL,
    PRIMARY KEY (room_id, seq)
) WITHOUT ROWID;

-- A retried send (same sender, same client id) finds the message it already stored.
CREATE UNIQUE INDEX messages_by_client_id ON messages (room_id, author, client_id);
