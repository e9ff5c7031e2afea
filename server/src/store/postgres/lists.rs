//! Room lists in PostgreSQL: memberships, read positions and mention counts,
//! as SQLite's (`store/sqlite/lists.rs`) in PostgreSQL's words. A read
//! position only moves forward, whichever process stores it: the update
//! itself says `read_seq < new`, so two processes' marks for one room can
//! only move it to the larger of the two.

use std::collections::HashMap;

use app::protocol::{Seq, Timestamp};
use app::room_name::RoomName;
use app::rooms::{Correspondent, NotifyLevel, RoomEntry, MAX_ROOMS_PER_ACCOUNT};

use super::PgStore;
use crate::store::{AccountId, ReadMark, ReadMoved, Result};

/// An entry of a list, read by column name.
#[derive(sqlx::FromRow)]
struct EntryRow {
    name: String,
    last_seq: i64,
    last_at: Option<i64>,
    read_seq: i64,
    notify: String,
    mentions: i64,
    changes: i64,
}

impl EntryRow {
    fn into_entry(self) -> Option<RoomEntry> {
        Some(RoomEntry {
            room: RoomName::parse_key(&self.name).ok()?,
            last_seq: Seq(self.last_seq as u64),
            read_seq: Seq(self.read_seq as u64),
            last_at: self.last_at.map(Timestamp),
            mentions: self.mentions as u32,
            changes: self.changes as u32,
            notify: NotifyLevel::parse(&self.notify).unwrap_or_default(),
            with: None,
        })
    }
}

/// A query for list entries, with its `WHERE` clause.
macro_rules! select_entries {
    ($where:literal) => {
        concat!(
            "SELECT r.name, r.last_seq, r.last_at, m.read_seq, m.notify,
                    (SELECT count(*) FROM mentions x
                      WHERE x.account_id = m.account_id AND x.room_id = m.room_id AND x.seq > m.read_seq) AS mentions,
                    (SELECT count(*) FROM changes c WHERE c.room_id = m.room_id AND c.seq > m.read_seq) AS changes
               FROM memberships m JOIN rooms r ON r.id = m.room_id ",
            $where
        )
    };
}

impl PgStore {
    pub(super) async fn select_room_list(&self, account: AccountId) -> Result<Vec<RoomEntry>> {
        let rows: Vec<EntryRow> =
            sqlx::query_as(select_entries!("WHERE m.account_id = $1")).bind(account.0).fetch_all(self.pool()).await?;
        let mut entries: Vec<RoomEntry> = rows.into_iter().filter_map(EntryRow::into_entry).collect();
        self.name_correspondents(account, &mut entries).await?;
        RoomEntry::sort(&mut entries);
        Ok(entries)
    }

    pub(super) async fn insert_membership(
        &self,
        account: AccountId,
        room: &RoomName,
        at: Timestamp,
    ) -> Result<Option<RoomEntry>> {
        let mut tx = self.pool().begin().await?;
        // Who makes a room owns it (a direct conversation has no owner).
        sqlx::query("INSERT INTO rooms (name, created_at, owner_id) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING")
            .bind(room.as_str())
            .bind(at.0)
            .bind((!room.is_direct()).then_some(account.0))
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO memberships (account_id, room_id, joined_at, read_seq, notify)
             SELECT $1, r.id, $3, r.last_seq, $5 FROM rooms r
              WHERE r.name = $2 AND (SELECT count(*) FROM memberships c WHERE c.account_id = $1) < $4
             ON CONFLICT (account_id, room_id) DO NOTHING",
        )
        .bind(account.0)
        .bind(room.as_str())
        .bind(at.0)
        .bind(MAX_ROOMS_PER_ACCOUNT as i64)
        .bind(NotifyLevel::default_for(room).as_str())
        .execute(&mut *tx)
        .await?;
        let row: Option<EntryRow> = sqlx::query_as(select_entries!("WHERE m.account_id = $1 AND r.name = $2"))
            .bind(account.0)
            .bind(room.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        tx.commit().await?;
        let mut entries: Vec<RoomEntry> = row.and_then(EntryRow::into_entry).into_iter().collect();
        self.name_correspondents(account, &mut entries).await?;
        Ok(entries.pop())
    }

    /// Fills in the other person of each direct conversation: one query.
    async fn name_correspondents(&self, account: AccountId, entries: &mut [RoomEntry]) -> Result<()> {
        let other = |entry: &RoomEntry| entry.room.direct_pair().map(|(a, b)| if a == account.0 { b } else { a });
        let ids: Vec<i64> = entries.iter().filter_map(other).collect();
        if ids.is_empty() {
            return Ok(());
        }
        let people: Vec<(i64, String, String)> =
            sqlx::query_as("SELECT id, username, display_name FROM accounts WHERE id = ANY($1)")
                .bind(&ids)
                .fetch_all(self.pool())
                .await?;
        let people: HashMap<i64, Correspondent> = people
            .into_iter()
            .map(|(id, username, display_name)| (id, Correspondent { username, display_name }))
            .collect();
        for entry in entries {
            entry.with = other(entry).and_then(|id| people.get(&id).cloned());
        }
        Ok(())
    }

