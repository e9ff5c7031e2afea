//! The SQLite store: one database file in WAL mode, migrations embedded in the
//! binary, one writer connection (so writes never meet "database is locked") and a
//! small pool of readers that never wait for it.

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::FutureExt;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Connection, Row, SqliteConnection};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use app::protocol::{ChatMessage, ClientMsgId, Seq, Timestamp};
use app::room_name::RoomName;

use super::{Appended, NewMessage, Result, Store, StoreError};

const READERS: u32 = 4;
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    readers: SqlitePool,
    /// Each room's id and newest seq as committed, kept by the one writer so a
    /// batch needs no room look-ups (filled on a room's first message).
    rooms: Arc<std::sync::Mutex<HashMap<RoomName, (i64, i64)>>>,
    /// The checkpointing task; stopped by `close`, or when the last clone goes.
    checkpoints: Arc<Checkpoints>,
}

/// Copies the write-ahead log into the database file in the background, beside
/// the writer rather than in its way (PASSIVE: never waits for, nor blocks, it).
/// Owned by the store: [`SqliteStore::close`] ends it after one last pass; a
/// store dropped without closing stops it too.
struct Checkpoints {
    stop: CancellationToken,
    task: std::sync::Mutex<Option<JoinHandle<()>>>,
}

/// How often the log is copied back (it then holds at most a few seconds of writes).
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

impl Checkpoints {
    fn start(mut conn: SqliteConnection) -> Self {
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(CHECKPOINT_EVERY);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = stopped.cancelled() => break,
                    _ = ticks.tick() => {
                        if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&mut conn).await {
                            tracing::warn!(%error, "checkpoint failed; the next one retries");
                        }
                    }
                }
            }
            // A last one on the way out, so the file is whole without its log.
            if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&mut conn).await {
                tracing::warn!(%error, "the last checkpoint failed; the log is replayed at the next start");
            }
            if let Err(error) = conn.close().await {
                tracing::debug!(%error, "closing the checkpoint connection failed");
            }
        });
        Checkpoints { stop, task: std::sync::Mutex::new(Some(task)) }
    }

    /// Stops the task after its last checkpoint and waits for it.
    async fn close(&self) {
        self.stop.cancel();
        let task = self.task.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        if let Some(task) = task {
            if let Err(error) = task.await {
                tracing::error!(%error, "the checkpoint task failed");
            }
        }
    }
}

