//! This process's writer of messages. Several processes write to one database,
//! each with its own writer: the seqs stay gapless and in one order because a
//! batch assigns them under its rooms' row locks, from the rooms' rows as
//! committed by whoever wrote last.

use std::collections::{BTreeMap, HashMap};
use std::sync::PoisonError;

use futures::future::BoxFuture;
use futures::FutureExt;
use sqlx::PgConnection;

use app::error::ChatError;
use app::protocol::{ChatMessage, Seq};
use app::room_name::RoomName;

use super::{message_columns, reply_join, PgStore};
use crate::store::rows::MessageRow;
use crate::store::{Appended, Changed, MessageWriter, NewChange, NewMessage, Result};

/// Writes messages; one per process, not `Clone`.
pub struct PgWriter {
    pub(super) store: PgStore,
}

/// A room while a batch is being stored.
struct RoomRow {
    id: i64,
    /// Its newest seq: as locked, then as this batch leaves it.
    last_seq: i64,
    first_seq: i64,
    /// When its newest post of the batch was sent.
    last_at: i64,
}

impl PgWriter {
    pub(super) fn new(store: PgStore) -> Self {
        PgWriter { store }
    }

    /// Stores a batch in one transaction with a handful of statements, whatever its
    /// size or how many rooms it spans: rooms not seen before made (one insert),
    /// the batch's rooms locked in ascending id (one select), one look-up of
    /// retried ids, one insert of the messages, one update of the rooms.
    async fn append_all(&mut self, batch: Vec<NewMessage>) -> Result<Vec<Appended>> {
        let mut tx = self.store.pool().begin().await?;
        let mut rooms = lock_rooms(&mut tx, &self.store, &batch).await?;
        let mut stored = stored_retries(&mut tx, batch.iter().map(|m| (rooms[&m.room].id, m))).await?;
        let accounts = mentioned_accounts(&mut tx, &batch).await?;

        let mut out = Vec::with_capacity(batch.len());
        let mut fresh = Vec::with_capacity(batch.len());
        let mut mention_rows: Vec<(i64, i64, i64)> = Vec::new();
        // Per author and room: (account id, room id) -> (newest seq, its time, index of the first post in `out`).
        let mut authors: HashMap<(i64, i64), (i64, i64, usize)> = HashMap::new();
        for message in batch {
            let room = rooms.get_mut(&message.room).expect("every room of the batch is locked");
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
            let author = authors.entry((key.1, key.0)).or_insert((0, 0, out.len()));
            (author.0, author.1) = (room.last_seq, message.sent_at.0);
            out.push(Appended { message, duplicate: false, joined: false });
        }

        insert_messages(&mut tx, &fresh).await?;
        attach_uploads(&mut tx, &fresh).await?;
        if !mention_rows.is_empty() {
            let (accounts, rooms, seqs): (Vec<i64>, Vec<i64>, Vec<i64>) = unzip3(mention_rows);
            sqlx::query(
                "INSERT INTO mentions (account_id, room_id, seq)
                 SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[])
                 ON CONFLICT DO NOTHING",
            )
            .bind(accounts)
            .bind(rooms)
            .bind(seqs)
            .execute(&mut *tx)
            .await?;
        }
        for (account, room) in authors_join(&mut tx, &authors).await? {
            if let Some((_, _, at)) = authors.get(&(account, room)) {
                out[*at].joined = true;
            }
        }
        let changed: Vec<(i64, i64, i64)> =
            rooms.values().filter(|r| r.last_seq != r.first_seq).map(|r| (r.id, r.last_seq, r.last_at)).collect();
        if !changed.is_empty() {
            let (ids, seqs, ats) = unzip3(changed);
            sqlx::query(
                "UPDATE rooms SET last_seq = u.seq, last_at = GREATEST(COALESCE(rooms.last_at, 0), u.at)
                   FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS u (id, seq, at)
                  WHERE rooms.id = u.id",
            )
            .bind(ids)
            .bind(seqs)
            .bind(ats)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        let mut ids = self.store.rooms.lock().unwrap_or_else(PoisonError::into_inner);
        for (name, room) in &rooms {
            ids.entry(name.clone()).or_insert(room.id);
        }
        drop(ids);
        for (name, room) in &rooms {
            self.store.note_committed(name, room.last_seq);
        }
        Ok(out)
    }
}

