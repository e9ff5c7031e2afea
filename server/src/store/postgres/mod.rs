//! The PostgreSQL store, for a deployment of several server processes on one
//! database (`--database postgres://…`). The same tables and rules as the
//! SQLite store (migrations in `migrations-postgres/`, numbered as SQLite's),
//! with one difference that everything here follows from: other processes
//! write too. So no figure of a room's seq is kept in memory across commits;
//! the database is the only authority on order. A batch of messages takes its
//! rooms' row locks (in ascending id, so that two processes' batches spanning
//! the same rooms cannot deadlock), looks up retried ids under them (so a
//! retry raced on two processes gives one row and burns no seq), assigns the
//! seqs and writes the batch with a handful of statements whatever its size
//! (arrays passed whole, `unnest`ed), then commits.
//!
//! Opening it gives the reading half, [`PgStore`] (cloneable), and this
//! process's [`PgWriter`]; each process has one, and they take turns per room
//! through those row locks.

mod accounts;
mod admin;
mod changes;
mod files;
mod integrations;
mod lists;
mod moderation;
mod push;
mod search;
pub mod testing;
mod writer;

pub use writer::PgWriter;

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::FutureExt;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use app::protocol::{ChatMessage, Quote, Seq, ServerMsg, Timestamp};
use app::room_name::RoomName;
use app::rooms::{NotifyLevel, RoomEntry};

use super::rows::{EventRow, MessageRow};
use super::{AccountId, Found, ReadMark, ReadMoved, Result, SearchRequest, Standing, Store, Upload};
use crate::files::Blobs;

/// Connections per process: the poster's writes, the read marks and the
/// pages and joins share them.
const CONNECTIONS: u32 = 8;
/// How long a statement may wait for a connection before it fails (the
/// database is away: a send fails without an ack rather than hang).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// Rooms' ids by name (an id never changes once a room exists), so that a
/// batch for rooms seen before locks them without looking their names up.
type RoomIds = Arc<std::sync::Mutex<HashMap<RoomName, i64>>>;

/// The reading half.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    blobs: Blobs,
    rooms: RoomIds,
    /// The newest seq this process's writer committed per room (what
    /// [`super::Store::committed_seq`] answers from).
    committed: Arc<std::sync::Mutex<HashMap<RoomName, i64>>>,
}

/// The columns a [`MessageRow`] is read from, for `FROM messages m` and
/// `reply_join!()`: SQLite's list, in PostgreSQL's words for JSON.
macro_rules! message_columns {
    () => {
        "m.seq, m.author, m.username, m.body, m.created_at, m.client_id, m.mentions, m.edited_at, m.deleted_at, \
         m.reactions, m.reply_to, p.author AS reply_author, \
         CASE WHEN p.body = '' AND p.file IS NOT NULL THEN '📎 ' || (p.file::jsonb ->> 'name') \
              ELSE substr(p.body, 1, 2000) END AS reply_body, \
         p.deleted_at AS reply_deleted, m.file"
    };
}

/// The message a reply answers (an index look-up, only for replies).
macro_rules! reply_join {
    () => {
        " LEFT JOIN messages p ON p.room_id = m.room_id AND p.seq = m.reply_to "
    };
}

pub(super) use {message_columns, reply_join};

impl PgStore {
    /// Connects to the database at `url` and brings its schema up to date
    /// (any number of processes may do so at once: sqlx's migrator takes an
    /// advisory lock); file contents go under `files`. Returns the reading
    /// half and this process's writer.
    pub async fn open(url: &str, files: &std::path::Path) -> Result<(Self, PgWriter)> {
        let options = PgConnectOptions::from_str(url)?.application_name("chat");
        let pool = PgPoolOptions::new()
            .max_connections(CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations-postgres").run(&pool).await?;
        let store = PgStore {
            pool: pool.clone(),
            blobs: Blobs::in_dir(files.to_path_buf()),
            rooms: RoomIds::default(),
            committed: Arc::default(),
        };
        let writer = PgWriter::new(store.clone());
        Ok((store, writer))
    }

    /// Closes the connections: whatever reads through them from then on fails.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Where the files' contents are kept.
    pub fn blobs(&self) -> &Blobs {
        &self.blobs
    }

    pub(super) fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Up to `limit` messages before `before` (or the newest), oldest first.
    pub async fn select_page(&self, room: &RoomName, before: Option<Seq>, limit: u32) -> Result<Vec<ChatMessage>> {
        let before = before.map_or(i64::MAX, |s| s.0 as i64);
        let rows: Vec<MessageRow> = sqlx::query_as(concat!(
            "SELECT ",
            message_columns!(),
            " FROM rooms r JOIN messages m ON m.room_id = r.id",
            reply_join!(),
            "WHERE r.name = $1 AND m.seq < $2 ORDER BY m.seq DESC LIMIT $3"
        ))
        .bind(room.as_str())
        .bind(before)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().rev().map(ChatMessage::from).collect())
    }

