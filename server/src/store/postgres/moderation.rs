//! A room's owner, moderators and removals, and its moderation log, as
//! SQLite's (`store/sqlite/moderation.rs`) in PostgreSQL's words. An action
//! locks the room's row first, so two moderators acting through two processes
//! take turns.

use app::moderation::{LogEntry, ModAction, ModerationError};
use app::protocol::Timestamp;
use app::room_name::RoomName;
use sqlx::PgConnection;

use super::PgStore;
use crate::store::{AccountId, Result, Standing};

impl PgStore {
    /// Where `account` stands in `room` at `now`.
    pub(super) async fn select_standing(
        &self,
        room: &RoomName,
        account: AccountId,
        now: Timestamp,
    ) -> Result<Standing> {
        let row: Option<(Option<i64>, bool, i64)> = sqlx::query_as(
            "SELECT r.owner_id, EXISTS (SELECT 1 FROM moderators m WHERE m.room_id = r.id AND m.account_id = $2),
                    r.slow_mode_s
               FROM rooms r WHERE r.name = $1",
        )
        .bind(room.as_str())
        .bind(account.0)
        .fetch_optional(self.pool())
        .await?;
        let Some((owner, moderator, slow_mode_s)) = row else { return Ok(Standing::default()) };
        // A removal in force: its end, NULL for good.
        let removed: Option<(Option<i64>,)> = sqlx::query_as(
            "SELECT x.until FROM removals x JOIN rooms r ON r.id = x.room_id
              WHERE r.name = $1 AND x.account_id = $2 AND (x.until IS NULL OR x.until > $3)",
        )
        .bind(room.as_str())
        .bind(account.0)
        .bind(now.0)
        .fetch_optional(self.pool())
        .await?;
        let owner = owner == Some(account.0);
        Ok(Standing {
            owner,
            moderator: owner || moderator,
            removed: removed.map(|(until,)| until.map(Timestamp)),
            slow_mode_s: u32::try_from(slow_mode_s).unwrap_or(0),
        })
    }

