//! Accounts and sessions, kept in the same database as the messages.

use futures::future::BoxFuture;
use futures::FutureExt;

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
struct AccountRow {
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
struct CredentialsRow {
    #[sqlx(flatten)]
    account: AccountRow,
    password_hash: String,
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    #[sqlx(flatten)]
    account: AccountRow,
    expires_at: i64,
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
                sqlx::query_as("SELECT id, username, display_name, password_hash FROM accounts WHERE username = ?1")
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

    fn delete_expired_sessions(&self, now: i64) -> BoxFuture<'_, Result<u64>> {
        async move {
            let done =
                sqlx::query("DELETE FROM sessions WHERE expires_at <= ?1").bind(now).execute(self.writer()).await?;
            Ok(done.rows_affected())
        }
        .boxed()
    }
}
