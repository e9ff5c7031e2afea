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

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
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

/// Results the write connection's thread may send ahead of the task reading
/// them: a batch's look-up of at most [`BATCH`] messages, and the statement's
/// own result after them. With sqlx's default of 50, the thread waited for
/// each row past the 50th to be taken, and a batch of 250 was some 200
/// wake-ups of that thread and of the runtime.
pub(super) const ROWS: usize = BATCH as usize + 1;

/// How long the indexer gathers commits' marks before a batch (unless it is
/// catching up while the writer is idle: then it goes on at once).
const GATHER: std::time::Duration = std::time::Duration::from_millis(50);

/// While the indexer is behind, how long it leaves the write connection to
/// the messages between two batches (instead of [`GATHER`]).
const CATCH_UP: std::time::Duration = std::time::Duration::from_millis(5);

/// Rooms with messages to index: the newest seq committed, by room id, and
/// the rooms in the order they were marked (a room left behind by a batch
/// goes to the back, so every room gets its turn).
#[derive(Default)]
pub(super) struct Marks {
    rooms: Mutex<Queue>,
    /// Commits of messages so far: the indexer knows from it whether the
    /// writer is busy.
    commits: AtomicU64,
    wake: Notify,
}

#[derive(Default)]
struct Queue {
    newest: HashMap<i64, i64>,
    order: VecDeque<i64>,
}

impl Marks {
    /// The writer committed each room's messages up to its seq.
    pub(super) fn committed(&self, rooms: impl IntoIterator<Item = (i64, i64)>) {
        self.commits.fetch_add(1, Ordering::Relaxed);
        self.mark(rooms);
    }

    /// Each room's messages up to its seq are to be indexed; the indexer is
    /// woken only if there is any (a commit of retries alone marks none).
    fn mark(&self, rooms: impl IntoIterator<Item = (i64, i64)>) {
        let mut marked = self.rooms.lock().unwrap_or_else(PoisonError::into_inner);
        let Queue { newest, order } = &mut *marked;
        let mut any = false;
        for (room, seq) in rooms {
            any = true;
            match newest.entry(room) {
                Entry::Occupied(mut entry) => *entry.get_mut() = (*entry.get()).max(seq),
                Entry::Vacant(entry) => {
                    entry.insert(seq);
                    order.push_back(room);
                }
            }
        }
        drop(marked);
        if any {
            self.wake.notify_one();
        }
    }

    fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// The first `most` rooms marked, and whether any are left.
    fn take(&self, most: usize) -> (Vec<(i64, i64)>, bool) {
        let mut marked = self.rooms.lock().unwrap_or_else(PoisonError::into_inner);
        let Queue { newest, order } = &mut *marked;
        let taken = order
            .drain(..most.min(order.len()))
            .map(|room| (room, newest.remove(&room).expect("every queued room has a mark")))
            .collect();
        (taken, !order.is_empty())
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
///
/// A batch takes at most [`BATCH`] rooms, the longest waiting first. When
/// more was stored than a batch indexes, the next follows [`CATCH_UP`] later
/// (at once if the writer is idle) rather than a whole gather later: waiting
/// 50 ms after each batch of 250 indexed at most 5,000 messages a second, and
/// above that the marked rooms piled up and every batch went through all of
/// them (6,000 rooms of 3 at 1/s: 5,000 rooms marked after 12 s, batches of
/// 15 ms, commits of messages waiting on them).
async fn run(pool: SqlitePool, marks: Arc<Marks>, stop: CancellationToken) {
    // More is marked than the last batch took.
    let mut behind = false;
    // The writer committed nothing during the last batch.
    let mut idle = false;
    loop {
        if !behind {
            tokio::select! {
                () = stop.cancelled() => return,
                () = marks.wake.notified() => {}
            }
        }
        // What the next commits mark meanwhile joins this batch; behind, the
        // writer's posts get the connection between two batches.
        let pause = match (behind, idle) {
            (false, _) => Some(GATHER),
            (true, false) => Some(CATCH_UP),
            (true, true) => None,
        };
        if let Some(pause) = pause {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(pause) => {}
            }
        }
        let (marked, more) = marks.take(BATCH as usize);
        if marked.is_empty() {
            behind = false;
            continue;
        }
        let commits = marks.commits();
        (behind, idle) = match index(&pool, marked).await {
            Ok(left) => {
                let left_some = !left.is_empty();
                marks.mark(left);
                (more || left_some, marks.commits() == commits)
            }
            Err(error) => {
                crate::metrics::METRICS.search_index_failures.inc();
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
                (true, true)
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
async fn index(pool: &SqlitePool, marked: Vec<(i64, i64)>) -> Result<Vec<(i64, i64)>> {
    let mut conn = pool.acquire().await?;
    let held = std::time::Instant::now();
    sqlx::query("PRAGMA synchronous = NORMAL").execute(&mut *conn).await?;
    let indexed = index_batch(&mut conn, marked).await;
    let restored = sqlx::query("PRAGMA synchronous = FULL").execute(&mut *conn).await;
    crate::metrics::METRICS.search_index_seconds.observe(held.elapsed().as_secs_f64());
    if let Err(error) = restored {
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

async fn index_batch(conn: &mut SqliteConnection, wanted: Vec<(i64, i64)>) -> Result<Vec<(i64, i64)>> {
    let mut tx = sqlx::Connection::begin(conn).await?;
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

#[cfg(test)]
mod tests {
    use super::Marks;

    #[test]
    fn rooms_are_taken_in_the_order_they_were_marked_and_a_room_left_behind_goes_last() {
        let marks = Marks::default();
        marks.committed([(1, 5), (2, 3), (3, 9)]);
        // A room marked again keeps its place and its newest seq.
        marks.committed([(2, 7), (1, 4)]);
        assert_eq!(marks.take(2), (vec![(1, 5), (2, 7)], true));
        // Room 1 was left behind by that batch: it waits behind room 3.
        marks.mark([(1, 5)]);
        assert_eq!(marks.take(10), (vec![(3, 9), (1, 5)], false));
        assert_eq!(marks.take(10), (vec![], false));
        assert_eq!(marks.commits(), 2);
    }

    #[test]
    fn the_indexer_is_woken_only_when_something_is_marked() {
        use futures::FutureExt;
        let marks = Marks::default();
        // A commit of retries alone stores nothing new.
        marks.committed([]);
        assert!(marks.wake.notified().now_or_never().is_none(), "nothing marked: no wake");
        assert_eq!(marks.commits(), 1, "the commit still counts");
        marks.committed([(1, 2)]);
        assert!(marks.wake.notified().now_or_never().is_some(), "a room marked wakes the indexer");
    }
}
