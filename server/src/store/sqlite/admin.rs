//! The administrators' page's reads and writes in SQLite (the PostgreSQL
//! store's `admin.rs` is the same in its dialect).

use futures::future::BoxFuture;
use futures::FutureExt;

use app::admin::{AccountSummary, RoomSummary, SiteLogEntry};
use app::protocol::Seq;
use app::room_name::RoomName;

use super::SqliteStore;
use crate::admin::store::{account_summary, room_summary, site_log_entry, AccountRow, AdminStore, RoomRow, SiteLogRow};
use crate::store::{AccountId, Result};

impl AdminStore for SqliteStore {
    fn rooms_summary(&self, limit: u32) -> BoxFuture<'_, Result<Vec<RoomSummary>>> {
        async move {
            let rows: Vec<RoomRow> = sqlx::query_as(
                "SELECT r.name, o.username, r.created_at, r.last_at,
                        (SELECT count(*) FROM memberships m WHERE m.room_id = r.id),
                        (SELECT count(*) FROM messages g WHERE g.room_id = r.id AND g.deleted_at IS NULL)
                   FROM rooms r LEFT JOIN accounts o ON o.id = r.owner_id
                  WHERE r.name NOT LIKE '@%'
                  ORDER BY coalesce(r.last_at, r.created_at) DESC, r.id DESC LIMIT ?1",
            )
            .bind(i64::from(limit))
            .fetch_all(self.readers())
            .await?;
            Ok(rows.into_iter().map(room_summary).collect())
        }
        .boxed()
    }

    fn direct_rooms(&self) -> BoxFuture<'_, Result<u64>> {
        async move {
            let n: i64 =
                sqlx::query_scalar("SELECT count(*) FROM rooms WHERE name LIKE '@%'").fetch_one(self.readers()).await?;
            Ok(n as u64)
        }
        .boxed()
    }

    fn accounts_summary(&self, limit: u32) -> BoxFuture<'_, Result<Vec<AccountSummary>>> {
        async move {
            let rows: Vec<AccountRow> = sqlx::query_as(
                "SELECT a.username, a.display_name, a.created_at, a.last_seen_at,
                        a.deactivated_at IS NOT NULL, b.username
                   FROM accounts a LEFT JOIN accounts b ON b.id = a.bot_owner_id
                  ORDER BY coalesce(a.last_seen_at, a.created_at) DESC, a.id DESC LIMIT ?1",
            )
            .bind(i64::from(limit))
            .fetch_all(self.readers())
            .await?;
            Ok(rows.into_iter().map(account_summary).collect())
        }
        .boxed()
    }

    fn seen(&self, marks: Vec<(AccountId, i64)>) -> BoxFuture<'_, Result<()>> {
        async move {
            let mut tx = self.writer().begin().await?;
            for (account, at) in marks {
                sqlx::query("UPDATE accounts SET last_seen_at = max(coalesce(last_seen_at, 0), ?2) WHERE id = ?1")
                    .bind(account.0)
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(())
        }
        .boxed()
    }

    fn site_log(&self, limit: u32) -> BoxFuture<'_, Result<Vec<SiteLogEntry>>> {
        async move {
            let rows: Vec<SiteLogRow> = sqlx::query_as(
                "SELECT r.name, l.at, a.username, l.action, t.username, l.target_seq, l.until, l.seconds
                   FROM moderation_log l JOIN rooms r ON r.id = l.room_id
                   LEFT JOIN accounts a ON a.id = l.actor_id
                   LEFT JOIN accounts t ON t.id = l.target_id
                  ORDER BY l.id DESC LIMIT ?1",
            )
            .bind(i64::from(limit))
            .fetch_all(self.readers())
            .await?;
            Ok(rows.into_iter().map(site_log_entry).collect())
        }
        .boxed()
    }

    fn live_messages<'a>(&'a self, room: &'a RoomName) -> BoxFuture<'a, Result<Vec<(Seq, AccountId)>>> {
        async move {
            let rows: Vec<(i64, i64)> = sqlx::query_as(
                "SELECT m.seq, m.author_id FROM rooms r JOIN messages m ON m.room_id = r.id
                  WHERE r.name = ?1 AND m.deleted_at IS NULL AND m.author_id IS NOT NULL ORDER BY m.seq",
            )
            .bind(room.as_str())
            .fetch_all(self.readers())
            .await?;
            Ok(rows.into_iter().map(|(seq, author)| (Seq(seq as u64), AccountId(author))).collect())
        }
        .boxed()
    }

    fn members<'a>(&'a self, room: &'a RoomName) -> BoxFuture<'a, Result<Vec<AccountId>>> {
        async move {
            let rows: Vec<i64> = sqlx::query_scalar(
                "SELECT m.account_id FROM rooms r JOIN memberships m ON m.room_id = r.id WHERE r.name = ?1",
            )
            .bind(room.as_str())
            .fetch_all(self.readers())
            .await?;
            Ok(rows.into_iter().map(AccountId).collect())
        }
        .boxed()
    }

    fn log_room_deleted<'a>(&'a self, room: &'a RoomName, actor: AccountId, now: i64) -> BoxFuture<'a, Result<bool>> {
        async move {
            let mut tx = self.writer().begin().await?;
            let done = sqlx::query(
                "INSERT INTO moderation_log (room_id, actor_id, action, at)
                 SELECT id, ?2, 'delete_room', ?3 FROM rooms WHERE name = ?1",
            )
            .bind(room.as_str())
            .bind(actor.0)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            // Its webhooks go with it: none refills it.
            sqlx::query("DELETE FROM webhooks WHERE room = ?1").bind(room.as_str()).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(done.rows_affected() > 0)
        }
        .boxed()
    }
}