    /// Does what a moderator asked; returns the account acted on (none for
    /// slow mode). `until` ends a removal; `seconds` is slow mode's.
    pub(super) async fn apply_moderation(
        &self,
        room: &RoomName,
        actor: AccountId,
        action: ModAction,
        username: &str,
        (until, seconds): (Option<Timestamp>, u32),
        now: Timestamp,
    ) -> Result<std::result::Result<Option<AccountId>, ModerationError>> {
        let mut tx = self.pool().begin().await?;
        let row: Option<(i64, Option<i64>, bool)> = sqlx::query_as(
            "SELECT r.id, r.owner_id,
                    EXISTS (SELECT 1 FROM moderators m WHERE m.room_id = r.id AND m.account_id = $2)
               FROM rooms r WHERE r.name = $1 FOR NO KEY UPDATE",
        )
        .bind(room.as_str())
        .bind(actor.0)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((room_id, owner, moderator)) = row else { return Ok(Err(ModerationError::NotModerator)) };
        let is_owner = owner == Some(actor.0);
        match action {
            ModAction::Moderator | ModAction::Unmoderator if !is_owner => return Ok(Err(ModerationError::NotOwner)),
            _ if !(is_owner || moderator) => return Ok(Err(ModerationError::NotModerator)),
            _ => {}
        }
        if action == ModAction::SlowMode {
            sqlx::query("UPDATE rooms SET slow_mode_s = $1 WHERE id = $2")
                .bind(i64::from(seconds))
                .bind(room_id)
                .execute(&mut *tx)
                .await?;
            let entry =
                Entry { room_id, actor: actor.0, action: "slow_mode", seconds: Some(seconds), ..Entry::default() };
            log(&mut tx, entry, now).await?;
            tx.commit().await?;
            return Ok(Ok(None));
        }
        let target: Option<i64> = sqlx::query_scalar("SELECT id FROM accounts WHERE username = $1")
            .bind(username.trim().trim_start_matches('@').to_lowercase())
            .fetch_optional(&mut *tx)
            .await?;
        let Some(target) = target else { return Ok(Err(ModerationError::NoSuchPerson)) };
        // Removing a moderator unnames them: the owner's to do.
        if action == ModAction::Remove && !is_owner && moderates(&mut tx, room_id, target).await? {
            return Ok(Err(ModerationError::NotOwner));
        }
        let (name, until) = match action {
            ModAction::Moderator => {
                sqlx::query("INSERT INTO moderators (room_id, account_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                    .bind(room_id)
                    .bind(target)
                    .execute(&mut *tx)
                    .await?;
                ("moderator", None)
            }
            ModAction::Unmoderator => {
                sqlx::query("DELETE FROM moderators WHERE room_id = $1 AND account_id = $2")
                    .bind(room_id)
                    .bind(target)
                    .execute(&mut *tx)
                    .await?;
                ("unmoderator", None)
            }
            ModAction::Remove if owner == Some(target) => return Ok(Err(ModerationError::OwnerStays)),
            ModAction::Remove => {
                sqlx::query(
                    "INSERT INTO removals (room_id, account_id, until) VALUES ($1, $2, $3)
                     ON CONFLICT (room_id, account_id) DO UPDATE SET until = excluded.until",
                )
                .bind(room_id)
                .bind(target)
                .bind(until.map(|t| t.0))
                .execute(&mut *tx)
                .await?;
                // A removed moderator is one no more.
                sqlx::query("DELETE FROM moderators WHERE room_id = $1 AND account_id = $2")
                    .bind(room_id)
                    .bind(target)
                    .execute(&mut *tx)
                    .await?;
                ("remove", until)
            }
            ModAction::Restore => {
                sqlx::query("DELETE FROM removals WHERE room_id = $1 AND account_id = $2")
                    .bind(room_id)
                    .bind(target)
                    .execute(&mut *tx)
                    .await?;
                ("restore", None)
            }
            ModAction::SlowMode => unreachable!("handled above"),
        };
        let entry = Entry { room_id, actor: actor.0, action: name, target: Some(target), until, ..Entry::default() };
        log(&mut tx, entry, now).await?;
        tx.commit().await?;
        Ok(Ok(Some(AccountId(target))))
    }

    /// The room's log, newest first.
    pub(super) async fn select_moderation_log(&self, room: &RoomName, limit: u32) -> Result<Vec<LogEntry>> {
        let rows: Vec<crate::store::LogRow> = sqlx::query_as(
            "SELECT l.at, a.username, l.action, t.username, l.target_seq, l.until, l.seconds
               FROM rooms r JOIN moderation_log l ON l.room_id = r.id
               LEFT JOIN accounts a ON a.id = l.actor_id
               LEFT JOIN accounts t ON t.id = l.target_id
              WHERE r.name = $1
              ORDER BY l.id DESC LIMIT $2",
        )
        .bind(room.as_str())
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(crate::store::log_entry).collect())
    }
}

/// Whether `account` moderates the room `room_id` (its owner, or named).
pub(super) async fn moderates(conn: &mut PgConnection, room_id: i64, account: i64) -> Result<bool> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM rooms WHERE id = $1 AND owner_id = $2)
             OR EXISTS (SELECT 1 FROM moderators WHERE room_id = $1 AND account_id = $2)",
    )
    .bind(room_id)
    .bind(account)
    .fetch_one(&mut *conn)
    .await?)
}

/// A moderation action to record.
#[derive(Default)]
pub(super) struct Entry {
    pub room_id: i64,
    pub actor: i64,
    pub action: &'static str,
    pub target: Option<i64>,
    pub seq: Option<i64>,
    pub until: Option<Timestamp>,
    pub seconds: Option<u32>,
}

/// Records a moderation action.
pub(super) async fn log(conn: &mut PgConnection, entry: Entry, at: Timestamp) -> Result<()> {
    sqlx::query(
        "INSERT INTO moderation_log (room_id, actor_id, action, target_id, target_seq, until, seconds, at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(entry.room_id)
    .bind(entry.actor)
    .bind(entry.action)
    .bind(entry.target)
    .bind(entry.seq)
    .bind(entry.until.map(|t| t.0))
    .bind(entry.seconds.map(i64::from))
    .bind(at.0)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
