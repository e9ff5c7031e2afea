-- Accounts, their sessions, and the author of each message.

CREATE TABLE accounts (
    id            INTEGER PRIMARY KEY,
    -- Lowercase; the rule is app::account::parse_username.
    username      TEXT    NOT NULL UNIQUE,
    display_name  TEXT    NOT NULL,
    -- argon2id, PHC string format (algorithm, parameters and salt included).
    password_hash TEXT    NOT NULL,
    created_at    INTEGER NOT NULL
);

-- A signed-in browser. The cookie holds a random token; only its SHA-256 is kept
-- here, so a copy of the database does not sign anyone in.
CREATE TABLE sessions (
    token_hash  TEXT    PRIMARY KEY,
    account_id  INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX sessions_by_expiry ON sessions (expires_at);

-- Messages from before accounts have no author id; every new one has. Not a
-- foreign key: a room's history outlives the accounts that wrote it.
ALTER TABLE messages ADD COLUMN author_id INTEGER;

-- A retried send is recognised by its account, not its display name (two accounts
-- may share a display name).
DROP INDEX messages_by_client_id;
CREATE UNIQUE INDEX messages_by_author_client_id ON messages (room_id, author_id, client_id);
