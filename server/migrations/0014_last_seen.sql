-- When each account was last seen (a socket of theirs opened or closed, its
-- API token used; written once a minute at most: server/src/admin/seen.rs),
-- for the administrators' page; and messages by time, for retention's sweep.

ALTER TABLE accounts ADD COLUMN last_seen_at INTEGER;
CREATE INDEX messages_by_time ON messages (created_at);