impl Drop for Checkpoints {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl SqliteStore {
    /// Opens (creating it, and its directory, if need be) and migrates the file.
    pub async fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|source| StoreError::CreateDir { path: dir.display().to_string(), source })?;
        }
        let options = SqliteConnectOptions::from_str("sqlite:")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // Every acknowledged message survives a crash of the process or the machine.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        // The writer never checkpoints: a checkpoint in the commit path holds every
        // message behind it for as long as the disk takes to sync the database
        // file (stalls of ~300 ms seen under load). A connection of its own does it.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .connect_with(options.clone().pragma("wal_autocheckpoint", "0"))
            .await?;
        sqlx::migrate!("./migrations").run(&writer).await?;
        let readers =
            SqlitePoolOptions::new().max_connections(READERS).connect_with(options.clone().read_only(true)).await?;
        let checkpointer = SqliteConnection::connect_with(&options).await?;
        let checkpoints = Arc::new(Checkpoints::start(checkpointer));
        Ok(SqliteStore { writer, readers, rooms: Default::default(), checkpoints })
    }

    /// Closes the readers and the writer, then checkpoints the log into the file
    /// one last time (after the writer, so nothing is written after it).
    pub async fn shut(&self) {
        self.readers.close().await;
        self.writer.close().await;
        self.checkpoints.close().await;
    }

    pub(super) fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    pub(super) fn readers(&self) -> &SqlitePool {
        &self.readers
    }

    /// Stores a batch in one transaction with a handful of statements, whatever its
    /// size or how many rooms it spans: one look-up of retried ids, one multi-row
    /// insert, one seq update per room (and an upsert for a room not seen since the
    /// start). sqlx runs each statement on SQLite's own thread, so statements, not
    /// rows, are the cost.
    async fn append_all(&self, batch: Vec<NewMessage>) -> Result<Vec<Appended>> {
        let mut tx = self.writer.begin().await?;
        let known: HashMap<RoomName, (i64, i64)> = {
            let cache = self.rooms.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            batch.iter().filter_map(|m| cache.get(&m.room).map(|r| (m.room.clone(), *r))).collect()
        };
        let mut rooms: HashMap<RoomName, RoomRow> = HashMap::new();
        for message in &batch {
            if rooms.contains_key(&message.room) {
                continue;
            }
            let (id, last_seq) = match known.get(&message.room) {
                Some(row) => *row,
                None => {
                    sqlx::query_as(
                        "INSERT INTO rooms (name, created_at) VALUES (?1, ?2)
                         ON CONFLICT (name) DO UPDATE SET name = excluded.name
                         RETURNING id, last_seq",
                    )
                    .bind(message.room.as_str())
                    .bind(message.sent_at.0)
                    .fetch_one(&mut *tx)
                    .await?
                }
            };
            rooms.insert(message.room.clone(), RoomRow { id, last_seq, first_seq: last_seq });
        }
        let mut stored = stored_retries(&mut tx, batch.iter().map(|m| (rooms[&m.room].id, m))).await?;

        let mut out = Vec::with_capacity(batch.len());
        let mut fresh = Vec::with_capacity(batch.len());
        for message in batch {
            let room = rooms.get_mut(&message.room).expect("every room of the batch has a row");
            let key = (room.id, message.author_id.0, message.client_id.0.clone());
            if let Some(earlier) = stored.get(&key) {
                out.push(Appended { message: earlier.clone(), duplicate: true });
                continue;
            }
            room.last_seq += 1;
            let message = ChatMessage {
                seq: Seq(room.last_seq as u64),
                author: message.author,
                body: message.body,
                sent_at: message.sent_at,
                client_id: message.client_id,
            };
            // A retry within the same batch is a duplicate of this one.
            stored.insert(key.clone(), message.clone());
            fresh.push((key.0, key.1, message.clone()));
            out.push(Appended { message, duplicate: false });
        }

        for chunk in fresh.chunks(INSERT_CHUNK) {
            let mut insert = sqlx::QueryBuilder::new(
                "INSERT INTO messages (room_id, seq, author_id, author, body, created_at, client_id) ",
            );
            insert.push_values(chunk, |mut row, (room_id, author_id, m)| {
                row.push_bind(*room_id)
                    .push_bind(m.seq.0 as i64)
                    .push_bind(*author_id)
                    .push_bind(&m.author)
                    .push_bind(&m.body)
                    .push_bind(m.sent_at.0)
                    .push_bind(&m.client_id.0);
            });
            insert.build().execute(&mut *tx).await?;
        }
        let changed: Vec<(i64, i64)> =
            rooms.values().filter(|r| r.last_seq != r.first_seq).map(|r| (r.id, r.last_seq)).collect();
        if !changed.is_empty() {
            let changed_json = serde_json::to_string(&changed).expect("numbers always serialise");
            sqlx::query(
                "UPDATE rooms SET last_seq = u.value ->> 1
                   FROM json_each(?1) AS u
                  WHERE rooms.id = u.value ->> 0",
            )
            .bind(changed_json)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        // Only what is committed goes into the cache.
        let mut cache = self.rooms.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for (name, room) in rooms {
            cache.insert(name, (room.id, room.last_seq));
        }
        Ok(out)
    }

    async fn select_page(&self, room: &RoomName, before: Option<Seq>, limit: u32) -> Result<Vec<ChatMessage>> {
        let before = before.map_or(i64::MAX, |s| s.0 as i64);
        let mut rows = sqlx::query(
            "SELECT m.seq, m.author, m.body, m.created_at, m.client_id
               FROM messages m JOIN rooms r ON r.id = m.room_id
              WHERE r.name = ?1 AND m.seq < ?2
              ORDER BY m.seq DESC
              LIMIT ?3",
        )
        .bind(room.as_str())
        .bind(before)
        .bind(limit)
        .map(|row: SqliteRow| to_message(&row))
        .fetch_all(&self.readers)
        .await?;
        rows.reverse();
        Ok(rows)
    }

    async fn select_after(&self, room: &RoomName, after: Seq, limit: u32) -> Result<Vec<ChatMessage>> {
        Ok(sqlx::query(
            "SELECT m.seq, m.author, m.body, m.created_at, m.client_id
               FROM messages m JOIN rooms r ON r.id = m.room_id
              WHERE r.name = ?1 AND m.seq > ?2
              ORDER BY m.seq
              LIMIT ?3",
        )
        .bind(room.as_str())
        .bind(after.0 as i64)
        .bind(limit)
        .map(|row: SqliteRow| to_message(&row))
        .fetch_all(&self.readers)
        .await?)
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

/// A room while a batch is being stored.
struct RoomRow {
    id: i64,
    last_seq: i64,
    first_seq: i64,
}

/// Rows per insert statement (7 parameters each, well under SQLite's limit).
const INSERT_CHUNK: usize = 512;

/// Stored messages already under the (room id, author id, client id) of any of
/// `messages`: one query for the whole batch, the keys passed as one JSON array.
async fn stored_retries<'a>(
    conn: &mut SqliteConnection,
    messages: impl Iterator<Item = (i64, &'a NewMessage)>,
) -> Result<HashMap<(i64, i64, String), ChatMessage>> {
    let keys: Vec<(i64, i64, &str)> = messages.map(|(room, m)| (room, m.author_id.0, m.client_id.0.as_str())).collect();
    let keys = serde_json::to_string(&keys).expect("ids and strings always serialise");
    let rows = sqlx::query(
        "SELECT m.seq, m.author, m.body, m.created_at, m.client_id, m.author_id, m.room_id
           FROM json_each(?1) AS k
           -- CROSS JOIN keeps this order: a few index look-ups, never a scan.
           CROSS JOIN messages m
             ON m.room_id = k.value ->> 0 AND m.author_id = k.value ->> 1 AND m.client_id = k.value ->> 2",
    )
    .bind(keys)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .iter()
        .map(|row| ((row.get::<i64, _>(6), row.get::<i64, _>(5), row.get::<String, _>(4)), to_message(row)))
        .collect())
}

fn to_message(row: &SqliteRow) -> ChatMessage {
    ChatMessage {
        seq: Seq(row.get::<i64, _>(0) as u64),
        author: row.get(1),
        body: row.get(2),
        sent_at: Timestamp(row.get(3)),
        client_id: ClientMsgId(row.get(4)),
    }
}

impl Store for SqliteStore {
    fn append_batch(&self, batch: Vec<NewMessage>) -> BoxFuture<'_, Result<Vec<Appended>>> {
        self.append_all(batch).boxed()
    }

    fn page<'a>(
        &'a self,
        room: &'a RoomName,
        before: Option<Seq>,
        limit: u32,
    ) -> BoxFuture<'a, Result<Vec<ChatMessage>>> {
        self.select_page(room, before, limit).boxed()
    }

    fn after<'a>(&'a self, room: &'a RoomName, after: Seq, limit: u32) -> BoxFuture<'a, Result<Vec<ChatMessage>>> {
        self.select_after(room, after, limit).boxed()
    }

    fn last_seq<'a>(&'a self, room: &'a RoomName) -> BoxFuture<'a, Result<Seq>> {
        self.select_last_seq(room).boxed()
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        self.shut().boxed()
    }
}
