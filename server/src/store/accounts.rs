//! Accounts and sessions, kept in the same database as the messages.

use futures::future::BoxFuture;
use futures::FutureExt;

use app::protocol::Seq;
use app::room_name::RoomName;

use super::{Result, SqliteStore};

/// An account's row id; what a message's author is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId(pub i64);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: AccountId,
    pub username: String,
    pub display_name: String,
}

/// An account with what signing in checks.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub account: Account,
    pub password_hash: String,
}

/// A live session: whose it is and until when (ms since the epoch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub account: Account,
    pub expires_at: i64,
}

/// An account's columns, read by name.
#[derive(sqlx::FromRow)]
pub(super) struct AccountRow {
    id: i64,
    username: String,
    display_name: String,
}

impl From<AccountRow> for Account {
    fn from(row: AccountRow) -> Self {
        Account { id: AccountId(row.id), username: row.username, display_name: row.display_name }
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct CredentialsRow {
    #[sqlx(flatten)]
    pub(super) account: AccountRow,
    pub(super) password_hash: String,
}

#[derive(sqlx::FromRow)]
pub(super) struct SessionRow {
    #[sqlx(flatten)]
    pub(super) account: AccountRow,
    pub(super) expires_at: i64,
}

pub trait AccountStore: Send + Sync + 'static {
    /// Creates the account; `None` when the username is taken.
    fn create_account<'a>(
        &'a self,
        username: &'a str,
        display_name: &'a str,
        password_hash: &'a str,
        now: i64,
    ) -> BoxFuture<'a, Result<Option<Account>>>;

    fn credentials<'a>(&'a self, username: &'a str) -> BoxFuture<'a, Result<Option<Credentials>>>;

    /// The account with this username, if there is one.
    fn account_named<'a>(&'a self, username: &'a str) -> BoxFuture<'a, Result<Option<Account>>>;

    fn account_by_id(&self, id: AccountId) -> BoxFuture<'_, Result<Option<Account>>>;

    /// Stores a session under the hash of its token.
    fn create_session<'a>(
        &'a self,
        token_hash: &'a str,
        account: AccountId,
        now: i64,
        expires_at: i64,
    ) -> BoxFuture<'a, Result<()>>;

    /// The session, if it exists and has not expired at `now`.
    fn session<'a>(&'a self, token_hash: &'a str, now: i64) -> BoxFuture<'a, Result<Option<SessionRecord>>>;

    fn delete_session<'a>(&'a self, token_hash: &'a str) -> BoxFuture<'a, Result<()>>;

    /// Removes every session expired at `now`; returns how many.
    fn delete_expired_sessions(&self, now: i64) -> BoxFuture<'_, Result<u64>>;

    /// Deactivates the account at `now`: it can no longer sign in, and its
    /// sessions are deleted; returns their token hashes (to end their sockets).
    fn deactivate(&self, account: AccountId, now: i64) -> BoxFuture<'_, Result<Vec<String>>>;

    /// The first account made (a site administrator).
    fn first_account(&self) -> BoxFuture<'_, Result<Option<AccountId>>>;

    /// The account's messages not deleted, by room and seq.
    fn messages_by(&self, account: AccountId) -> BoxFuture<'_, Result<Vec<(RoomName, Seq)>>>;

    /// Up to `limit` messages sent before `before` (ms) and not deleted, with
    /// their authors (the retention's next batch; messages without an author
    /// are not among them).
    fn expired_messages(&self, before: i64, limit: u32) -> BoxFuture<'_, Result<Vec<(RoomName, Seq, AccountId)>>>;
}

