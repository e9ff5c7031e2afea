-- Reactions and replies.
--
-- A reaction is one person's emoji on one message: at most one per person per
-- emoji (the primary key says so). Each message keeps a summary of its own
-- (`messages.reactions`, JSON: per emoji its count and the first few names),
-- kept by the one writer as reactions come and go, so that reading a page is
-- reading messages, and adding a reaction costs the same in a room of ten as
-- in a room of ten thousand. Adding or taking back a reaction takes the next
-- seq of the room, recorded in `changes` as edits and deletes are.
--
-- A reply names the message it answers (`reply_to`, a seq of the same room);
-- its quote is read from that message as it is now.

ALTER TABLE messages ADD COLUMN reactions TEXT;
ALTER TABLE messages ADD COLUMN reply_to INTEGER;

CREATE TABLE reactions (
    room_id    INTEGER NOT NULL REFERENCES rooms (id),
    seq        INTEGER NOT NULL,
    emoji      TEXT    NOT NULL,
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    at         INTEGER NOT NULL,
    PRIMARY KEY (room_id, seq, emoji, account_id)
) WITHOUT ROWID;
