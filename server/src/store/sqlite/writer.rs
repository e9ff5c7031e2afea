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

use app::error::ChatError;
use app::protocol::{ChatMessage, Seq};
use app::room_name::RoomName;

use super::checkpoints::Checkpoints;
use super::{message_columns, reply_join, MessageRow, RoomSeqs};
use crate::store::{Appended, Changed, MessageWriter, NewChange, NewMessage, Result};

/// Writes messages; not `Clone`.
pub struct SqliteWriter {
    pub(in crate::store) pool: SqlitePool,
    pub(super) readers: SqlitePool,
    pub(super) rooms: RoomSeqs,
    pub(super) checkpoints: Arc<Checkpoints>,
    /// Indexes what is stored for search (taken by `close`).
    pub(super) indexer: Option<super::search_index::Indexer>,
    /// Where files' contents are (a deleted message's go).
    pub(super) blobs: crate::files::Blobs,
}

impl SqliteWriter {
    /// Stores a batch in one transaction with a handful of statements, whatever its
    /// size or how many rooms it spans: one look-up of retried ids, then one
    /// multi-row insert, the authors' read positions and one update of the rooms'
    /// seqs, sent together (and an upsert for a room not seen since the start).
    /// sqlx runs each query on SQLite's own thread and waits for its answer, so
    /// round trips, not rows, are the cost: a commit is four (begin, the look-up,
    /// the changes, commit), where each statement on its own made it seven.
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
                        // Who makes a room owns it (an account's, if it is one).
                        "INSERT INTO rooms (name, created_at, owner_id)
                         VALUES (?1, ?2, (SELECT id FROM accounts WHERE id = ?3))
                         ON CONFLICT (name) DO UPDATE SET name = excluded.name
                         RETURNING id, last_seq",
                    )
                    .bind(message.room.as_str())
                    .bind(message.sent_at.0)
                    // A direct conversation has no owner: nobody moderates it.
                    .bind((!message.room.is_direct()).then_some(message.author_id.0))
                    .fetch_one(&mut *tx)
                    .await?
                }
            };
            rooms.insert(message.room.clone(), RoomRow { id, last_seq, first_seq: last_seq, last_at: 0 });
        }
        let mut stored = stored_retries(&mut tx, batch.iter().map(|m| (rooms[&m.room].id, m))).await?;
        let accounts = mentioned_accounts(&mut tx, &batch).await?;

        let mut out = Vec::with_capacity(batch.len());
        let mut fresh = Vec::with_capacity(batch.len());
        let mut mention_rows: Vec<(i64, i64, i64)> = Vec::new();
        // Per author and room: (account id, room id) -> (newest seq, its time, index of the first post in `out`).
        let mut authors: HashMap<(i64, i64), (i64, i64, usize)> = HashMap::new();
        for message in batch {
            let room = rooms.get_mut(&message.room).expect("every room of the batch has a row");
            let key = (room.id, message.author_id.0, message.client_id.0.clone());
            if let Some(earlier) = stored.get(&key) {
                out.push(Appended { message: earlier.clone(), duplicate: true, joined: false });
                continue;
            }
            room.last_seq += 1;
            room.last_at = room.last_at.max(message.sent_at.0);
            let mentions: Vec<String> =
                message.mentioned.into_iter().filter(|name| accounts.contains_key(name)).collect();
            for name in &mentions {
                // Mentioning oneself counts for nobody.
                if accounts[name] != key.1 {
                    mention_rows.push((accounts[name], key.0, room.last_seq));
                }
            }
            let message = ChatMessage {
                seq: Seq(room.last_seq as u64),
                author: message.author,
                username: message.author_username,
                body: message.body,
                sent_at: message.sent_at,
                client_id: message.client_id,
                mentions,
                edited_at: None,
                deleted: false,
                reactions: Vec::new(),
                reply: message.reply,
                file: message.file,
            };
            // A retry within the same batch is a duplicate of this one.
            stored.insert(key.clone(), message.clone());
            fresh.push((key.0, key.1, message.clone()));
            // The newest post's seq and time; the first post's index (it is the one that joined).
            let author = authors.entry((key.1, key.0)).or_insert((0, 0, out.len()));
            (author.0, author.1) = (room.last_seq, message.sent_at.0);
            out.push(Appended { message, duplicate: false, joined: false });
        }

        // What the batch changes, in one round trip to SQLite's thread: the
        // statements run one after the other, each with its own parameters.
        // The rooms this batch added to: (id, newest seq, its time).
        let changed: Vec<(i64, i64, i64)> =
            rooms.values().filter(|r| r.last_seq != r.first_seq).map(|r| (r.id, r.last_seq, r.last_at)).collect();
        let mut changes = Statements::default();
        for chunk in fresh.chunks(INSERT_CHUNK) {
            let insert = changes.next(
                "INSERT INTO messages (room_id, seq, author_id, author, username, body, created_at, client_id, mentions, \
                 reply_to, file) ",
            );
            insert.push_values(chunk, |mut row, (room_id, author_id, m)| {
                let mentions = (!m.mentions.is_empty())
                    .then(|| serde_json::to_string(&m.mentions).expect("strings always serialise"));
                row.push_bind(*room_id)
                    .push_bind(m.seq.0 as i64)
                    .push_bind(*author_id)
                    .push_bind(&m.author)
                    .push_bind(&m.username)
                    .push_bind(&m.body)
                    .push_bind(m.sent_at.0)
                    .push_bind(&m.client_id.0)
                    .push_bind(mentions)
                    .push_bind(m.reply.as_ref().map(|quote| quote.seq.0 as i64))
                    .push_bind(m.file.as_ref().map(|f| serde_json::to_string(f).expect("files always serialise")));
            });
        }
        // The uploads these messages posted are theirs now (only for a batch with files).
        let attached: Vec<(&str, i64)> =
            fresh.iter().filter_map(|(_, _, m)| m.file.as_ref().map(|f| (f.id.as_str(), m.seq.0 as i64))).collect();
        if !attached.is_empty() {
            changes
                .next("UPDATE uploads SET seq = u.value ->> 1 FROM json_each(")
                .push_bind(serde_json::to_string(&attached).expect("ids always serialise"))
                .push(") AS u WHERE uploads.id = u.value ->> 0 AND uploads.seq IS NULL");
        }
        for chunk in mention_rows.chunks(INSERT_CHUNK) {
            changes.next("INSERT OR IGNORE INTO mentions (account_id, room_id, seq) ").push_values(
                chunk,
                |mut row, (account, room, seq)| {
                    row.push_bind(*account).push_bind(*room).push_bind(*seq);
                },
            );
        }
        authors_join(&mut changes, &authors);
        if !changed.is_empty() {
            changes
                .next("UPDATE rooms SET last_seq = u.value ->> 1, last_at = u.value ->> 2 FROM json_each(")
                .push_bind(serde_json::to_string(&changed).expect("numbers always serialise"))
                .push(") AS u WHERE rooms.id = u.value ->> 0");
        }
        // The only rows the statements return: the (account id, room id) pairs
        // posting put in a list.
        if let Some(mut changes) = changes.0 {
            let joined: Vec<(i64, i64)> = changes.build_query_as().fetch_all(&mut *tx).await?;
            for (account, room) in joined {
                if let Some((_, _, at)) = authors.get(&(account, room)) {
                    out[*at].joined = true;
                }
            }
        }
        tx.commit().await?;
        // Only what is committed goes into the cache, and to the search index.
        if let Some(indexer) = &self.indexer {
            indexer.marks.committed(changed.iter().map(|(id, seq, _)| (*id, *seq)));
        }
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

    fn change(&mut self, change: NewChange) -> BoxFuture<'_, Result<std::result::Result<Changed, ChatError>>> {
        self.apply_change(change).boxed()
    }

    /// Closes the readers and the write connection, then checkpoints the log
    /// into the file one last time (after the last write).
    fn close(&mut self) -> BoxFuture<'_, ()> {
        async move {
            if let Some(indexer) = self.indexer.take() {
                indexer.close().await;
            }
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
    /// When its newest post of the batch was sent.
    last_at: i64,
}

