//! The search index: an FTS5 table of the rooms' messages (contentless: the
//! text stays in `messages`; the index holds tokens, see `crate::search`;
//! `search_rows` names each row's message, rows numbered in indexing order),
//! kept by a task of its own so that storing a message never waits for
//! tokenizing it. After each commit the writer marks its rooms; the task
//! indexes what is new (what the commits of [`GATHER`] marked), a bounded
//! batch per transaction on the one write connection, and records per room
//! how far it got (`search_progress`, in the same transaction: a crash loses
//! nothing, the next start goes on from there). Edits and deletes change the
//! index in their own transaction when the message is indexed already; one
//! not yet indexed is read as it is when its turn comes. A deleted message's
//! tokens are removed at once (FTS5's secure-delete; a contentless table with
//! `contentless_delete` would only mark them deleted, which leaves the words
//! in the file).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use sqlx::sqlite::SqlitePool;
use sqlx::SqliteConnection;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::search::text::indexed;
use crate::store::Result;

/// Most messages indexed per transaction. The write connection is shared
/// with the messages' writer, and a commit of messages waits for the batch
/// in progress: small batches keep that wait short (see [`index`] for why
/// their number costs no disk syncs).
const BATCH: i64 = 250;

/// How long the indexer gathers commits' marks before a batch (unless it is
/// catching up while the writer is idle: then it goes on at once).
const GATHER: std::time::Duration = std::time::Duration::from_millis(50);

/// Rooms with messages to index, by id: the newest seq committed.
#[derive(Default)]
pub(super) struct Marks {
    rooms: Mutex<HashMap<i64, i64>>,
    /// Commits of messages so far: the indexer knows from it whether the
    /// writer is busy.
    commits: AtomicU64,
    wake: Notify,
}

impl Marks {
    /// The writer committed each room's messages up to its seq.
    pub(super) fn committed(&self, rooms: impl IntoIterator<Item = (i64, i64)>) {
        self.commits.fetch_add(1, Ordering::Relaxed);
        self.mark(rooms);
    }

    /// Each room's messages up to its seq are to be indexed.
    fn mark(&self, rooms: impl IntoIterator<Item = (i64, i64)>) {
        let mut marked = self.rooms.lock().unwrap_or_else(PoisonError::into_inner);
        for (room, seq) in rooms {
            let newest = marked.entry(room).or_insert(seq);
            *newest = (*newest).max(seq);
        }
        drop(marked);
        self.wake.notify_one();
    }

    fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    fn take(&self) -> HashMap<i64, i64> {
        std::mem::take(&mut *self.rooms.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// The indexing task; ends (after the batch it is in) when `stop` is cancelled.
pub(super) struct Indexer {
    pub marks: Arc<Marks>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Indexer {
    /// Starts the task, with every room whose messages are not all indexed
    /// (after a crash, or the first start with search) marked.
    pub(super) async fn start(pool: SqlitePool) -> Result<Self> {
        let marks = Arc::new(Marks::default());
        marks.mark(Self::behind(&pool).await?);
        let stop = CancellationToken::new();
        let task = tokio::spawn(run(pool, marks.clone(), stop.clone()));
        Ok(Indexer { marks, stop, task })
    }

    /// Ends the task (what is not indexed yet is, at the next start).
    pub(super) async fn close(self) {
        self.stop.cancel();
        if let Err(error) = self.task.await {
            tracing::error!(%error, "the search indexer panicked");
        }
    }
}

/// Indexes what the commits of the last [`GATHER`] stored, and what was left
/// from the last batch. Many small rooms commit hundreds of times a second, a
/// few posts each: indexing after each commit put an index transaction
/// between every two commits of messages, each commit waiting for one.
/// Gathering for 50 ms (yielding to the writer between batches while it is
/// busy), side by side: 1,000 rooms of 10 at 10,000 posts/s offered stored
/// 7,870-7,990/s against 6,700-6,890, and one room of 200 at 6,000/s kept its
/// p99 (BENCHMARKS.md). Gathering for half a second, tried earlier, had that
/// one room's p99 up by two thirds: its batches held the write connection
/// too long.
async fn run(pool: SqlitePool, marks: Arc<Marks>, stop: CancellationToken) {
    // Behind, and the writer committed nothing during the last batch.
    let mut go_on = false;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = marks.wake.notified() => {}
        }
        if !go_on {
            // What the next commits mark meanwhile joins this batch.
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(GATHER) => {}
            }
        }
        let marked = marks.take();
        if marked.is_empty() {
            continue;
        }
        let commits = marks.commits();
        go_on = match index(&pool, marked).await {
            Ok(behind) if behind.is_empty() => false,
            // More than a batch: the rest next, at once if the writer is idle.
            Ok(behind) => {
                marks.mark(behind);
                marks.commits() == commits
            }
            Err(error) => {
                tracing::error!(%error, "indexing messages for search failed; retrying shortly");
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                }
                // Which rooms are behind is in the database.
                match Indexer::behind(&pool).await {
                    Ok(behind) => marks.mark(behind),
                    Err(error) => tracing::error!(%error, "reading the search index's progress failed"),
                }
                true
            }
        };
    }
}