    /// The room's events after `after`: its messages and its changes (each
    /// with the changed message as it is now), in seq order.
    pub async fn select_after(&self, room: &RoomName, after: Seq, limit: u32) -> Result<Vec<ServerMsg>> {
        let rows: Vec<EventRow> = sqlx::query_as(concat!(
            "WITH r AS (SELECT id FROM rooms WHERE name = $1)
             SELECT * FROM (
                 SELECT m.seq AS event_seq, ",
            message_columns!(),
            " FROM r JOIN messages m ON m.room_id = r.id",
            reply_join!(),
            "WHERE m.seq > $2
                 UNION ALL
                 SELECT c.seq AS event_seq, ",
            message_columns!(),
            " FROM r JOIN changes c ON c.room_id = r.id
                   JOIN messages m ON m.room_id = c.room_id AND m.seq = c.target_seq",
            reply_join!(),
            "WHERE c.seq > $2
             ) AS events
             ORDER BY event_seq
             LIMIT $3"
        ))
        .bind(room.as_str())
        .bind(after.0 as i64)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(EventRow::into_msg).collect())
    }

    /// The quote of message `seq` of `room`, if there is such a message.
    pub async fn select_quote(&self, room: &RoomName, seq: Seq) -> Result<Option<Quote>> {
        let row: Option<(String, String, Option<i64>)> = sqlx::query_as(
            // A file posted with no words is quoted by its name (`ChatMessage::text`).
            "SELECT m.author,
                    CASE WHEN m.body = '' AND m.file IS NOT NULL THEN '📎 ' || (m.file::jsonb ->> 'name')
                         ELSE substr(m.body, 1, 2000) END,
                    m.deleted_at
               FROM rooms r JOIN messages m ON m.room_id = r.id
              WHERE r.name = $1 AND m.seq = $2",
        )
        .bind(room.as_str())
        .bind(seq.0 as i64)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(author, body, deleted)| Quote::of(seq, author, &body, deleted.is_some())))
    }

    /// The room's newest seq as the database has it (another process may
    /// have written since this one last did: always asked).
    pub async fn select_last_seq(&self, room: &RoomName) -> Result<Seq> {
        let last: Option<i64> = sqlx::query_scalar("SELECT last_seq FROM rooms WHERE name = $1")
            .bind(room.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(Seq(last.unwrap_or(0) as u64))
    }

    /// The newest seq this process committed in `room`, if it has since it started.
    pub fn committed_here(&self, room: &RoomName) -> Option<Seq> {
        let committed = self.committed.lock().unwrap_or_else(PoisonError::into_inner);
        committed.get(room).map(|seq| Seq(*seq as u64))
    }

    fn note_committed(&self, room: &RoomName, seq: i64) {
        let mut committed = self.committed.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = committed.entry(room.clone()).or_insert(seq);
        *entry = (*entry).max(seq);
    }
}

