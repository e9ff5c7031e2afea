-- Web Push: the browsers that asked to be told of messages while no tab of the
-- chat is open, and the server's own VAPID key (a push service ties each
-- subscription to the key it was made with, so the key outlives restarts).

CREATE TABLE push_subscriptions (
    id          INTEGER PRIMARY KEY,
    account_id  INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    -- The push service's URL for this browser; one browser, one row.
    endpoint    TEXT    NOT NULL UNIQUE,
    -- The browser's P-256 public key and authentication secret, base64url.
    p256dh      TEXT    NOT NULL,
    auth        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE INDEX push_subscriptions_by_account ON push_subscriptions (account_id);

CREATE TABLE server_keys (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
