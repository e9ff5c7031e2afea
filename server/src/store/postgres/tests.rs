//! The PostgreSQL store on the machine's real PostgreSQL: its writer alone,
//! and several writers on one database at once, as several server processes
//! have them.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use app::error::ChatError;
use app::protocol::{ClientMsgId, Seq, ServerMsg, Timestamp};
use app::room_name::RoomName;

use super::testing::fresh_database;
use super::{PgStore, PgWriter};
use crate::store::{AccountId, ChangeKind, MessageWriter, NewChange, NewMessage};

/// A test's longest wait for writers that should all finish (a deadlock would not).
const FINISH: Duration = Duration::from_secs(60);

fn room(name: &str) -> RoomName {
    RoomName::parse_key(name).unwrap()
}

fn new_message(room_name: &str, author: i64, client_id: &str, body: &str) -> NewMessage {
    NewMessage {
        room: room(room_name),
        author_id: AccountId(author),
        author: format!("Author {author}"),
        author_username: format!("author{author}"),
        mentioned: app::markdown::mentions::mentions(body),
        body: body.into(),
        client_id: ClientMsgId(client_id.into()),
        sent_at: Timestamp(1_795_000_000_000),
        reply: None,
        file: None,
    }
}

/// `n` processes' stores on one fresh database.
async fn nodes(n: usize) -> Vec<(PgStore, PgWriter)> {
    let url = fresh_database().await;
    let files = tempfile::tempdir().unwrap().keep();
    let mut nodes = Vec::new();
    for _ in 0..n {
        nodes.push(PgStore::open(&url, &files).await.unwrap());
    }
    nodes
}

/// Accounts `author1` to `author<n>`, with ids 1 to n (a fresh database's first).
async fn accounts(store: &PgStore, n: i64) {
    use crate::store::AccountStore;
    for i in 1..=n {
        let made = store.create_account(&format!("author{i}"), &format!("Author {i}"), "hash", 1).await.unwrap();
        assert_eq!(made.unwrap().id, AccountId(i));
    }
}

/// Every event of `room` in seq order, as a client resuming from 0 reads them.
async fn events(store: &PgStore, room: &RoomName) -> Vec<ServerMsg> {
    store.select_after(room, Seq(0), 100_000).await.unwrap()
}

fn event_seq(event: &ServerMsg) -> u64 {
    match event {
        ServerMsg::Message(m) => m.seq.0,
        ServerMsg::Changed { seq, .. } => seq.0,
        other => panic!("not an event of the sequence: {other:?}"),
    }
}

#[tokio::test]
async fn a_batch_is_stored_in_order_and_read_back_as_pages_and_events() {
    let mut nodes = nodes(1).await;
    let (store, mut writer) = nodes.pop().unwrap();
    let appended = writer
        .append_batch(vec![
            new_message("a", 1, "1", "a1"),
            new_message("b", 1, "2", "b1"),
            new_message("a", 2, "3", "a2"),
        ])
        .await
        .unwrap();
    let seqs: Vec<_> = appended.iter().map(|a| (a.message.body.as_str(), a.message.seq.0)).collect();
    assert_eq!(seqs, [("a1", 1), ("b1", 1), ("a2", 2)]);
    assert!(appended.iter().all(|a| !a.duplicate));
    assert_eq!(store.select_last_seq(&room("a")).await.unwrap(), Seq(2));
    assert_eq!(store.select_last_seq(&room("nowhere")).await.unwrap(), Seq(0));
    let lasts = crate::store::Store::last_seqs(&store, &[room("a"), room("nowhere"), room("b")]).await.unwrap();
    assert_eq!(lasts, [Seq(2), Seq(0), Seq(1)], "one query, in the order asked");
    let page = store.select_page(&room("a"), None, 50).await.unwrap();
    let bodies: Vec<_> = page.iter().map(|m| (m.seq.0, m.body.as_str(), m.author.as_str())).collect();
    assert_eq!(bodies, [(1, "a1", "Author 1"), (2, "a2", "Author 2")]);
    let older = store.select_page(&room("a"), Some(Seq(2)), 50).await.unwrap();
    assert_eq!(older.len(), 1);
    assert_eq!(store.select_quote(&room("a"), Seq(2)).await.unwrap().unwrap().author, "Author 2");
    assert_eq!(store.committed_here(&room("b")), Some(Seq(1)));

    // A retry of a stored id, in a later batch: the same message, no new seq.
    let again = writer.append_batch(vec![new_message("a", 2, "3", "a2 again")]).await.unwrap();
    assert!(again[0].duplicate);
    assert_eq!((again[0].message.seq, again[0].message.body.as_str()), (Seq(2), "a2"));
    assert_eq!(store.select_last_seq(&room("a")).await.unwrap(), Seq(2));
}

