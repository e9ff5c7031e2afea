-- As the SQLite migration of the same number: when each account was last
-- seen, and messages by time (retention's sweep).

ALTER TABLE accounts ADD COLUMN last_seen_at BIGINT;
CREATE INDEX messages_by_time ON messages (created_at);