    pub(super) async fn has_membership(&self, account: AccountId, room: &RoomName) -> Result<bool> {
        let found: Option<i32> = sqlx::query_scalar(
            "SELECT 1 FROM memberships m JOIN rooms r ON r.id = m.room_id WHERE m.account_id = $1 AND r.name = $2",
        )
        .bind(account.0)
        .bind(room.as_str())
        .fetch_optional(self.pool())
        .await?;
        Ok(found.is_some())
    }

    pub(super) async fn delete_membership(&self, account: AccountId, room: &RoomName) -> Result<bool> {
        let done = sqlx::query(
            "DELETE FROM memberships WHERE account_id = $1 AND room_id = (SELECT id FROM rooms WHERE name = $2)",
        )
        .bind(account.0)
        .bind(room.as_str())
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    pub(super) async fn select_people_named(
        &self,
        room: &RoomName,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<Correspondent>> {
        // The prefix is matched as text: LIKE's own wildcards in it are escaped.
        let pattern: String = prefix
            .chars()
            .flat_map(|c| match c {
                '%' | '_' | '\\' => vec!['\\', c],
                c => vec![c],
            })
            .chain(['%'])
            .collect();
        let people: Vec<(String, String)> = sqlx::query_as(
            "SELECT a.username, a.display_name
               FROM accounts a
               LEFT JOIN memberships m
                 ON m.account_id = a.id AND m.room_id = (SELECT id FROM rooms WHERE name = $1)
              WHERE a.username LIKE $2 ESCAPE '\\' OR lower(a.display_name) LIKE $2 ESCAPE '\\'
              ORDER BY m.account_id IS NULL, a.username
              LIMIT $3",
        )
        .bind(room.as_str())
        .bind(pattern)
        .bind(limit as i64)
        .fetch_all(self.pool())
        .await?;
        Ok(people.into_iter().map(|(username, display_name)| Correspondent { username, display_name }).collect())
    }

    pub(super) async fn update_notify(&self, account: AccountId, room: &RoomName, level: NotifyLevel) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE memberships SET notify = $3
              WHERE account_id = $1 AND room_id = (SELECT id FROM rooms WHERE name = $2)",
        )
        .bind(account.0)
        .bind(room.as_str())
        .bind(level.as_str())
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    pub(super) async fn update_read_marks(&self, marks: Vec<ReadMark>) -> Result<Vec<ReadMoved>> {
        if marks.is_empty() {
            return Ok(Vec::new());
        }
        let accounts: Vec<i64> = marks.iter().map(|m| m.account.0).collect();
        let rooms: Vec<&str> = marks.iter().map(|m| m.room.as_str()).collect();
        let seqs: Vec<i64> = marks.iter().map(|m| m.seq.0.min(i64::MAX as u64) as i64).collect();
        let mut tx = self.pool().begin().await?;
        // Moved, never back, never past the room's newest seq; with the counts
        // left after the new position, in the same statement.
        // The rows locked in (account, room) order first, as the writer's
        // statements take them: no deadlock with a commit of the same rooms.
        let moved: Vec<(i64, i64, String, i64, i64, i64)> = sqlx::query_as(
            "WITH locked AS (
                 SELECT m.account_id, m.room_id, r.name, LEAST(u.seq, r.last_seq) AS seq
                   FROM unnest($1::bigint[], $2::text[], $3::bigint[]) AS u (account, room, seq)
                   JOIN rooms AS r ON r.name = u.room
                   JOIN memberships m ON m.account_id = u.account AND m.room_id = r.id
                  ORDER BY m.account_id, m.room_id
                    FOR NO KEY UPDATE OF m
             ),
             moved AS (
                 UPDATE memberships SET read_seq = l.seq
                   FROM locked l
                  WHERE memberships.account_id = l.account_id AND memberships.room_id = l.room_id
                    AND memberships.read_seq < l.seq
                 RETURNING memberships.account_id, memberships.room_id, l.name, memberships.read_seq
             )
             SELECT w.account_id, w.room_id, w.name, w.read_seq,
                    (SELECT count(*) FROM mentions x
                      WHERE x.account_id = w.account_id AND x.room_id = w.room_id AND x.seq > w.read_seq),
                    (SELECT count(*) FROM changes c WHERE c.room_id = w.room_id AND c.seq > w.read_seq)
               FROM moved w",
        )
        .bind(accounts)
        .bind(rooms)
        .bind(seqs)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(moved
            .into_iter()
            .filter_map(|(account, _, name, seq, mentions, changes)| {
                Some(ReadMoved {
                    account: AccountId(account),
                    room: RoomName::parse_key(&name).ok()?,
                    seq: Seq(seq as u64),
                    mentions: mentions as u32,
                    changes: changes as u32,
                })
            })
            .collect())
    }
}