impl Indexer {
    async fn behind(pool: &SqlitePool) -> Result<Vec<(i64, i64)>> {
        Ok(sqlx::query_as(
            "SELECT r.id, r.last_seq FROM rooms r LEFT JOIN search_progress p ON p.room_id = r.id
              WHERE r.last_seq > coalesce(p.seq, 0)",
        )
        .fetch_all(pool)
        .await?)
    }
}

/// Indexes up to [`BATCH`] messages of the `marked` rooms in one
/// transaction; returns the rooms it did not get to the end of.
///
/// The transaction commits without syncing the disk (`synchronous=NORMAL`,
/// then `FULL` again for the messages): in WAL mode commits reach the disk
/// in order, so the next commit of messages, which syncs, makes this one
/// durable too, and a crash before it loses only index rows with their
/// progress, which the next start redoes. The connection goes back to the
/// messages' writer only once it is `FULL` again, or is closed.
async fn index(pool: &SqlitePool, marked: HashMap<i64, i64>) -> Result<Vec<(i64, i64)>> {
    let mut conn = pool.acquire().await?;
    sqlx::query("PRAGMA synchronous = NORMAL").execute(&mut *conn).await?;
    let indexed = index_batch(&mut conn, marked).await;
    if let Err(error) = sqlx::query("PRAGMA synchronous = FULL").execute(&mut *conn).await {
        // Never hand the writer a connection that does not sync: a new one,
        // opened with the store's options, takes its place.
        tracing::error!(%error, "restoring synchronous=FULL failed; closing the connection");
        if let Err(error) = sqlx::Connection::close(conn.detach()).await {
            tracing::warn!(%error, "closing the connection failed");
        }
        return Err(error.into());
    }
    indexed
}

