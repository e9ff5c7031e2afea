//! The SQLite store: one database file in WAL mode, migrations embedded in the
//! binary, one writer connection (so writes never meet "database is locked") and a
//! small pool of readers that never wait for it.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::FutureExt;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row, SqliteConnection};

use app::protocol::{ChatMessage, ClientMsgId, Seq, Timestamp};
use app::room_name::RoomName;

use super::{Appended, NewMessage, Result, Store, StoreError};

const READERS: u32 = 4;
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    readers: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating it, and its directory, if need be) and migrates the file.
    pub async fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                path: dir.display().to_string(),
                source,
            })?;
        }
        let options = SqliteConnectOptions::from_str("sqlite:")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // Every acknowledged message survives a crash of the process or the machine.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations").run(&writer).await?;
        let readers = SqlitePoolOptions::new()
            .max_connections(READERS)
            .connect_with(options.read_only(true))
            .await?;
        Ok(SqliteStore { writer, readers })
    }

    pub(super) fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    pub(super) fn readers(&self) -> &SqlitePool {
        &self.readers
    }

    async fn append_all(&self, batch: Vec<NewMessage>) -> Result<Vec<Appended>> {
        let mut tx = self.writer.begin().await?;
        let mut out = Vec::with_capacity(batch.len());
        for message in batch {
            out.push(append_one(&mut tx, message).await?);
        }
        tx.commit().await?;
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
        let last: Option<i64> = sqlx::query_scalar("SELECT last_seq FROM rooms WHERE name = ?1")
            .bind(room.as_str())
            .fetch_optional(&self.readers)
            .await?;
        Ok(Seq(last.unwrap_or(0) as u64))
    }
}

async fn append_one(conn: &mut SqliteConnection, message: NewMessage) -> Result<Appended> {
    let room_id: i64 = sqlx::query_scalar(
        "INSERT INTO rooms (name, created_at) VALUES (?1, ?2)
         ON CONFLICT (name) DO UPDATE SET name = excluded.name
         RETURNING id",
    )
    .bind(message.room.as_str())
    .bind(message.sent_at.0)
    .fetch_one(&mut *conn)
    .await?;

    let existing = sqlx::query(
        "SELECT seq, author, body, created_at, client_id FROM messages
          WHERE room_id = ?1 AND author_id = ?2 AND client_id = ?3",
    )
    .bind(room_id)
    .bind(message.author_id.0)
    .bind(&message.client_id.0)
    .map(|row: SqliteRow| to_message(&row))
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(stored) = existing {
        return Ok(Appended { message: stored, duplicate: true });
    }

    let seq: i64 = sqlx::query_scalar(
        "UPDATE rooms SET last_seq = last_seq + 1 WHERE id = ?1 RETURNING last_seq",
    )
    .bind(room_id)
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO messages (room_id, seq, author_id, author, body, created_at, client_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .bind(room_id)
    .bind(seq)
    .bind(message.author_id.0)
    .bind(&message.author)
    .bind(&message.body)
    .bind(message.sent_at.0)
    .bind(&message.client_id.0)
    .execute(&mut *conn)
    .await?;
    Ok(Appended {
        message: ChatMessage {
            seq: Seq(seq as u64),
            author: message.author,
            body: message.body,
            sent_at: message.sent_at,
            client_id: message.client_id,
        },
        duplicate: false,
    })
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

    fn page<'a>(&'a self, room: &'a RoomName, before: Option<Seq>, limit: u32) -> BoxFuture<'a, Result<Vec<ChatMessage>>> {
        self.select_page(room, before, limit).boxed()
    }

    fn after<'a>(&'a self, room: &'a RoomName, after: Seq, limit: u32) -> BoxFuture<'a, Result<Vec<ChatMessage>>> {
        self.select_after(room, after, limit).boxed()
    }

    fn last_seq<'a>(&'a self, room: &'a RoomName) -> BoxFuture<'a, Result<Seq>> {
        self.select_last_seq(room).boxed()
    }
}
