-- Edits and deletes. A message is changed in place (a deleted one keeps its
-- row and seq, its body and mentions gone), and each change takes the next seq
-- of its room, recorded here: a client that resumes after a seq is sent the
-- messages and the changes after it, in order, each once.

ALTER TABLE messages ADD COLUMN edited_at INTEGER;
ALTER TABLE messages ADD COLUMN deleted_at INTEGER;

CREATE TABLE changes (
    room_id    INTEGER NOT NULL REFERENCES rooms (id),
    seq        INTEGER NOT NULL,
    -- The message it changed.
    target_seq INTEGER NOT NULL,
    PRIMARY KEY (room_id, seq)
) WITHOUT ROWID;
