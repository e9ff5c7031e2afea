//! Accounts and sessions in PostgreSQL, as SQLite's (`store/accounts.rs`).

use futures::future::BoxFuture;
use futures::FutureExt;

use app::protocol::Seq;
use app::room_name::RoomName;

use super::PgStore;
use crate::store::accounts::{AccountRow, CredentialsRow, SessionRow};
use crate::store::{Account, AccountId, AccountStore, Credentials, Result, SessionRecord};

impl AccountStore for PgStore {
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
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (username) DO NOTHING
                 RETURNING id",
            )
            .bind(username)
            .bind(display_name)
            .bind(password_hash)
            .bind(now)
            .fetch_optional(self.pool())
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
                sqlx::query_as("SELECT id, username, display_name FROM accounts WHERE username = $1")
                    .bind(username)
                    .fetch_optional(self.pool())
                    .await?;
            Ok(row.map(Account::from))
        }
        .boxed()
    }

    fn account_by_id(&self, id: AccountId) -> BoxFuture<'_, Result<Option<Account>>> {
        async move {
            let row: Option<AccountRow> =
                sqlx::query_as("SELECT id, username, display_name FROM accounts WHERE id = $1")
                    .bind(id.0)
                    .fetch_optional(self.pool())
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
                      WHERE username = $1 AND deactivated_at IS NULL",
                )
                    .bind(username)
                    .fetch_optional(self.pool())
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
                "INSERT INTO sessions (token_hash, account_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(token_hash)
            .bind(account.0)
            .bind(now)
            .bind(expires_at)
            .execute(self.pool())
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
                  WHERE s.token_hash = $1 AND s.expires_at > $2",
            )
            .bind(token_hash)
            .bind(now)
            .fetch_optional(self.pool())
            .await?;
            Ok(row.map(|row| SessionRecord { account: row.account.into(), expires_at: row.expires_at }))
        }
        .boxed()
    }

    fn delete_session<'a>(&'a self, token_hash: &'a str) -> BoxFuture<'a, Result<()>> {
        async move {
            sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(token_hash).execute(self.pool()).await?;
            Ok(())
        }
        .boxed()
    }

    fn deactivate(&self, account: AccountId, now: i64) -> BoxFuture<'_, Result<Vec<String>>> {
        async move {
            let mut tx = self.pool().begin().await?;
            sqlx::query("UPDATE accounts SET deactivated_at = coalesce(deactivated_at, $1) WHERE id = $2")
                .bind(now)
                .bind(account.0)
                .execute(&mut *tx)
                .await?;
            let ended: Vec<String> =
                sqlx::query_scalar("DELETE FROM sessions WHERE account_id = $1 RETURNING token_hash")
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
            let id: Option<i64> = sqlx::query_scalar("SELECT min(id) FROM accounts").fetch_one(self.pool()).await?;
            Ok(id.map(AccountId))
        }
        .boxed()
    }

    fn expired_messages(&self, before: i64, limit: u32) -> BoxFuture<'_, Result<Vec<(RoomName, Seq, AccountId)>>> {
        async move {
            let rows: Vec<(String, i64, i64)> = sqlx::query_as(
                "SELECT r.name, m.seq, m.author_id FROM messages m JOIN rooms r ON r.id = m.room_id
                  WHERE m.created_at < $1 AND m.deleted_at IS NULL AND m.author_id IS NOT NULL LIMIT $2",
            )
            .bind(before)
            .bind(i64::from(limit))
            .fetch_all(self.pool())
            .await?;
            Ok(crate::store::accounts::expired_rows(rows))
        }
        .boxed()
    }

    fn messages_by(&self, account: AccountId) -> BoxFuture<'_, Result<Vec<(RoomName, Seq)>>> {
        async move {
            let rows: Vec<(String, i64)> = sqlx::query_as(
                "SELECT r.name, m.seq FROM messages m JOIN rooms r ON r.id = m.room_id
                  WHERE m.author_id = $1 AND m.deleted_at IS NULL ORDER BY m.room_id, m.seq",
            )
            .bind(account.0)
            .fetch_all(self.pool())
            .await?;
            Ok(rows
                .into_iter()
                .filter_map(|(room, seq)| Some((RoomName::parse_key(&room).ok()?, Seq(seq as u64))))
                .collect())
        }
        .boxed()
    }

    fn delete_expired_sessions(&self, now: i64) -> BoxFuture<'_, Result<u64>> {
        async move {
            let done =
                sqlx::query("DELETE FROM sessions WHERE expires_at <= $1").bind(now).execute(self.pool()).await?;
            Ok(done.rows_affected())
        }
        .boxed()
    }
}