impl AccountStore for SqliteStore {
    fn create_account<'a>(
        &'a self,
        username: &'a str,
        display_name: &'a str,
        password_hash: &'a str,
        now: i64,
    ) -> BoxFuture<'a, Result<Option<Account>>> {
        async move {
            let id: Option<i64> = sqlx::query_scalar(
                "INSERT INTO accounts (username, display_name, password_hash, created_at)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (username) DO NOTHING
                 RETURNING id",
            )
            .bind(username)
            .bind(display_name)
            .bind(password_hash)
            .bind(now)
            .fetch_optional(self.writer())
            .await?;
            Ok(id.map(|id| Account {
                id: AccountId(id),
                username: username.to_owned(),
                display_name: display_name.to_owned(),
            }))
        }
        .boxed()
    }

    fn account_named<'a>(&'a self, username: &'a str) -> BoxFuture<'a, Result<Option<Account>>> {
        async move {
            let row: Option<AccountRow> =
                sqlx::query_as("SELECT id, username, display_name FROM accounts WHERE username = ?1")
                    .bind(username)
                    .fetch_optional(self.readers())
                    .await?;
            Ok(row.map(Account::from))
        }
        .boxed()
    }

    fn account_by_id(&self, id: AccountId) -> BoxFuture<'_, Result<Option<Account>>> {
        async move {
            let row: Option<AccountRow> =
                sqlx::query_as("SELECT id, username, display_name FROM accounts WHERE id = ?1")
                    .bind(id.0)
                    .fetch_optional(self.readers())
                    .await?;
            Ok(row.map(Account::from))
        }
        .boxed()
    }

    fn credentials<'a>(&'a self, username: &'a str) -> BoxFuture<'a, Result<Option<Credentials>>> {
        async move {
            let row: Option<CredentialsRow> =
                // A deactivated account has no credentials: it cannot sign in.
                sqlx::query_as(
                    "SELECT id, username, display_name, password_hash FROM accounts
                      WHERE username = ?1 AND deactivated_at IS NULL",
                )
                    .bind(username)
                    .fetch_optional(self.readers())
                    .await?;
            Ok(row.map(|row| Credentials { account: row.account.into(), password_hash: row.password_hash }))
        }
        .boxed()
    }

    fn create_session<'a>(
        &'a self,
        token_hash: &'a str,
        account: AccountId,
        now: i64,
        expires_at: i64,
    ) -> BoxFuture<'a, Result<()>> {
        async move {
            sqlx::query(
                "INSERT INTO sessions (token_hash, account_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
            )
            .bind(token_hash)
            .bind(account.0)
            .bind(now)
            .bind(expires_at)
            .execute(self.writer())
            .await?;
            Ok(())
        }
        .boxed()
    }

    fn session<'a>(&'a self, token_hash: &'a str, now: i64) -> BoxFuture<'a, Result<Option<SessionRecord>>> {
        async move {
            let row: Option<SessionRow> = sqlx::query_as(
                "SELECT a.id, a.username, a.display_name, s.expires_at
                   FROM sessions s JOIN accounts a ON a.id = s.account_id
                  WHERE s.token_hash = ?1 AND s.expires_at > ?2",
            )
            .bind(token_hash)
            .bind(now)
            .fetch_optional(self.readers())
            .await?;
            Ok(row.map(|row| SessionRecord { account: row.account.into(), expires_at: row.expires_at }))
        }
        .boxed()
    }

    fn delete_session<'a>(&'a self, token_hash: &'a str) -> BoxFuture<'a, Result<()>> {
        async move {
            sqlx::query("DELETE FROM sessions WHERE token_hash = ?1").bind(token_hash).execute(self.writer()).await?;
            Ok(())
        }
        .boxed()
    }

    fn deactivate(&self, account: AccountId, now: i64) -> BoxFuture<'_, Result<Vec<String>>> {
        async move {
            let mut tx = self.writer().begin().await?;
            sqlx::query("UPDATE accounts SET deactivated_at = coalesce(deactivated_at, ?1) WHERE id = ?2")
                .bind(now)
                .bind(account.0)
                .execute(&mut *tx)
                .await?;
            let ended: Vec<String> =
                sqlx::query_scalar("DELETE FROM sessions WHERE account_id = ?1 RETURNING token_hash")
                    .bind(account.0)
                    .fetch_all(&mut *tx)
                    .await?;
            tx.commit().await?;
            Ok(ended)
        }
        .boxed()
    }

    fn first_account(&self) -> BoxFuture<'_, Result<Option<AccountId>>> {
        async move {
            let id: Option<i64> = sqlx::query_scalar("SELECT min(id) FROM accounts").fetch_one(self.readers()).await?;
            Ok(id.map(AccountId))
        }
        .boxed()
    }

    fn messages_by(&self, account: AccountId) -> BoxFuture<'_, Result<Vec<(RoomName, Seq)>>> {
        async move {
            let rows: Vec<(String, i64)> = sqlx::query_as(
                "SELECT r.name, m.seq FROM messages m JOIN rooms r ON r.id = m.room_id
                  WHERE m.author_id = ?1 AND m.deleted_at IS NULL ORDER BY m.room_id, m.seq",
            )
            .bind(account.0)
            .fetch_all(self.readers())
            .await?;
            Ok(rows
                .into_iter()
                .filter_map(|(room, seq)| Some((RoomName::parse_key(&room).ok()?, Seq(seq as u64))))
                .collect())
        }
        .boxed()
    }

    fn expired_messages(&self, before: i64, limit: u32) -> BoxFuture<'_, Result<Vec<(RoomName, Seq, AccountId)>>> {
        async move {
            let rows: Vec<(String, i64, i64)> = sqlx::query_as(
                "SELECT r.name, m.seq, m.author_id FROM messages m JOIN rooms r ON r.id = m.room_id
                  WHERE m.created_at < ?1 AND m.deleted_at IS NULL AND m.author_id IS NOT NULL LIMIT ?2",
            )
            .bind(before)
            .bind(i64::from(limit))
            .fetch_all(self.readers())
            .await?;
            Ok(expired_rows(rows))
        }
        .boxed()
    }

    fn delete_expired_sessions(&self, now: i64) -> BoxFuture<'_, Result<u64>> {
        async move {
            let done =
                sqlx::query("DELETE FROM sessions WHERE expires_at <= ?1").bind(now).execute(self.writer()).await?;
            Ok(done.rows_affected())
        }
        .boxed()
    }
}
/// Rows of (room, seq, author) as the retention's batch (rooms that do not parse skipped).
pub(crate) fn expired_rows(rows: Vec<(String, i64, i64)>) -> Vec<(RoomName, Seq, AccountId)> {
    rows.into_iter()
        .filter_map(|(room, seq, author)| Some((RoomName::parse_key(&room).ok()?, Seq(seq as u64), AccountId(author))))
        .collect()
}
