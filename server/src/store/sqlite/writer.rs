//! The one writer of messages. It shares the database's single write connection
//! with the accounts (sign-ups and sessions write rarely), and is the only place
//! seqs are assigned: [`SqliteStore::open`] hands out exactly one, and the hub's
//! poster task owns it.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError};

use futures::future::BoxFuture;
use futures::FutureExt;
use sqlx::sqlite::SqlitePool;
use sqlx::SqliteConnection;

use app::protocol::{ChatMessage, Seq};
use app::room_name::RoomName;

use super::checkpoints::Checkpoints;
use super::{MessageRow, RoomSeqs};
use crate::store::{Appended, MessageWriter, NewMessage, Result};

/// Writes messages; not `Clone`.
pub struct SqliteWriter {
    pub(super) pool: SqlitePool,
    pub(super) readers: SqlitePool,
    pub(super) rooms: RoomSeqs,
    pub(super) checkpoints: Arc<Checkpoints>,
}

impl SqliteWriter {
    /// Stores a batch in one transaction with a handful of statements, whatever its
    /// size or how many rooms it spans: one look-up of retried ids, one multi-row
    /// insert, one seq update per room (and an upsert for a room not seen since the
    /// start). sqlx runs each statement on SQLite's own thread, so statements, not
    /// rows, are the cost.
    async fn append_all(&mut self, batch: Vec<NewMessage>) -> Result<Vec<Appended>> {
        let mut tx = self.pool.begin().await?;
        let known: HashMap<RoomName, (i64, i64)> = {
            let cache = self.rooms.lock().unwrap_or_else(PoisonError::into_inner);
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
        let mut cache = self.rooms.lock().unwrap_or_else(PoisonError::into_inner);
        for (name, room) in rooms {
            cache.insert(name, (room.id, room.last_seq));
        }
        Ok(out)
    }
}

impl MessageWriter for SqliteWriter {
    fn append_batch(&mut self, batch: Vec<NewMessage>) -> BoxFuture<'_, Result<Vec<Appended>>> {
        self.append_all(batch).boxed()
    }

    /// Closes the readers and the write connection, then checkpoints the log
    /// into the file one last time (after the last write).
    fn close(&mut self) -> BoxFuture<'_, ()> {
        async move {
            self.readers.close().await;
            self.pool.close().await;
            self.checkpoints.close().await;
        }
        .boxed()
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

/// A stored message with the keys a retry is recognised by.
#[derive(sqlx::FromRow)]
struct RetryRow {
    #[sqlx(flatten)]
    message: MessageRow,
    room_id: i64,
    author_id: i64,
}

/// Stored messages already under the (room id, author id, client id) of any of
/// `messages`: one query for the whole batch, the keys passed as one JSON array.
async fn stored_retries<'a>(
    conn: &mut SqliteConnection,
    messages: impl Iterator<Item = (i64, &'a NewMessage)>,
) -> Result<HashMap<(i64, i64, String), ChatMessage>> {
    let keys: Vec<(i64, i64, &str)> = messages.map(|(room, m)| (room, m.author_id.0, m.client_id.0.as_str())).collect();
    let keys = serde_json::to_string(&keys).expect("ids and strings always serialise");
    let rows: Vec<RetryRow> = sqlx::query_as(
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
        .into_iter()
        .map(|row| ((row.room_id, row.author_id, row.message.client_id.clone()), row.message.into()))
        .collect())
}