impl Store for PgStore {
    fn page<'a>(
        &'a self,
        room: &'a RoomName,
        before: Option<Seq>,
        limit: u32,
    ) -> BoxFuture<'a, Result<Vec<ChatMessage>>> {
        self.select_page(room, before, limit).boxed()
    }

    fn after<'a>(&'a self, room: &'a RoomName, after: Seq, limit: u32) -> BoxFuture<'a, Result<Vec<ServerMsg>>> {
        self.select_after(room, after, limit).boxed()
    }

    fn last_seq<'a>(&'a self, room: &'a RoomName) -> BoxFuture<'a, Result<Seq>> {
        self.select_last_seq(room).boxed()
    }

    fn last_seqs<'a>(&'a self, rooms: &'a [RoomName]) -> BoxFuture<'a, Result<Vec<Seq>>> {
        async move {
            let names: Vec<&str> = rooms.iter().map(RoomName::as_str).collect();
            let found: Vec<(String, i64)> = sqlx::query_as("SELECT name, last_seq FROM rooms WHERE name = ANY($1)")
                .bind(&names)
                .fetch_all(&self.pool)
                .await?;
            let found: HashMap<String, i64> = found.into_iter().collect();
            Ok(rooms.iter().map(|room| Seq(found.get(room.as_str()).copied().unwrap_or(0) as u64)).collect())
        }
        .boxed()
    }

    fn standing<'a>(
        &'a self,
        room: &'a RoomName,
        account: AccountId,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<Standing>> {
        self.select_standing(room, account, now).boxed()
    }

    fn moderate<'a>(
        &'a self,
        room: &'a RoomName,
        actor: AccountId,
        action: app::moderation::ModAction,
        username: &'a str,
        amount: (Option<Timestamp>, u32),
    ) -> BoxFuture<'a, Result<std::result::Result<Option<AccountId>, app::moderation::ModerationError>>> {
        self.apply_moderation(room, actor, action, username, amount, crate::clock::now()).boxed()
    }

    fn moderation_log<'a>(
        &'a self,
        room: &'a RoomName,
        limit: u32,
    ) -> BoxFuture<'a, Result<Vec<app::moderation::LogEntry>>> {
        self.select_moderation_log(room, limit).boxed()
    }

    fn search<'a>(&'a self, request: &'a SearchRequest) -> BoxFuture<'a, Result<Vec<Found>>> {
        self.select_found(request).boxed()
    }

    fn quote<'a>(&'a self, room: &'a RoomName, seq: Seq) -> BoxFuture<'a, Result<Option<Quote>>> {
        self.select_quote(room, seq).boxed()
    }

    fn room_list(&self, account: AccountId) -> BoxFuture<'_, Result<Vec<RoomEntry>>> {
        self.select_room_list(account).boxed()
    }

    fn in_list<'a>(&'a self, account: AccountId, room: &'a RoomName) -> BoxFuture<'a, Result<bool>> {
        self.has_membership(account, room).boxed()
    }

    fn committed_seq(&self, room: &RoomName) -> Option<Seq> {
        self.committed_here(room)
    }

    fn join_room<'a>(
        &'a self,
        account: AccountId,
        room: &'a RoomName,
        at: Timestamp,
    ) -> BoxFuture<'a, Result<Option<RoomEntry>>> {
        self.insert_membership(account, room, at).boxed()
    }

    fn leave_room<'a>(&'a self, account: AccountId, room: &'a RoomName) -> BoxFuture<'a, Result<bool>> {
        self.delete_membership(account, room).boxed()
    }

    fn people_named<'a>(
        &'a self,
        room: &'a RoomName,
        prefix: &'a str,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<app::rooms::Correspondent>>> {
        self.select_people_named(room, prefix, limit).boxed()
    }

    fn set_notify<'a>(
        &'a self,
        account: AccountId,
        room: &'a RoomName,
        level: NotifyLevel,
    ) -> BoxFuture<'a, Result<bool>> {
        self.update_notify(account, room, level).boxed()
    }

    fn mark_read(&self, marks: Vec<ReadMark>) -> BoxFuture<'_, Result<Vec<ReadMoved>>> {
        self.update_read_marks(marks).boxed()
    }

    fn add_upload<'a>(&'a self, upload: &'a Upload) -> BoxFuture<'a, Result<()>> {
        self.insert_upload(upload).boxed()
    }

    fn upload<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<Upload>>> {
        self.select_upload(id).boxed()
    }

    fn uploads_used(&self, account: AccountId, unsent_before: Timestamp) -> BoxFuture<'_, Result<u64>> {
        self.select_uploads_used(account, unsent_before).boxed()
    }
}

#[cfg(test)]
mod tests;