#[tokio::test]
async fn edits_deletes_and_reactions_take_the_rooms_next_seqs() {
    let mut nodes = nodes(1).await;
    let (store, mut writer) = nodes.pop().unwrap();
    accounts(&store, 2).await;
    writer.append_batch(vec![new_message("r", 1, "1", "first"), new_message("r", 2, "2", "second")]).await.unwrap();
    let change = |target: u64, author: i64, kind: ChangeKind| NewChange {
        room: room("r"),
        target: Seq(target),
        author_id: AccountId(author),
        at: Timestamp(1_795_000_001_000),
        kind,
    };
    let edit = ChangeKind::Edit { body: "first, edited".into(), mentioned: Vec::new() };
    let edited = writer.change(change(1, 1, edit.clone())).await.unwrap().unwrap();
    assert_eq!((edited.seq, edited.message.body.as_str()), (Seq(3), "first, edited"));
    assert_eq!(writer.change(change(1, 2, edit)).await.unwrap(), Err(ChatError::NotYourMessage));
    let heart = |on| ChangeKind::React { emoji: "❤️".into(), on, username: "author2".into() };
    let reacted = writer.change(change(1, 2, heart(true))).await.unwrap().unwrap();
    assert_eq!(reacted.seq, Seq(4));
    assert_eq!(reacted.message.reactions[0].count, 1);
    // Given already: nothing changes, no seq taken.
    let again = writer.change(change(1, 2, heart(true))).await.unwrap().unwrap();
    assert!(again.is_noop());
    let deleted = writer.change(change(2, 2, ChangeKind::Delete)).await.unwrap().unwrap();
    assert_eq!(deleted.seq, Seq(5));
    assert!(deleted.message.deleted && deleted.message.body.is_empty());
    assert_eq!(writer.change(change(2, 2, ChangeKind::Delete)).await.unwrap(), Err(ChatError::MessageDeleted));
    assert_eq!(
        writer.change(change(9, 2, ChangeKind::Delete)).await.unwrap(),
        Err(ChatError::NoSuchMessage { seq: 9 })
    );

    let seqs: Vec<u64> = events(&store, &room("r")).await.iter().map(event_seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5], "messages and changes, each seq once, in order");
    // The post that follows takes the seq after the changes.
    let next = writer.append_batch(vec![new_message("r", 1, "3", "third")]).await.unwrap();
    assert_eq!(next[0].message.seq, Seq(6));
}

/// Three processes post at once, each batch spanning the same rooms in a
/// different order (the deadlock a careless lock order would make): every
/// batch is stored, each room's seqs are 1..n with no hole and no repeat, and
/// every message is there once.
#[tokio::test]
async fn three_writers_on_one_database_keep_every_rooms_seqs_gapless() {
    let nodes = nodes(3).await;
    let store = nodes[0].0.clone();
    let rooms = ["r1", "r2", "r3", "r4", "r5"];
    let batches = 30;
    let mut tasks = Vec::new();
    for (n, (_, mut writer)) in nodes.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            for b in 0..batches {
                // Each node walks the rooms in its own order, so batches overlap
                // in every order.
                let mut batch = Vec::new();
                for i in 0..rooms.len() {
                    let name = rooms[(i * (n + 1) + b) % rooms.len()];
                    batch.push(new_message(name, n as i64 + 1, &format!("n{n}-b{b}-{i}"), "x"));
                }
                writer.append_batch(batch).await.unwrap();
            }
        }));
    }
    tokio::time::timeout(FINISH, futures::future::try_join_all(tasks))
        .await
        .expect("every writer finished: no deadlock")
        .unwrap();
    let mut ids = HashSet::new();
    for name in rooms {
        let events = events(&store, &room(name)).await;
        let seqs: Vec<u64> = events.iter().map(event_seq).collect();
        assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>(), "room {name}: 1..n, each once");
        for event in &events {
            if let ServerMsg::Message(m) = event {
                assert!(ids.insert(m.client_id.0.clone()), "{} stored twice", m.client_id.0);
            }
        }
    }
    assert_eq!(ids.len(), 3 * batches * rooms.len(), "every message stored once");
}

