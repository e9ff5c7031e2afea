//! Web Push in PostgreSQL (as `store/sqlite/push.rs`): the subscriptions, who of a room's members would be
//! pushed, and the server's kept keys.

use app::rooms::NotifyLevel;
use futures::future::BoxFuture;
use futures::FutureExt;

use super::PgStore;
use crate::push::deliver::Subscription;
use crate::push::{PushStore, Recipient, MAX_SUBSCRIPTIONS_PER_ACCOUNT};
use crate::store::{AccountId, Result};

#[derive(sqlx::FromRow)]
struct RecipientRow {
    account_id: i64,
    username: String,
    notify: String,
    id: i64,
    endpoint: String,
    p256dh: String,
    auth: String,
}

impl PushStore for PgStore {
    fn save_subscription<'a>(
        &'a self,
        account: AccountId,
        endpoint: &'a str,
        p256dh: &'a str,
        auth: &'a str,
        at: i64,
    ) -> BoxFuture<'a, Result<()>> {
        async move {
            let mut tx = self.pool().begin().await?;
            // The same browser subscribing again (or for another account) keeps one row.
            sqlx::query(
                "INSERT INTO push_subscriptions (account_id, endpoint, p256dh, auth, created_at)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (endpoint) DO UPDATE
                    SET account_id = excluded.account_id, p256dh = excluded.p256dh,
                        auth = excluded.auth, created_at = excluded.created_at",
            )
            .bind(account.0)
            .bind(endpoint)
            .bind(p256dh)
            .bind(auth)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            // An account's oldest browsers make way past the limit.
            sqlx::query(
                "DELETE FROM push_subscriptions WHERE account_id = $1 AND id NOT IN
                    (SELECT id FROM push_subscriptions WHERE account_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2)",
            )
            .bind(account.0)
            .bind(MAX_SUBSCRIPTIONS_PER_ACCOUNT as i64)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        }
        .boxed()
    }

    fn delete_subscription<'a>(&'a self, account: Option<AccountId>, endpoint: &'a str) -> BoxFuture<'a, Result<bool>> {
        async move {
            let done = sqlx::query(
                "DELETE FROM push_subscriptions WHERE endpoint = $1 AND ($2::bigint IS NULL OR account_id = $2)",
            )
            .bind(endpoint)
            .bind(account.map(|a| a.0))
            .execute(self.pool())
            .await?;
            Ok(done.rows_affected() > 0)
        }
        .boxed()
    }

    fn count_subscriptions(&self) -> BoxFuture<'_, Result<u64>> {
        async move {
            let count: i64 =
                sqlx::query_scalar("SELECT count(*) FROM push_subscriptions").fetch_one(self.pool()).await?;
            Ok(count as u64)
        }
        .boxed()
    }

    fn recipients<'a>(&'a self, room: &'a app::room_name::RoomName) -> BoxFuture<'a, Result<Vec<Recipient>>> {
        async move {
            let rows: Vec<RecipientRow> = sqlx::query_as(
                "SELECT m.account_id, a.username, m.notify, s.id, s.endpoint, s.p256dh, s.auth
                   FROM rooms r
                   JOIN memberships m ON m.room_id = r.id
                   JOIN push_subscriptions s ON s.account_id = m.account_id
                   JOIN accounts a ON a.id = m.account_id
                  WHERE r.name = $1 AND m.notify <> 'nothing'
                  ORDER BY m.account_id",
            )
            .bind(room.as_str())
            .fetch_all(self.pool())
            .await?;
            let mut recipients: Vec<Recipient> = Vec::new();
            for row in rows {
                let subscription =
                    Subscription { id: row.id, endpoint: row.endpoint, p256dh: row.p256dh, auth: row.auth };
                match recipients.last_mut() {
                    Some(last) if last.account.0 == row.account_id => last.subscriptions.push(subscription),
                    _ => recipients.push(Recipient {
                        account: AccountId(row.account_id),
                        username: row.username,
                        notify: NotifyLevel::parse(&row.notify).unwrap_or_default(),
                        subscriptions: vec![subscription],
                    }),
                }
            }
            Ok(recipients)
        }
        .boxed()
    }

    fn server_key<'a>(&'a self, name: &'a str, fresh: String) -> BoxFuture<'a, Result<String>> {
        async move {
            // The first start keeps `fresh`; every later one reads it back.
            sqlx::query("INSERT INTO server_keys (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
                .bind(name)
                .bind(fresh)
                .execute(self.pool())
                .await?;
            let kept: String = sqlx::query_scalar("SELECT value FROM server_keys WHERE name = $1")
                .bind(name)
                .fetch_one(self.pool())
                .await?;
            Ok(kept)
        }
        .boxed()
    }
}