impl MessageWriter for PgWriter {
    fn append_batch(&mut self, batch: Vec<NewMessage>) -> BoxFuture<'_, Result<Vec<Appended>>> {
        self.append_all(batch).boxed()
    }

    fn change(&mut self, change: NewChange) -> BoxFuture<'_, Result<std::result::Result<Changed, ChatError>>> {
        self.apply_change(change).boxed()
    }

    /// Closes this process's connections (after its last write).
    fn close(&mut self) -> BoxFuture<'_, ()> {
        async move { self.store.close().await }.boxed()
    }
}

/// Makes the batch's rooms that do not exist yet (a room is made by its first
/// message; who makes one owns it), then locks them all, in ascending id: two
/// processes' batches over the same rooms take their locks in the same order,
/// so neither can hold one the other waits for while waiting for one the
/// other holds. (Making rooms locks only the new rows, in name order; a
/// `DO NOTHING` conflict locks nothing.) Returns each room's id and newest seq
/// as committed by whoever wrote last.
async fn lock_rooms(
    tx: &mut PgConnection,
    store: &PgStore,
    batch: &[NewMessage],
) -> Result<HashMap<RoomName, RoomRow>> {
    // Each room's first message (for a new room's owner and time), by name.
    let mut first: BTreeMap<&RoomName, &NewMessage> = BTreeMap::new();
    for message in batch {
        first.entry(&message.room).or_insert(message);
    }
    let by_name: HashMap<&str, &RoomName> = first.keys().map(|name| (name.as_str(), *name)).collect();
    let known: HashMap<RoomName, i64> = {
        let ids = store.rooms.lock().unwrap_or_else(PoisonError::into_inner);
        first.keys().filter_map(|name| ids.get(*name).map(|id| ((*name).clone(), *id))).collect()
    };
    let unknown: Vec<&NewMessage> =
        first.iter().filter(|(name, _)| !known.contains_key(**name)).map(|(_, message)| *message).collect();
    let mut ids: Vec<i64> = known.values().copied().collect();
    if !unknown.is_empty() {
        let names: Vec<&str> = unknown.iter().map(|m| m.room.as_str()).collect();
        let times: Vec<i64> = unknown.iter().map(|m| m.sent_at.0).collect();
        // A direct conversation has no owner: nobody moderates it.
        let owners: Vec<Option<i64>> = unknown.iter().map(|m| (!m.room.is_direct()).then_some(m.author_id.0)).collect();
        sqlx::query(
            "INSERT INTO rooms (name, created_at, owner_id)
             SELECT u.name, u.at, (SELECT a.id FROM accounts a WHERE a.id = u.owner)
               FROM unnest($1::text[], $2::bigint[], $3::bigint[]) WITH ORDINALITY AS u (name, at, owner, i)
              ORDER BY u.i
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(&names)
        .bind(times)
        .bind(owners)
        .execute(&mut *tx)
        .await?;
        let made: Vec<(i64, String)> =
            sqlx::query_as("SELECT id, name FROM rooms WHERE name = ANY($1)").bind(&names).fetch_all(&mut *tx).await?;
        // Kept once the batch commits (a rolled-back room has no row).
        ids.extend(made.iter().map(|(id, _)| *id));
    }
    let locked: Vec<(i64, String, i64)> =
        sqlx::query_as("SELECT id, name, last_seq FROM rooms WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE")
            .bind(&ids)
            .fetch_all(&mut *tx)
            .await?;
    let mut rooms = HashMap::with_capacity(locked.len());
    for (id, name, last_seq) in locked {
        let Some(name) = by_name.get(name.as_str()) else { continue };
        rooms.insert((*name).clone(), RoomRow { id, last_seq, first_seq: last_seq, last_at: 0 });
    }
    if let Some(missing) = first.keys().find(|name| !rooms.contains_key(**name)) {
        // A room this process knew was deleted meanwhile: forget its id and fail
        // the batch (its senders retry, and the room is made again).
        store.rooms.lock().unwrap_or_else(PoisonError::into_inner).remove(*missing);
        return Err(sqlx::Error::RowNotFound.into());
    }
    Ok(rooms)
}

/// The new messages, one statement (one array per column).
async fn insert_messages(tx: &mut PgConnection, fresh: &[(i64, i64, ChatMessage)]) -> Result<()> {
    if fresh.is_empty() {
        return Ok(());
    }
    let n = fresh.len();
    let (mut rooms, mut seqs, mut authors) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut names, mut usernames, mut bodies) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut times, mut ids, mut mentions) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut replies, mut files, mut searched) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    for (room_id, author_id, m) in fresh {
        rooms.push(*room_id);
        seqs.push(m.seq.0 as i64);
        authors.push(*author_id);
        names.push(m.author.as_str());
        usernames.push(m.username.as_str());
        bodies.push(m.body.as_str());
        times.push(m.sent_at.0);
        ids.push(m.client_id.0.as_str());
        mentions.push(
            (!m.mentions.is_empty()).then(|| serde_json::to_string(&m.mentions).expect("strings always serialise")),
        );
        replies.push(m.reply.as_ref().map(|quote| quote.seq.0 as i64));
        files.push(m.file.as_ref().map(|f| serde_json::to_string(f).expect("files always serialise")));
        searched.push(crate::search::text::indexed(&m.body));
    }
    sqlx::query(
        "INSERT INTO messages (room_id, seq, author_id, author, username, body, created_at, client_id, mentions, \
         reply_to, file, search)
         SELECT u.room_id, u.seq, u.author_id, u.author, u.username, u.body, u.created_at, u.client_id, u.mentions, \
                u.reply_to, u.file, to_tsvector('simple', chat_unaccent(u.search))
           FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], \
                $7::bigint[], $8::text[], $9::text[], $10::bigint[], $11::text[], $12::text[])
             AS u (room_id, seq, author_id, author, username, body, created_at, client_id, mentions, reply_to, \
                   file, search)",
    )
    .bind(rooms)
    .bind(seqs)
    .bind(authors)
    .bind(names)
    .bind(usernames)
    .bind(bodies)
    .bind(times)
    .bind(ids)
    .bind(mentions)
    .bind(replies)
    .bind(files)
    .bind(searched)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The uploads these messages posted are theirs now (one statement, only for
/// a batch with files).
async fn attach_uploads(tx: &mut PgConnection, fresh: &[(i64, i64, ChatMessage)]) -> Result<()> {
    let (ids, seqs): (Vec<&str>, Vec<i64>) =
        fresh.iter().filter_map(|(_, _, m)| m.file.as_ref().map(|f| (f.id.as_str(), m.seq.0 as i64))).unzip();
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "UPDATE uploads SET seq = u.seq FROM unnest($1::text[], $2::bigint[]) AS u (id, seq)
          WHERE uploads.id = u.id AND uploads.seq IS NULL",
    )
    .bind(ids)
    .bind(seqs)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// A stored message with the keys a retry is recognised by.
#[derive(sqlx::FromRow)]
struct RetryRow {
    #[sqlx(flatten)]
    message: MessageRow,
    room_id: i64,
    author_id: i64,
}

/// Stored messages already under the (room id, author id, client id) of any of
/// `messages`: one query for the whole batch, made under the rooms' locks, so
/// that it sees every message committed before them.
async fn stored_retries<'a>(
    conn: &mut PgConnection,
    messages: impl Iterator<Item = (i64, &'a NewMessage)>,
) -> Result<HashMap<(i64, i64, String), ChatMessage>> {
    let (mut rooms, mut authors, mut ids) = (Vec::new(), Vec::new(), Vec::new());
    for (room, m) in messages {
        rooms.push(room);
        authors.push(m.author_id.0);
        ids.push(m.client_id.0.as_str());
    }
    let rows: Vec<RetryRow> = sqlx::query_as(concat!(
        "SELECT ",
        message_columns!(),
        ", m.author_id, m.room_id
           FROM unnest($1::bigint[], $2::bigint[], $3::text[]) AS k (room_id, author_id, client_id)
           JOIN messages m ON m.room_id = k.room_id AND m.author_id = k.author_id AND m.client_id = k.client_id",
        reply_join!()
    ))
    .bind(rooms)
    .bind(authors)
    .bind(ids)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| ((row.room_id, row.author_id, row.message.client_id.clone()), row.message.into()))
        .collect())
}

