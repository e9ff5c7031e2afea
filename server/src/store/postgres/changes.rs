//! Edits, deletes and reactions (they take seqs of the room's sequence, as
//! messages do): each in one transaction that first locks the room's row (so a
//! change made through another process waits its turn, and a message's
//! reaction summary is read and written by one change at a time), checks the
//! asker may, changes the message in place, takes the room's next seq and
//! records the change under it. What each step means is SQLite's
//! (`store/sqlite/changes.rs`); here it is said in PostgreSQL.

use app::error::ChatError;
use app::protocol::{Reaction, Seq, MAX_REACTION_KINDS, REACTION_NAMES};
use sqlx::PgConnection;

use super::writer::PgWriter;
use super::{message_columns, reply_join};
use crate::store::rows::MessageRow;
use crate::store::{AccountId, ChangeKind, Changed, NewChange, Result};

impl PgWriter {
    pub(super) async fn apply_change(&mut self, change: NewChange) -> Result<std::result::Result<Changed, ChatError>> {
        let mut tx = self.store.pool().begin().await?;
        let room_id: Option<i64> = sqlx::query_scalar("SELECT id FROM rooms WHERE name = $1 FOR NO KEY UPDATE")
            .bind(change.room.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        let Some(room_id) = room_id else {
            return Ok(Err(ChatError::NoSuchMessage { seq: change.target.0 }));
        };
        let target: Option<(Option<i64>, Option<i64>, Option<String>)> =
            sqlx::query_as("SELECT author_id, deleted_at, reactions FROM messages WHERE room_id = $1 AND seq = $2")
                .bind(room_id)
                .bind(change.target.0 as i64)
                .fetch_optional(&mut *tx)
                .await?;
        let Some((author_id, deleted_at, reactions)) = target else {
            return Ok(Err(ChatError::NoSuchMessage { seq: change.target.0 }));
        };
        if deleted_at.is_some() {
            return Ok(Err(ChatError::MessageDeleted));
        }
        let at = (room_id, change.target.0 as i64);
        let mut dropped = Vec::new();
        if let ChangeKind::React { emoji, on, username } = &change.kind {
            let summary = reactions.and_then(|json| serde_json::from_str(&json).ok()).unwrap_or_default();
            match react(&mut tx, at, change.author_id, change.at.0, summary, emoji, *on, username).await? {
                Reacted::Refused(refusal) => return Ok(Err(refusal)),
                Reacted::Unchanged => {
                    let message = select_message(&mut tx, at).await?;
                    return Ok(Ok(Changed { seq: change.target, message }));
                }
                Reacted::Changed => {}
            }
        } else if author_id != Some(change.author_id.0) {
            // Anyone's message, for a moderator of the room: a delete, logged.
            let moderator = matches!(change.kind, ChangeKind::Delete)
                && super::moderation::moderates(&mut tx, room_id, change.author_id.0).await?;
            if !moderator {
                return Ok(Err(ChatError::NotYourMessage));
            }
            dropped = change_body(&mut tx, at, &change).await?;
            let entry = super::moderation::Entry {
                room_id,
                actor: change.author_id.0,
                action: "delete",
                target: author_id,
                seq: Some(change.target.0 as i64),
                ..Default::default()
            };
            super::moderation::log(&mut tx, entry, change.at).await?;
        } else {
            dropped = change_body(&mut tx, at, &change).await?;
        }
        let seq: i64 = sqlx::query_scalar("UPDATE rooms SET last_seq = last_seq + 1 WHERE id = $1 RETURNING last_seq")
            .bind(room_id)
            .fetch_one(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO changes (room_id, seq, target_seq) VALUES ($1, $2, $3)")
            .bind(room_id)
            .bind(seq)
            .bind(change.target.0 as i64)
            .execute(&mut *tx)
            .await?;
        let message = select_message(&mut tx, at).await?;
        tx.commit().await?;
        if !dropped.is_empty() {
            let blobs = self.store.blobs().clone();
            let _naming = blobs.naming().await;
            for hash in dropped {
                if !super::files::content_named(self.store.pool(), &hash).await? {
                    blobs.remove(&hash).await;
                }
            }
        }
        self.store.note_committed(&change.room, seq);
        Ok(Ok(Changed { seq: Seq(seq as u64), message }))
    }
}

/// An edit or a delete: the message changed in place, its mentions with it;
/// returns the contents a deleted message's file held (to remove once
/// committed, if no other upload holds them). What search matches follows
/// the body.
async fn change_body(tx: &mut PgConnection, (room_id, seq): (i64, i64), change: &NewChange) -> Result<Vec<String>> {
    sqlx::query("DELETE FROM mentions WHERE room_id = $1 AND seq = $2")
        .bind(room_id)
        .bind(seq)
        .execute(&mut *tx)
        .await?;
    match &change.kind {
        ChangeKind::Edit { body, mentioned } => {
            // The names that are accounts, in the order the body has them.
            let named: Vec<String> = sqlx::query_scalar(
                "SELECT a.username FROM unnest($1::text[]) WITH ORDINALITY AS k (name, i)
                   JOIN accounts a ON a.username = k.name ORDER BY k.i",
            )
            .bind(mentioned)
            .fetch_all(&mut *tx)
            .await?;
            let mentions =
                (!named.is_empty()).then(|| serde_json::to_string(&named).expect("strings always serialise"));
            sqlx::query(
                "UPDATE messages SET body = $1, mentions = $2, edited_at = $3,
                        search = to_tsvector('simple', chat_unaccent($6))
                  WHERE room_id = $4 AND seq = $5",
            )
            .bind(body.as_str())
            .bind(&mentions)
            .bind(change.at.0)
            .bind(room_id)
            .bind(seq)
            .bind(crate::search::text::indexed(body))
            .execute(&mut *tx)
            .await?;
            // Whom it mentions now counts in their lists (not the author).
            sqlx::query(
                "INSERT INTO mentions (account_id, room_id, seq)
                 SELECT a.id, $1, $2 FROM accounts a WHERE a.username = ANY($3) AND a.id <> $4
                 ON CONFLICT DO NOTHING",
            )
            .bind(room_id)
            .bind(seq)
            .bind(&named)
            .bind(change.author_id.0)
            .execute(&mut *tx)
            .await?;
        }
        ChangeKind::Delete => {
            // The body is gone from the database, not only hidden; its
            // reactions go with it.
            sqlx::query(
                "UPDATE messages SET body = '', mentions = NULL, reactions = NULL, file = NULL, search = NULL, deleted_at = $1
                  WHERE room_id = $2 AND seq = $3",
            )
            .bind(change.at.0)
            .bind(room_id)
            .bind(seq)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM reactions WHERE room_id = $1 AND seq = $2")
                .bind(room_id)
                .bind(seq)
                .execute(&mut *tx)
                .await?;
            // Its file too: the upload's record now, its content after the
            // commit (unless another upload holds the same).
            let dropped: Vec<(String, Option<String>)> = sqlx::query_as(
                "DELETE FROM uploads WHERE room = (SELECT name FROM rooms WHERE id = $1) AND seq = $2
                 RETURNING hash, thumb_hash",
            )
            .bind(room_id)
            .bind(seq)
            .fetch_all(&mut *tx)
            .await?;
            return Ok(dropped.into_iter().flat_map(|(hash, thumb)| std::iter::once(hash).chain(thumb)).collect());
        }
        // Stored by `react`.
        ChangeKind::React { .. } => {}
    }
    Ok(Vec::new())
}

/// What a reaction did.
enum Reacted {
    Changed,
    /// Given already (or, taken back, not there): nothing to store or tell.
    Unchanged,
    Refused(ChatError),
}

/// Adds or takes back one reaction, and keeps the message's summary in step
/// with it (changed, not recounted: a reaction costs the same however many
/// the message has).
#[allow(clippy::too_many_arguments)]
async fn react(
    tx: &mut PgConnection,
    (room_id, seq): (i64, i64),
    account: AccountId,
    now: i64,
    mut summary: Vec<Reaction>,
    emoji: &str,
    on: bool,
    username: &str,
) -> Result<Reacted> {
    let kind = summary.iter().position(|r| r.emoji == emoji);
    if on && kind.is_none() && summary.len() >= MAX_REACTION_KINDS {
        return Ok(Reacted::Refused(ChatError::TooManyReactions { max: MAX_REACTION_KINDS }));
    }
    let done = if on {
        sqlx::query(
            "INSERT INTO reactions (room_id, seq, emoji, account_id, at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT DO NOTHING",
        )
        .bind(room_id)
        .bind(seq)
        .bind(emoji)
        .bind(account.0)
        .bind(now)
        .execute(&mut *tx)
        .await?
    } else {
        sqlx::query("DELETE FROM reactions WHERE room_id = $1 AND seq = $2 AND emoji = $3 AND account_id = $4")
            .bind(room_id)
            .bind(seq)
            .bind(emoji)
            .bind(account.0)
            .execute(&mut *tx)
            .await?
    };
    if done.rows_affected() == 0 {
        return Ok(Reacted::Unchanged);
    }
    match (kind, on) {
        (Some(i), true) => {
            let reaction = &mut summary[i];
            reaction.count += 1;
            if reaction.users.len() < REACTION_NAMES {
                reaction.users.push(username.to_owned());
            }
        }
        (None, true) => summary.push(Reaction { emoji: emoji.to_owned(), count: 1, users: vec![username.to_owned()] }),
        (Some(i), false) => {
            let reaction = &mut summary[i];
            reaction.count = reaction.count.saturating_sub(1);
            reaction.users.retain(|u| u != username);
            if reaction.count == 0 {
                summary.remove(i);
            } else if (reaction.users.len() as u32) < reaction.count && reaction.users.len() < REACTION_NAMES {
                // A name dropped out of a full list: the next one who gave it
                // takes its place (one look-up, only then).
                let next: Option<String> = sqlx::query_scalar(
                    "SELECT a.username FROM reactions x JOIN accounts a ON a.id = x.account_id
                      WHERE x.room_id = $1 AND x.seq = $2 AND x.emoji = $3 AND a.username <> ALL($4)
                      ORDER BY x.at LIMIT 1",
                )
                .bind(room_id)
                .bind(seq)
                .bind(emoji)
                .bind(&reaction.users)
                .fetch_optional(&mut *tx)
                .await?;
                reaction.users.extend(next);
            }
        }
        (None, false) => {}
    }
    let summary = (!summary.is_empty()).then(|| serde_json::to_string(&summary).expect("reactions always serialise"));
    sqlx::query("UPDATE messages SET reactions = $1 WHERE room_id = $2 AND seq = $3")
        .bind(summary)
        .bind(room_id)
        .bind(seq)
        .execute(&mut *tx)
        .await?;
    Ok(Reacted::Changed)
}

/// The message at `(room id, seq)` as it is now.
async fn select_message(tx: &mut PgConnection, (room_id, seq): (i64, i64)) -> Result<app::protocol::ChatMessage> {
    let row: MessageRow = sqlx::query_as(concat!(
        "SELECT ",
        message_columns!(),
        " FROM messages m",
        reply_join!(),
        "WHERE m.room_id = $1 AND m.seq = $2"
    ))
    .bind(room_id)
    .bind(seq)
    .fetch_one(&mut *tx)
    .await?;
    Ok(row.into())
}