/// Rows per insert statement (11 parameters each, well under SQLite's limit).
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
    let rows: Vec<RetryRow> = sqlx::query_as(concat!(
        "SELECT ",
        message_columns!(),
        ", m.author_id, m.room_id
           FROM json_each(?1) AS k
           -- CROSS JOIN keeps this order: a few index look-ups, never a scan.
           CROSS JOIN messages m
             ON m.room_id = k.value ->> 0 AND m.author_id = k.value ->> 1 AND m.client_id = k.value ->> 2",
        reply_join!()
    ))
    .bind(keys)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| ((row.room_id, row.author_id, row.message.client_id.clone()), row.message.into()))
        .collect())
}

/// The accounts named by the batch's mentions, by username: one query, and
/// none for a batch that mentions nobody.
async fn mentioned_accounts(conn: &mut SqliteConnection, batch: &[NewMessage]) -> Result<HashMap<String, i64>> {
    let mut names: Vec<&str> = batch.iter().flat_map(|m| m.mentioned.iter().map(String::as_str)).collect();
    if names.is_empty() {
        return Ok(HashMap::new());
    }
    names.sort_unstable();
    names.dedup();
    let names = serde_json::to_string(&names).expect("strings always serialise");
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT a.username, a.id FROM json_each(?1) AS k CROSS JOIN accounts a ON a.username = k.value")
            .bind(names)
            .fetch_all(&mut *conn)
            .await?;
    Ok(rows.into_iter().collect())
}

