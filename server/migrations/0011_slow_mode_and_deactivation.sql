-- Slow mode: a room's moderators let each person post at most once every so
-- many seconds there (0: off). Logged with its seconds.
--
-- A site administrator deactivates an account: its sessions end, it cannot
-- sign in again.

ALTER TABLE rooms ADD COLUMN slow_mode_s INTEGER NOT NULL DEFAULT 0;
ALTER TABLE moderation_log ADD COLUMN seconds INTEGER;
ALTER TABLE accounts ADD COLUMN deactivated_at INTEGER;
