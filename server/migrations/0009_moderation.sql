-- Moderation. A room's owner is the account that made it (the first to post
-- in it or put it in their list; older rooms have none). The owner names
-- moderators; owner and moderators may delete anyone's message and remove a
-- person from the room, for some minutes or for good (their sockets close;
-- they cannot come back or post until the time is up or they are let back).
-- Every such action is logged, for the room's moderators to read.

ALTER TABLE rooms ADD COLUMN owner_id INTEGER;

CREATE TABLE moderators (
    room_id    INTEGER NOT NULL REFERENCES rooms (id),
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    PRIMARY KEY (room_id, account_id)
) WITHOUT ROWID;

CREATE TABLE removals (
    room_id    INTEGER NOT NULL REFERENCES rooms (id),
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    -- Milliseconds since the epoch; NULL: for good.
    until      INTEGER,
    PRIMARY KEY (room_id, account_id)
) WITHOUT ROWID;

CREATE TABLE moderation_log (
    id         INTEGER PRIMARY KEY,
    room_id    INTEGER NOT NULL REFERENCES rooms (id),
    actor_id   INTEGER NOT NULL,
    -- delete, remove, restore, moderator, unmoderator
    action     TEXT    NOT NULL,
    target_id  INTEGER,
    target_seq INTEGER,
    -- For a removal: until when (NULL: for good).
    until      INTEGER,
    at         INTEGER NOT NULL
);
CREATE INDEX moderation_log_by_room ON moderation_log (room_id, id);
