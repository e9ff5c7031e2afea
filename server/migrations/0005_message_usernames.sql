-- A message carries its author's username (who they are, for the actions a
-- reader may take on it), beside the display name it was sent under. Messages
-- from before accounts keep NULL.

ALTER TABLE messages ADD COLUMN username TEXT;

UPDATE messages SET username = (SELECT a.username FROM accounts a WHERE a.id = messages.author_id)
 WHERE author_id IS NOT NULL;
