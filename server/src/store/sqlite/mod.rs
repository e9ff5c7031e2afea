//! The SQLite store: one database file in WAL mode, migrations embedded in the
//! binary, one write connection (so writes never meet "database is locked") and a
//! small pool of readers that never wait for it. Opening it gives the reading
//! half, [`SqliteStore`] (cloneable; the accounts' store too), and the one
//! [`SqliteWriter`] of messages.

mod admin;
mod changes;
mod checkpoints;
mod files;
mod integrations;
mod lists;
mod moderation;
mod push;
mod search;
mod search_index;
#[cfg(test)]
pub(crate) use search::RANK_UP_TO;
mod writer;

pub use writer::SqliteWriter;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::FutureExt;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, SqliteConnection};

use app::protocol::{ChatMessage, Quote, Seq, ServerMsg, Timestamp};
use app::room_name::RoomName;
use app::rooms::{NotifyLevel, RoomEntry};

use super::rows::{EventRow, MessageRow};
use super::{AccountId, Found, ReadMark, ReadMoved, Result, SearchRequest, Standing, Store, StoreError, Upload};
use crate::files::Blobs;
use checkpoints::{Checkpoints, LogTooLong};

const READERS: u32 = 4;
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The options of every connection to the database file at `path`.
///
/// SQLite's temporary files (a statement's journal past 64 KiB, as a commit
/// of posts to many rooms makes; a sort or index build larger than the page
/// cache) are kept in memory. By default SQLite makes them in `/var/tmp`,
/// `/usr/tmp`, `/tmp` or the working directory, the first it may write to;
/// where none is writable (a container's read-only root, the data on a
/// volume of its own) a fresh database could not even be migrated ("disk I/O
/// error"), and a commit needing a journal would fail. Android's SQLite keeps
/// them in memory too. The cost: a migration that builds an index over a
/// large table sorts it in memory.
pub(in crate::store) fn file_options(path: &Path) -> SqliteConnectOptions {
    SqliteConnectOptions::new().filename(path).pragma("temp_store", "MEMORY")
}

/// Each room's id and newest seq as committed, kept by the one writer so a
/// batch needs no room look-ups (filled on a room's first message), and read by
/// joins.
type RoomSeqs = Arc<std::sync::Mutex<HashMap<RoomName, (i64, i64)>>>;

/// The reading half, and the accounts' store.
#[derive(Clone)]
pub struct SqliteStore {
    /// The write connection, for the accounts (messages go through [`SqliteWriter`]).
    writer: SqlitePool,
    readers: SqlitePool,
    rooms: RoomSeqs,
    blobs: Blobs,
}