/// Posting puts the room in its author's list (while the list has room) and
/// reads it up to the post: two statements for the whole batch, the first
/// returning the (account id, room id) pairs that were not in a list before.
fn authors_join(changes: &mut Statements, authors: &HashMap<(i64, i64), (i64, i64, usize)>) {
    if authors.is_empty() {
        return;
    }
    let rows: Vec<(i64, i64, i64, i64)> =
        authors.iter().map(|((account, room), (seq, at, _))| (*account, *room, *at, *seq)).collect();
    let rows = serde_json::to_string(&rows).expect("numbers always serialise");
    changes
        .next(
            "INSERT OR IGNORE INTO memberships (account_id, room_id, joined_at, read_seq)
             SELECT u.value ->> 0, u.value ->> 1, u.value ->> 2, u.value ->> 3 FROM json_each(",
        )
        .push_bind(rows.clone())
        .push(
            ") AS u
              WHERE EXISTS (SELECT 1 FROM accounts a WHERE a.id = u.value ->> 0)
                AND (SELECT count(*) FROM memberships c WHERE c.account_id = u.value ->> 0) < ",
        )
        .push_bind(app::rooms::MAX_ROOMS_PER_ACCOUNT as i64)
        .push(" RETURNING account_id, room_id");
    changes
        .next("UPDATE memberships SET read_seq = max(read_seq, u.value ->> 3) FROM json_each(")
        .push_bind(rows)
        .push(") AS u WHERE memberships.account_id = u.value ->> 0 AND memberships.room_id = u.value ->> 1");
}

/// Statements sent to SQLite's thread as one query, run in order. Each binds
/// its own parameters with `?`, numbered on from the statement before.
#[derive(Default)]
struct Statements(Option<sqlx::QueryBuilder<sqlx::Sqlite>>);

impl Statements {
    /// Starts the next statement with `sql`.
    fn next(&mut self, sql: &str) -> &mut sqlx::QueryBuilder<sqlx::Sqlite> {
        match &mut self.0 {
            Some(query) => {
                query.push(";\n").push(sql);
            }
            None => self.0 = Some(sqlx::QueryBuilder::new(sql)),
        }
        self.0.as_mut().expect("just made")
    }
}