async fn index_batch(conn: &mut SqliteConnection, marked: HashMap<i64, i64>) -> Result<Vec<(i64, i64)>> {
    let mut tx = sqlx::Connection::begin(conn).await?;
    let wanted: Vec<(i64, i64)> = marked.into_iter().collect();
    let wanted_json = serde_json::to_string(&wanted).expect("numbers always serialise");
    // Where each room's index is, in one query.
    let done: HashMap<i64, i64> = sqlx::query_as(
        "SELECT p.room_id, p.seq FROM json_each(?1) AS k JOIN search_progress p ON p.room_id = k.value ->> 0",
    )
    .bind(&wanted_json)
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .collect();
    // Each room's share of the batch, its oldest messages first: an equal
    // share each (so that rows are numbered about in the order the messages
    // were sent, whichever rooms are behind), and what the others leave.
    let share = (BATCH / wanted.len().max(1) as i64).max(50);
    let mut budget = BATCH;
    let mut ranges = Vec::new();
    let mut behind = Vec::new();
    for (room, newest) in wanted {
        let from = done.get(&room).copied().unwrap_or(0);
        if newest <= from {
            continue;
        }
        let upto = newest.min(from + share.min(budget).max(0));
        if upto > from {
            ranges.push((room, from, upto));
            budget -= upto - from;
        }
        if upto < newest {
            behind.push((room, newest));
        }
    }
    if ranges.is_empty() {
        return Ok(behind);
    }
    let ranges_json = serde_json::to_string(&ranges).expect("numbers always serialise");
    let rows: Vec<Indexed> = sqlx::query_as(
        "SELECT m.room_id, m.seq, m.body, r.name AS room, coalesce(m.username, '') AS author FROM json_each(?1) AS k
           CROSS JOIN messages m ON m.room_id = k.value ->> 0 AND m.seq > k.value ->> 1 AND m.seq <= k.value ->> 2
           CROSS JOIN rooms r ON r.id = m.room_id
          WHERE m.deleted_at IS NULL
          ORDER BY m.created_at, m.room_id, m.seq",
    )
    .bind(&ranges_json)
    .fetch_all(&mut *tx)
    .await?;
    // Index rows are numbered in the order they are made (about the order
    // the messages were sent): the newest first is the index read backwards.
    let last: i64 = sqlx::query_scalar("SELECT coalesce(max(id), 0) FROM search_rows").fetch_one(&mut *tx).await?;
    let numbered: Vec<(i64, &Indexed)> = (last + 1..).zip(rows.iter()).collect();
    for chunk in numbered.chunks(INSERT_CHUNK) {
        let mut insert = sqlx::QueryBuilder::new("INSERT INTO search_rows (id, room_id, seq) ");
        insert.push_values(chunk, |mut row, (id, m)| {
            row.push_bind(*id).push_bind(m.room_id).push_bind(m.seq);
        });
        insert.build().execute(&mut *tx).await?;
    }
    insert(&mut tx, numbered.iter().map(|(id, m)| (*id, indexed(&m.body), m.room.clone(), m.author.clone()))).await?;
    sqlx::query(
        // (`WHERE true`: SQLite's parser needs it before an upsert's ON.)
        "INSERT INTO search_progress (room_id, seq)
         SELECT k.value ->> 0, k.value ->> 2 FROM json_each(?1) AS k WHERE true
         ON CONFLICT (room_id) DO UPDATE SET seq = max(seq, excluded.seq)",
    )
    .bind(&ranges_json)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(behind)
}

/// A message to index: where it is, its text, its room's name and author's
/// username (indexed in columns of their own, so a search within a room or
/// by an author is narrowed by the index itself).
#[derive(sqlx::FromRow)]
struct Indexed {
    room_id: i64,
    seq: i64,
    body: String,
    room: String,
    author: String,
}

/// Rows per insert statement.
const INSERT_CHUNK: usize = 500;

/// Adds `(rowid, indexed text, room, author)` rows to the index.
pub(super) async fn insert(
    conn: &mut SqliteConnection,
    rows: impl Iterator<Item = (i64, String, String, String)>,
) -> Result<()> {
    let rows: Vec<(i64, String, String, String)> = rows.collect();
    for chunk in rows.chunks(INSERT_CHUNK) {
        let mut insert = sqlx::QueryBuilder::new("INSERT INTO search (rowid, body, room, author) ");
        insert.push_values(chunk, |mut row, (id, text, room, author)| {
            row.push_bind(*id).push_bind(text.as_str()).push_bind(room.as_str()).push_bind(author.as_str());
        });
        insert.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// An edit or a delete of message `seq`, whose body was `old`: when it is
/// indexed already, its old tokens go, and (an edit) its new ones come.
pub(super) async fn changed(
    conn: &mut SqliteConnection,
    (room_id, seq): (i64, i64),
    old: &str,
    new: Option<&str>,
) -> Result<()> {
    let row: Option<(i64, String, String)> = sqlx::query_as(
        "SELECT sr.id, r.name, coalesce(m.username, '') FROM search_rows sr
           JOIN rooms r ON r.id = sr.room_id JOIN messages m ON m.room_id = sr.room_id AND m.seq = sr.seq
          WHERE sr.room_id = ?1 AND sr.seq = ?2",
    )
    .bind(room_id)
    .bind(seq)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((id, room, author)) = row else { return Ok(()) };
    // The delete command is given what the row was indexed with.
    sqlx::query("INSERT INTO search (search, rowid, body, room, author) VALUES ('delete', ?1, ?2, ?3, ?4)")
        .bind(id)
        .bind(indexed(old))
        .bind(&room)
        .bind(&author)
        .execute(&mut *conn)
        .await?;
    match new {
        Some(new) => insert(conn, std::iter::once((id, indexed(new), room, author))).await?,
        None => {
            sqlx::query("DELETE FROM search_rows WHERE id = ?1").bind(id).execute(&mut *conn).await?;
        }
    }
    Ok(())
}