/// One client's message sent to two processes at once (a retry that raced the
/// first attempt): one row and one seq, and both answers name it.
#[tokio::test]
async fn a_retry_raced_on_two_writers_is_stored_once() {
    let mut nodes = nodes(2).await;
    let (store, mut b) = nodes.pop().unwrap();
    let (_, mut a) = nodes.pop().unwrap();
    for round in 0..20 {
        let id = format!("retry-{round}");
        let (one, two) = tokio::join!(
            a.append_batch(vec![new_message("race", 7, &id, "once")]),
            b.append_batch(vec![new_message("race", 7, &id, "once")]),
        );
        let (one, two) = (one.unwrap().remove(0), two.unwrap().remove(0));
        assert_eq!(one.message.seq, two.message.seq, "round {round}: both answers name one message");
        assert!(one.duplicate != two.duplicate, "round {round}: exactly one stored it");
    }
    let seqs: Vec<u64> = events(&store, &room("race")).await.iter().map(event_seq).collect();
    assert_eq!(seqs, (1..=20).collect::<Vec<_>>(), "twenty messages, twenty seqs, no hole");
}

/// Posts and changes through two processes, interleaved on one room: the
/// changes take seqs of the same sequence, which stays 1..n.
#[tokio::test]
async fn posts_and_changes_from_two_writers_share_one_sequence() {
    let mut nodes = nodes(2).await;
    let (store, mut b) = nodes.pop().unwrap();
    let (_, mut a) = nodes.pop().unwrap();
    accounts(&store, 2).await;
    a.append_batch(vec![new_message("mixed", 1, "base", "react to me")]).await.unwrap();
    let poster = tokio::spawn(async move {
        for i in 0..40 {
            a.append_batch(vec![new_message("mixed", 1, &format!("p{i}"), "post")]).await.unwrap();
        }
    });
    let reactor = tokio::spawn(async move {
        let mut taken = BTreeMap::new();
        for i in 0..40 {
            let on = i % 2 == 0;
            let kind = ChangeKind::React { emoji: "👍".into(), on, username: "author2".into() };
            let change =
                NewChange { room: room("mixed"), target: Seq(1), author_id: AccountId(2), at: Timestamp(1), kind };
            let changed = b.change(change).await.unwrap().unwrap();
            taken.insert(changed.seq.0, on);
        }
        taken
    });
    let (posted, taken) = tokio::time::timeout(FINISH, async { tokio::join!(poster, reactor) }).await.unwrap();
    posted.unwrap();
    assert_eq!(taken.unwrap().len(), 40, "every reaction given or taken back took a seq of its own");
    let seqs: Vec<u64> = events(&store, &room("mixed")).await.iter().map(event_seq).collect();
    assert_eq!(seqs, (1..=81).collect::<Vec<_>>(), "1 + 40 posts + 40 changes, each seq once");
}

