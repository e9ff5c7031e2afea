//! Edits and deletes, by the one writer (they take seqs of the room's
//! sequence, as messages do): each in one transaction that checks the asker is
//! the author, changes the message in place, takes the room's next seq and
//! records the change under it.

use std::sync::PoisonError;

use app::error::ChatError;
use app::protocol::Seq;

use super::writer::SqliteWriter;
use super::MessageRow;
use crate::store::{ChangeKind, Changed, NewChange, Result};

impl SqliteWriter {
    pub(super) async fn apply_change(&mut self, change: NewChange) -> Result<std::result::Result<Changed, ChatError>> {
        let mut tx = self.pool.begin().await?;
        let target: Option<(i64, Option<i64>, Option<i64>)> = sqlx::query_as(
            "SELECT r.id, m.author_id, m.deleted_at
               FROM rooms r JOIN messages m ON m.room_id = r.id
              WHERE r.name = ?1 AND m.seq = ?2",
        )
        .bind(change.room.as_str())
        .bind(change.target.0 as i64)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((room_id, author_id, deleted_at)) = target else {
            return Ok(Err(ChatError::NoSuchMessage { seq: change.target.0 }));
        };
        if author_id != Some(change.author_id.0) {
            return Ok(Err(ChatError::NotYourMessage));
        }
        if deleted_at.is_some() {
            return Ok(Err(ChatError::MessageDeleted));
        }
        // The mentions it made count no more; an edit counts its own below.
        sqlx::query("DELETE FROM mentions WHERE room_id = ?1 AND seq = ?2")
            .bind(room_id)
            .bind(change.target.0 as i64)
            .execute(&mut *tx)
            .await?;
        match change.kind {
            ChangeKind::Edit { body, mentioned } => {
                // The names that are accounts: the message shows, and their lists
                // count, the mentions it has now (nobody is notified again).
                let names = serde_json::to_string(&mentioned).expect("strings always serialise");
                let mentions: Option<String> = sqlx::query_scalar(
                    "SELECT json_group_array(a.username)
                       FROM json_each(?1) AS k JOIN accounts a ON a.username = k.value
                     HAVING count(*) > 0",
                )
                .bind(names)
                .fetch_optional(&mut *tx)
                .await?;
                sqlx::query(
                    "UPDATE messages SET body = ?1, mentions = ?2, edited_at = ?3 WHERE room_id = ?4 AND seq = ?5",
                )
                .bind(body)
                .bind(&mentions)
                .bind(change.at.0)
                .bind(room_id)
                .bind(change.target.0 as i64)
                .execute(&mut *tx)
                .await?;
                // Whom it mentions now counts in their lists (not the author).
                sqlx::query(
                    "INSERT OR IGNORE INTO mentions (account_id, room_id, seq)
                     SELECT a.id, ?1, ?2 FROM json_each(?3) AS k JOIN accounts a ON a.username = k.value
                      WHERE a.id != ?4",
                )
                .bind(room_id)
                .bind(change.target.0 as i64)
                .bind(mentions.unwrap_or_else(|| "[]".to_owned()))
                .bind(change.author_id.0)
                .execute(&mut *tx)
                .await?;
            }
            ChangeKind::Delete => {
                // The body is gone from the database, not only hidden.
                sqlx::query(
                    "UPDATE messages SET body = '', mentions = NULL, deleted_at = ?1 WHERE room_id = ?2 AND seq = ?3",
                )
                .bind(change.at.0)
                .bind(room_id)
                .bind(change.target.0 as i64)
                .execute(&mut *tx)
                .await?;
            }
        }
        let seq: i64 = sqlx::query_scalar("UPDATE rooms SET last_seq = last_seq + 1 WHERE id = ?1 RETURNING last_seq")
            .bind(room_id)
            .fetch_one(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO changes (room_id, seq, target_seq) VALUES (?1, ?2, ?3)")
            .bind(room_id)
            .bind(seq)
            .bind(change.target.0 as i64)
            .execute(&mut *tx)
            .await?;
        let row: MessageRow = sqlx::query_as(
            "SELECT seq, author, username, body, created_at, client_id, mentions, edited_at, deleted_at
               FROM messages WHERE room_id = ?1 AND seq = ?2",
        )
        .bind(room_id)
        .bind(change.target.0 as i64)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        // The batches of messages take their seqs from this figure.
        self.rooms.lock().unwrap_or_else(PoisonError::into_inner).insert(change.room, (room_id, seq));
        Ok(Ok(Changed { seq: Seq(seq as u64), message: row.into() }))
    }
}
