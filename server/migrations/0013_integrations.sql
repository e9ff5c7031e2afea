-- Scripts and bots (issue 15): personal API tokens, bot accounts and incoming
-- webhooks. A token or a webhook's address is 32 random bytes shown once; only
-- its SHA-256 is kept (as a session's), with its first characters to tell it
-- by in a list.

-- A bot is an account with an owner: it signs in never (its password is one
-- nobody knows) and posts through webhooks. With `bot_url`, it is told by a
-- POST to that address when it is mentioned or messaged.
ALTER TABLE accounts ADD COLUMN bot_owner_id INTEGER REFERENCES accounts (id);
ALTER TABLE accounts ADD COLUMN bot_url TEXT;
CREATE INDEX accounts_by_bot_owner ON accounts (bot_owner_id) WHERE bot_owner_id IS NOT NULL;

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    account_id   INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    token_hash   TEXT    NOT NULL UNIQUE,
    prefix       TEXT    NOT NULL,
    can_read     INTEGER NOT NULL,
    can_post     INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER
);
CREATE INDEX api_tokens_by_account ON api_tokens (account_id);

-- A room's incoming webhook: a POST to /hooks/<secret> posts in `room` as `bot_id`.
CREATE TABLE webhooks (
    id         INTEGER PRIMARY KEY,
    room       TEXT    NOT NULL,
    bot_id     INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_by INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    token_hash TEXT    NOT NULL UNIQUE,
    prefix     TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER
);
CREATE INDEX webhooks_by_creator ON webhooks (created_by);