#[tokio::test]
async fn search_finds_words_accents_and_japanese_and_keeps_direct_conversations_to_their_two() {
    use crate::store::{SearchRequest, Store};
    let mut nodes = nodes(1).await;
    let (store, mut writer) = nodes.pop().unwrap();
    let direct = RoomName::direct(1, 2).to_string();
    writer
        .append_batch(vec![
            new_message("ops", 1, "1", "The deploy FAILED at the café"),
            new_message("ops", 2, "2", "明日の会議は10時です"),
            new_message("dev", 2, "3", "another deploy, fine"),
            new_message(&direct, 1, "4", "a private deploy"),
        ])
        .await
        .unwrap();
    let found = |q: &str, viewer: Option<i64>| {
        let store = store.clone();
        let request = SearchRequest::new(q, viewer.map(AccountId), 10);
        async move {
            let Some(request) = request else { return Vec::new() };
            let found = store.search(&request).await.unwrap();
            found.into_iter().map(|f| (f.room.to_string(), f.seq.0)).collect::<Vec<_>>()
        }
    };
    assert_eq!(found("cafe failed", None).await, [("ops".to_owned(), 1)], "every word, accents folded");
    assert_eq!(found("会議", None).await, [("ops".to_owned(), 2)], "two characters of a run");
    assert!(found("会時", None).await.is_empty(), "pairs side by side only");
    assert_eq!(found("会", None).await, [("ops".to_owned(), 2)], "one character: any pair it starts");
    let mut everywhere = found("deploy", Some(3)).await;
    everywhere.sort();
    assert_eq!(everywhere, [("dev".to_owned(), 1), ("ops".to_owned(), 1)], "not another pair's conversation");
    assert_eq!(found("deploy", Some(2)).await.len(), 3, "one's own conversation included");
    let in_dev = SearchRequest { room: Some(room("dev")), ..SearchRequest::new("deploy", None, 10).unwrap() };
    assert_eq!(store.search(&in_dev).await.unwrap().len(), 1);
    let by_author = SearchRequest { author: Some("author1".into()), ..SearchRequest::new("deploy", None, 10).unwrap() };
    assert_eq!(store.search(&by_author).await.unwrap().len(), 1);
    assert!(found("' | !( <->", None).await.is_empty(), "operators typed are only separators");

    // An edit is found by its new words only; a deleted message not at all.
    let change = |kind| NewChange {
        room: room("ops"),
        target: Seq(1),
        author_id: AccountId(1),
        at: Timestamp(1_795_000_002_000),
        kind,
    };
    let edit = ChangeKind::Edit { body: "the rollout worked".into(), mentioned: Vec::new() };
    writer.change(change(edit)).await.unwrap().unwrap();
    assert!(found("failed", None).await.is_empty());
    assert_eq!(found("rollout", None).await, [("ops".to_owned(), 1)]);
    writer.change(change(ChangeKind::Delete)).await.unwrap().unwrap();
    assert!(found("rollout", None).await.is_empty());
}

#[tokio::test]
async fn accounts_sessions_and_lists_live_in_postgres_too() {
    use crate::store::{AccountStore, ReadMark, Store};
    let mut nodes = nodes(1).await;
    let (store, mut writer) = nodes.pop().unwrap();
    let ada = store.create_account("ada", "Ada", "hash", 1).await.unwrap().unwrap();
    assert!(store.create_account("ada", "Other", "hash", 2).await.unwrap().is_none(), "a username is taken once");
    let bob = store.create_account("bob", "Bob", "hash", 3).await.unwrap().unwrap();
    assert_eq!(store.first_account().await.unwrap(), Some(ada.id));
    store.create_session("tok", ada.id, 10, 1_000).await.unwrap();
    assert_eq!(store.session("tok", 500).await.unwrap().unwrap().account, ada);
    assert!(store.session("tok", 1_000).await.unwrap().is_none(), "expired");

    // Bob posts in a room Ada keeps in her list, and mentions her.
    let entry = store.join_room(ada.id, &room("team"), Timestamp(5)).await.unwrap().unwrap();
    assert_eq!((entry.read_seq, entry.last_seq), (Seq(0), Seq(0)));
    let mut post = new_message("team", bob.id.0, "b1", "hello @ada");
    post.author_username = "bob".into();
    let posted = writer.append_batch(vec![post, new_message("team", bob.id.0, "b2", "more")]).await.unwrap();
    assert!(posted[0].joined, "posting put the room in Bob's list");
    let list = store.room_list(ada.id).await.unwrap();
    assert_eq!((list[0].last_seq, list[0].read_seq, list[0].mentions), (Seq(2), Seq(0), 1));
    // Read marks move forward only, never past the room's newest seq.
    let mark = |seq| ReadMark { account: ada.id, room: room("team"), seq: Seq(seq) };
    let moved = store.mark_read(vec![mark(1)]).await.unwrap();
    assert_eq!((moved[0].seq, moved[0].mentions), (Seq(1), 0));
    assert!(store.mark_read(vec![mark(1)]).await.unwrap().is_empty(), "not moved again");
    assert_eq!(store.mark_read(vec![mark(99)]).await.unwrap()[0].seq, Seq(2));
    assert!(store.leave_room(ada.id, &room("team")).await.unwrap());
    assert!(!store.in_list(ada.id, &room("team")).await.unwrap());

    // Deactivation ends the sessions and the credentials.
    store.create_session("tok2", ada.id, 10, 10_000).await.unwrap();
    let mut ended = store.deactivate(ada.id, 20).await.unwrap();
    ended.sort();
    assert_eq!(ended, ["tok", "tok2"]);
    assert!(store.credentials("ada").await.unwrap().is_none());
}