/// The columns a [`MessageRow`] is read from, for `FROM messages m` and
/// `reply_join!()` (macros, so that queries are whole literals).
macro_rules! message_columns {
    () => {
        "m.seq, m.author, m.username, m.body, m.created_at, m.client_id, m.mentions, m.edited_at, m.deleted_at, \
         m.reactions, m.reply_to, p.author AS reply_author, \
         CASE WHEN p.body = '' AND p.file IS NOT NULL THEN '📎 ' || (p.file ->> '$.name') \
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

impl SqliteStore {
    /// Opens (creating it, and its directory, if need be) and migrates the file;
    /// returns the reading half and the one writer of messages.
    pub async fn open(path: &Path) -> Result<(Self, SqliteWriter)> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|source| StoreError::CreateDir { path: dir.display().to_string(), source })?;
        }
        let options = file_options(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // Every acknowledged message survives a crash of the process or the machine.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true)
            // What is deleted is overwritten, not left in free space: a deleted
            // message's body is gone from the file once the log is checkpointed.
            // (Inserts, the hot path, free nothing: this costs them nothing.)
            .pragma("secure_delete", "ON")
            // The log's file is cut back to this once a checkpoint has emptied
            // it (a burst of writes, as a bulk import, had left it at 1.6 GB).
            .pragma("journal_size_limit", "67108864");
        // The writer does not checkpoint on its own (`wal_autocheckpoint` off): a
        // checkpoint in the commit path holds every message behind it for as long
        // as the disk takes to sync the database file (stalls of ~300 ms seen
        // under load). A connection of its own does it; the write connection only
        // copies the last few frames when the log is to start over (`checkpoints`).
        let too_long = LogTooLong::default();
        let log = too_long.clone();
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            // A file's connection does not drop like a network's: a ping before
            // each use would be a round trip to SQLite's thread per commit.
            .test_before_acquire(false)
            // Between two transactions, whoever they are for.
            .before_acquire(move |conn, _| {
                let log = log.clone();
                Box::pin(async move {
                    log.restart(conn).await;
                    Ok(true)
                })
            })
            // A batch of the search indexer reads up to its size in rows: room for
            // all of them, so SQLite's thread never waits for a row to be taken.
            .connect_with(options.clone().pragma("wal_autocheckpoint", "0").row_buffer_size(search_index::ROWS))
            .await?;
        sqlx::migrate!("./migrations").run(&writer).await?;
        let readers =
            SqlitePoolOptions::new().max_connections(READERS).connect_with(options.clone().read_only(true)).await?;
        let checkpointer = SqliteConnection::connect_with(&options).await?;
        let checkpoints = Arc::new(Checkpoints::start(checkpointer, too_long));
        let rooms = RoomSeqs::default();
        let indexer = search_index::Indexer::start(writer.clone()).await?;
        let blobs = Blobs::beside(path);
        let store = SqliteStore {
            writer: writer.clone(),
            readers: readers.clone(),
            rooms: rooms.clone(),
            blobs: blobs.clone(),
        };
        Ok((store, SqliteWriter { pool: writer, readers, rooms, checkpoints, indexer: Some(indexer), blobs }))
    }

    /// Closes this half's connections (the write connection the accounts share
    /// included): whatever reads through it from then on fails, as it would with
    /// a database that went away. For tests of exactly that.
    pub async fn close(&self) {
        self.readers.close().await;
        self.writer.close().await;
    }

    /// Where the files' contents are kept.
    pub fn blobs(&self) -> &Blobs {
        &self.blobs
    }

    pub(super) fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    pub(super) fn readers(&self) -> &SqlitePool {
        &self.readers
    }

    async fn select_page(&self, room: &RoomName, before: Option<Seq>, limit: u32) -> Result<Vec<ChatMessage>> {
        let before = before.map_or(i64::MAX, |s| s.0 as i64);
        let rows: Vec<MessageRow> = sqlx::query_as(concat!(
            "SELECT ",
            message_columns!(),
            " FROM rooms r JOIN messages m ON m.room_id = r.id",
            reply_join!(),
            "WHERE r.name = ?1 AND m.seq < ?2 ORDER BY m.seq DESC LIMIT ?3"
        ))
        .bind(room.as_str())
        .bind(before)
        .bind(limit)
        .fetch_all(&self.readers)
        .await?;
        Ok(rows.into_iter().rev().map(ChatMessage::from).collect())
    }

    /// The room's events after `after`: its messages and its changes (each
    /// with the changed message as it is now), in seq order.
    async fn select_after(&self, room: &RoomName, after: Seq, limit: u32) -> Result<Vec<ServerMsg>> {
        let rows: Vec<EventRow> = sqlx::query_as(concat!(
            "WITH r AS (SELECT id FROM rooms WHERE name = ?1)
             SELECT * FROM (
                 SELECT m.seq AS event_seq, ",
            message_columns!(),
            " FROM r JOIN messages m ON m.room_id = r.id",
            reply_join!(),
            "WHERE m.seq > ?2
                 UNION ALL
                 SELECT c.seq AS event_seq, ",
            message_columns!(),
            " FROM r JOIN changes c ON c.room_id = r.id
                   JOIN messages m ON m.room_id = c.room_id AND m.seq = c.target_seq",
            reply_join!(),
            "WHERE c.seq > ?2
             )
             ORDER BY event_seq
             LIMIT ?3"
        ))
        .bind(room.as_str())
        .bind(after.0 as i64)
        .bind(limit)
        .fetch_all(&self.readers)
        .await?;
        Ok(rows.into_iter().map(EventRow::into_msg).collect())
    }

    /// The quote of message `seq` of `room`, if there is such a message.
    async fn select_quote(&self, room: &RoomName, seq: Seq) -> Result<Option<Quote>> {
        let row: Option<(String, String, Option<i64>)> = sqlx::query_as(
            // A file posted with no words is quoted by its name (`ChatMessage::text`).
            "SELECT m.author,
                    CASE WHEN m.body = '' AND m.file IS NOT NULL THEN '📎 ' || (m.file ->> '$.name')
                         ELSE substr(m.body, 1, 2000) END,
                    m.deleted_at
               FROM rooms r JOIN messages m ON m.room_id = r.id
              WHERE r.name = ?1 AND m.seq = ?2",
        )
        .bind(room.as_str())
        .bind(seq.0 as i64)
        .fetch_optional(&self.readers)
        .await?;
        Ok(row.map(|(author, body, deleted)| Quote::of(seq, author, &body, deleted.is_some())))
    }

    async fn select_last_seq(&self, room: &RoomName) -> Result<Seq> {
        // The writer's figure, when it has written to the room since the start
        // (every join asks; a busy room's joins need no query).
        let cached = self.rooms.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(room).map(|r| r.1);
        if let Some(last) = cached {
            return Ok(Seq(last as u64));
        }
        let row: Option<(i64, i64)> = sqlx::query_as("SELECT id, last_seq FROM rooms WHERE name = ?1")
            .bind(room.as_str())
            .fetch_optional(&self.readers)
            .await?;
        let Some((id, last)) = row else { return Ok(Seq(0)) };
        // Only if the writer has no newer figure: it alone changes rooms, and it
        // overwrites its entry after every commit.
        self.rooms.lock().unwrap_or_else(std::sync::PoisonError::into_inner).entry(room.clone()).or_insert((id, last));
        Ok(Seq(last as u64))
    }
}

impl Store for SqliteStore {
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
        let rooms = self.rooms.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        rooms.get(room).map(|(_, last)| Seq(*last as u64))
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