/// The accounts named by the batch's mentions, by username: one query, and
/// none for a batch that mentions nobody.
async fn mentioned_accounts(conn: &mut PgConnection, batch: &[NewMessage]) -> Result<HashMap<String, i64>> {
    let mut names: Vec<&str> = batch.iter().flat_map(|m| m.mentioned.iter().map(String::as_str)).collect();
    if names.is_empty() {
        return Ok(HashMap::new());
    }
    names.sort_unstable();
    names.dedup();
    let rows: Vec<(String, i64)> = sqlx::query_as("SELECT username, id FROM accounts WHERE username = ANY($1)")
        .bind(names)
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows.into_iter().collect())
}

/// Posting puts the room in its author's list (while the list has room) and
/// reads it up to the post: two statements for the whole batch. Returns the
/// (account id, room id) pairs that were not in a list before.
async fn authors_join(
    conn: &mut PgConnection,
    authors: &HashMap<(i64, i64), (i64, i64, usize)>,
) -> Result<Vec<(i64, i64)>> {
    if authors.is_empty() {
        return Ok(Vec::new());
    }
    // In (account, room) order, as every statement that locks memberships
    // takes them: two transactions never hold one the other waits for.
    let mut ordered: Vec<_> = authors.iter().collect();
    ordered.sort_unstable_by_key(|(key, _)| **key);
    let (mut accounts, mut rooms, mut ats, mut seqs) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for ((account, room), (seq, at, _)) in ordered {
        accounts.push(*account);
        rooms.push(*room);
        ats.push(*at);
        seqs.push(*seq);
    }
    let joined: Vec<(i64, i64)> = sqlx::query_as(
        "INSERT INTO memberships (account_id, room_id, joined_at, read_seq)
         SELECT u.account, u.room, u.at, u.seq
           FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[]) AS u (account, room, at, seq)
          WHERE EXISTS (SELECT 1 FROM accounts a WHERE a.id = u.account)
            AND (SELECT count(*) FROM memberships c WHERE c.account_id = u.account) < $5
         ON CONFLICT DO NOTHING
         RETURNING account_id, room_id",
    )
    .bind(&accounts)
    .bind(&rooms)
    .bind(&ats)
    .bind(&seqs)
    .bind(app::rooms::MAX_ROOMS_PER_ACCOUNT as i64)
    .fetch_all(&mut *conn)
    .await?;
    sqlx::query(
        "WITH u AS (SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS u (account, room, seq)),
              locked AS (
                  SELECT m.account_id, m.room_id, u.seq FROM memberships m
                    JOIN u ON m.account_id = u.account AND m.room_id = u.room
                   ORDER BY m.account_id, m.room_id
                     FOR NO KEY UPDATE OF m
              )
         UPDATE memberships SET read_seq = GREATEST(memberships.read_seq, l.seq)
           FROM locked l
          WHERE memberships.account_id = l.account_id AND memberships.room_id = l.room_id",
    )
    .bind(&accounts)
    .bind(&rooms)
    .bind(&seqs)
    .execute(&mut *conn)
    .await?;
    Ok(joined)
}

fn unzip3<A, B, C>(rows: Vec<(A, B, C)>) -> (Vec<A>, Vec<B>, Vec<C>) {
    let (mut a, mut b, mut c) = (Vec::with_capacity(rows.len()), Vec::with_capacity(rows.len()), Vec::new());
    for (x, y, z) in rows {
        a.push(x);
        b.push(y);
        c.push(z);
    }
    (a, b, c)
}
