//! The HTTP API's tokens, bots and incoming webhooks in SQLite (the
//! PostgreSQL store's `integrations.rs` is the same in its dialect).

use futures::future::BoxFuture;
use futures::FutureExt;

use super::SqliteStore;
use crate::api::store::{
    BotRecord, BotRefusal, IntegrationStore, Scopes, TokenRecord, WebhookRecord, MAX_BOTS_PER_ACCOUNT,
    MAX_TOKENS_PER_ACCOUNT, MAX_WEBHOOKS_PER_ACCOUNT,
};
use crate::store::rows::{BotRow, TokenAccountRow, TokenRow, WebhookRow};
use crate::store::{Account, AccountId, Result};

const TOKEN_COLUMNS: &str =
    "t.id, t.account_id, t.name, t.prefix, t.can_read, t.can_post, t.created_at, t.last_used_at";
const WEBHOOK_COLUMNS: &str = "w.id, w.room, w.created_by, w.prefix, w.created_at, w.last_used_at,
     b.id AS bot_id, b.username AS bot_username, b.display_name AS bot_display_name";

impl IntegrationStore for SqliteStore {
    fn create_token<'a>(
        &'a self,
        account: AccountId,
        name: &'a str,
        (hash, prefix): (&'a str, &'a str),
        scopes: Scopes,
        now: i64,
    ) -> BoxFuture<'a, Result<Option<TokenRecord>>> {
        async move {
            let id: Option<i64> = sqlx::query_scalar(
                "INSERT INTO api_tokens (account_id, name, token_hash, prefix, can_read, can_post, created_at)
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7
                 WHERE (SELECT count(*) FROM api_tokens WHERE account_id = ?1) < ?8
                 RETURNING id",
            )
            .bind(account.0)
            .bind(name)
            .bind(hash)
            .bind(prefix)
            .bind(scopes.read as i64)
            .bind(scopes.post as i64)
            .bind(now)
            .bind(MAX_TOKENS_PER_ACCOUNT)
            .fetch_optional(self.writer())
            .await?;
            Ok(id.map(|id| TokenRecord {
                id,
                account,
                name: name.to_owned(),
                prefix: prefix.to_owned(),
                scopes,
                created_at: now,
                last_used_at: None,
            }))
        }
        .boxed()
    }

    fn tokens(&self, account: AccountId) -> BoxFuture<'_, Result<Vec<TokenRecord>>> {
        async move {
            let rows: Vec<TokenRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {TOKEN_COLUMNS} FROM api_tokens t WHERE t.account_id = ?1 ORDER BY t.id DESC"
            )))
            .bind(account.0)
            .fetch_all(self.readers())
            .await?;
            Ok(rows.into_iter().map(TokenRecord::from).collect())
        }
        .boxed()
    }

    fn revoke_token(&self, account: AccountId, id: i64) -> BoxFuture<'_, Result<bool>> {
        async move {
            let done = sqlx::query("DELETE FROM api_tokens WHERE id = ?1 AND account_id = ?2")
                .bind(id)
                .bind(account.0)
                .execute(self.writer())
                .await?;
            Ok(done.rows_affected() > 0)
        }
        .boxed()
    }

    fn token<'a>(&'a self, hash: &'a str) -> BoxFuture<'a, Result<Option<(TokenRecord, Account)>>> {
        async move {
            let row: Option<TokenAccountRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {TOKEN_COLUMNS}, a.username, a.display_name FROM api_tokens t
                 JOIN accounts a ON a.id = t.account_id
                 WHERE t.token_hash = ?1 AND a.deactivated_at IS NULL"
            )))
            .bind(hash)
            .fetch_optional(self.readers())
            .await?;
            Ok(row.map(TokenAccountRow::into_records))
        }
        .boxed()
    }

    fn touch(&self, id: i64, webhook: bool, now: i64) -> BoxFuture<'_, Result<()>> {
        async move {
            let sql = if webhook {
                "UPDATE webhooks SET last_used_at = ?2 WHERE id = ?1"
            } else {
                "UPDATE api_tokens SET last_used_at = ?2 WHERE id = ?1"
            };
            sqlx::query(sql).bind(id).bind(now).execute(self.writer()).await?;
            Ok(())
        }
        .boxed()
    }

    fn bot<'a>(
        &'a self,
        owner: AccountId,
        username: &'a str,
        display_name: &'a str,
        password_hash: &'a str,
        now: i64,
    ) -> BoxFuture<'a, Result<std::result::Result<Account, BotRefusal>>> {
        async move {
            let mut tx = self.writer().begin().await?;
            let existing: Option<(i64, String, Option<i64>)> =
                sqlx::query_as("SELECT id, display_name, bot_owner_id FROM accounts WHERE username = ?1")
                    .bind(username)
                    .fetch_optional(&mut *tx)
                    .await?;
            let account = match existing {
                Some((id, display_name, Some(bot_owner))) if bot_owner == owner.0 => {
                    // One the owner deleted comes back.
                    sqlx::query("UPDATE accounts SET deactivated_at = NULL WHERE id = ?1")
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    Ok(Account { id: AccountId(id), username: username.to_owned(), display_name })
                }
                Some(_) => Err(BotRefusal::Taken),
                None => {
                    let owned: i64 = sqlx::query_scalar("SELECT count(*) FROM accounts WHERE bot_owner_id = ?1")
                        .bind(owner.0)
                        .fetch_one(&mut *tx)
                        .await?;
                    if owned >= MAX_BOTS_PER_ACCOUNT {
                        Err(BotRefusal::TooMany)
                    } else {
                        // A person or bot of that name made meanwhile: taken.
                        let id: Option<i64> = sqlx::query_scalar(
                            "INSERT INTO accounts (username, display_name, password_hash, created_at, bot_owner_id)
                             VALUES (?1, ?2, ?3, ?4, ?5)
                             ON CONFLICT (username) DO NOTHING RETURNING id",
                        )
                        .bind(username)
                        .bind(display_name)
                        .bind(password_hash)
                        .bind(now)
                        .bind(owner.0)
                        .fetch_optional(&mut *tx)
                        .await?;
                        id.map(|id| Account {
                            id: AccountId(id),
                            username: username.to_owned(),
                            display_name: display_name.to_owned(),
                        })
                        .ok_or(BotRefusal::Taken)
                    }
                }
            };
            tx.commit().await?;
            Ok(account)
        }
        .boxed()
    }

    fn bots(&self, owner: AccountId) -> BoxFuture<'_, Result<Vec<BotRecord>>> {
        async move {
            let rows: Vec<BotRow> = sqlx::query_as(
                "SELECT id, username, display_name, bot_owner_id, bot_url, bot_secret FROM accounts
                 WHERE bot_owner_id = ?1 AND deactivated_at IS NULL ORDER BY username",
            )
            .bind(owner.0)
            .fetch_all(self.readers())
            .await?;
            Ok(rows.into_iter().map(BotRecord::from).collect())
        }
        .boxed()
    }

    fn set_bot_url<'a>(
        &'a self,
        owner: AccountId,
        bot: AccountId,
        (url, secret): (Option<&'a str>, &'a str),
    ) -> BoxFuture<'a, Result<bool>> {
        async move {
            let done = sqlx::query(
                "UPDATE accounts SET bot_url = ?3, bot_secret = coalesce(bot_secret, ?4)
                 WHERE id = ?2 AND bot_owner_id = ?1",
            )
            .bind(owner.0)
            .bind(bot.0)
            .bind(url)
            .bind(secret)
            .execute(self.writer())
            .await?;
            Ok(done.rows_affected() > 0)
        }
        .boxed()
    }

    fn delete_bot<'a>(&'a self, owner: AccountId, username: &'a str, now: i64) -> BoxFuture<'a, Result<bool>> {
        async move {
            let mut tx = self.writer().begin().await?;
            let bot: Option<i64> = sqlx::query_scalar(
                "UPDATE accounts SET deactivated_at = ?3, bot_url = NULL, bot_secret = NULL
                 WHERE username = ?2 AND bot_owner_id = ?1 AND deactivated_at IS NULL RETURNING id",
            )
            .bind(owner.0)
            .bind(username)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(bot) = bot {
                sqlx::query("DELETE FROM webhooks WHERE bot_id = ?1").bind(bot).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(bot.is_some())
        }
        .boxed()
    }

    fn rotate_bot_secret<'a>(
        &'a self,
        owner: AccountId,
        username: &'a str,
        secret: &'a str,
    ) -> BoxFuture<'a, Result<bool>> {
        async move {
            let done = sqlx::query(
                "UPDATE accounts SET bot_secret = ?3
                 WHERE username = ?2 AND bot_owner_id = ?1 AND deactivated_at IS NULL",
            )
            .bind(owner.0)
            .bind(username)
            .bind(secret)
            .execute(self.writer())
            .await?;
            Ok(done.rows_affected() > 0)
        }
        .boxed()
    }

    fn bots_named<'a>(&'a self, usernames: &'a [String]) -> BoxFuture<'a, Result<Vec<BotRecord>>> {
        async move {
            if usernames.is_empty() {
                return Ok(Vec::new());
            }
            let rows: Vec<BotRow> = sqlx::query_as(
                "SELECT id, username, display_name, bot_owner_id, bot_url, bot_secret FROM accounts
                 WHERE username IN (SELECT value FROM json_each(?1))
                   AND bot_owner_id IS NOT NULL AND bot_url IS NOT NULL AND deactivated_at IS NULL
                   AND NOT EXISTS (SELECT 1 FROM accounts o WHERE o.id = accounts.bot_owner_id AND o.deactivated_at IS NOT NULL)",
            )
            .bind(serde_json::to_string(usernames).unwrap_or_default())
            .fetch_all(self.readers())
            .await?;
            Ok(rows.into_iter().map(BotRecord::from).collect())
        }
        .boxed()
    }

    fn bot_by_id(&self, bot: AccountId) -> BoxFuture<'_, Result<Option<BotRecord>>> {
        async move {
            let row: Option<BotRow> = sqlx::query_as(
                "SELECT id, username, display_name, bot_owner_id, bot_url, bot_secret FROM accounts
                 WHERE id = ?1 AND bot_owner_id IS NOT NULL AND deactivated_at IS NULL
                   AND NOT EXISTS (SELECT 1 FROM accounts o WHERE o.id = accounts.bot_owner_id AND o.deactivated_at IS NOT NULL)",
            )
            .bind(bot.0)
            .fetch_optional(self.readers())
            .await?;
            Ok(row.map(BotRecord::from))
        }
        .boxed()
    }

    fn create_webhook<'a>(
        &'a self,
        room: &'a str,
        bot: &'a Account,
        created_by: AccountId,
        (hash, prefix): (&'a str, &'a str),
        now: i64,
    ) -> BoxFuture<'a, Result<Option<WebhookRecord>>> {
        async move {
            let id: Option<i64> = sqlx::query_scalar(
                "INSERT INTO webhooks (room, bot_id, created_by, token_hash, prefix, created_at)
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6
                 WHERE (SELECT count(*) FROM webhooks WHERE created_by = ?3) < ?7
                 RETURNING id",
            )
            .bind(room)
            .bind(bot.id.0)
            .bind(created_by.0)
            .bind(hash)
            .bind(prefix)
            .bind(now)
            .bind(MAX_WEBHOOKS_PER_ACCOUNT)
            .fetch_optional(self.writer())
            .await?;
            Ok(id.map(|id| WebhookRecord {
                id,
                room: room.to_owned(),
                bot: bot.clone(),
                created_by,
                prefix: prefix.to_owned(),
                created_at: now,
                last_used_at: None,
            }))
        }
        .boxed()
    }

    fn webhooks(&self, created_by: AccountId) -> BoxFuture<'_, Result<Vec<WebhookRecord>>> {
        async move {
            let rows: Vec<WebhookRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {WEBHOOK_COLUMNS} FROM webhooks w JOIN accounts b ON b.id = w.bot_id
                 WHERE w.created_by = ?1 ORDER BY w.id DESC"
            )))
            .bind(created_by.0)
            .fetch_all(self.readers())
            .await?;
            Ok(rows.into_iter().map(WebhookRecord::from).collect())
        }
        .boxed()
    }

    fn delete_webhook(&self, created_by: AccountId, id: i64) -> BoxFuture<'_, Result<bool>> {
        async move {
            let done = sqlx::query("DELETE FROM webhooks WHERE id = ?1 AND created_by = ?2")
                .bind(id)
                .bind(created_by.0)
                .execute(self.writer())
                .await?;
            Ok(done.rows_affected() > 0)
        }
        .boxed()
    }

    fn webhook<'a>(&'a self, hash: &'a str) -> BoxFuture<'a, Result<Option<WebhookRecord>>> {
        async move {
            let row: Option<WebhookRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {WEBHOOK_COLUMNS} FROM webhooks w
                 JOIN accounts b ON b.id = w.bot_id
                 JOIN accounts m ON m.id = w.created_by
                 WHERE w.token_hash = ?1 AND b.deactivated_at IS NULL AND m.deactivated_at IS NULL"
            )))
            .bind(hash)
            .fetch_optional(self.readers())
            .await?;
            Ok(row.map(WebhookRecord::from))
        }
        .boxed()
    }
}
