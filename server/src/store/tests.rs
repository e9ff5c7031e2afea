use std::collections::HashSet;
use std::sync::Arc;

use app::error::ChatError;
use app::protocol::{ClientMsgId, Seq, ServerMsg, Timestamp};
use app::room_name::RoomName;

use super::{ChangeKind, MessageWriter, NewChange, NewMessage, SqliteStore, SqliteWriter, Store};

pub(super) fn room(name: &str) -> RoomName {
    RoomName::parse(name).unwrap()
}

pub(super) fn new_message(room_name: &str, author: &str, client_id: &str, body: &str) -> NewMessage {
    NewMessage {
        room: room(room_name),
        author_id: super::AccountId(author.bytes().fold(0i64, |h, b| h.wrapping_mul(31).wrapping_add(i64::from(b)))),
        author: author.into(),
        author_username: author.to_lowercase(),
        mentioned: app::markdown::mentions::mentions(body),
        body: body.into(),
        client_id: ClientMsgId(client_id.into()),
        sent_at: Timestamp(1_795_000_000_000),
        reply: None,
        file: None,
    }
}

pub(super) async fn open(dir: &tempfile::TempDir) -> (SqliteStore, SqliteWriter) {
    SqliteStore::open(&dir.path().join("data").join("chat.db")).await.unwrap()
}

/// Another connection to the file [`open`] made, as a person with the
/// sqlite3 shell would have.
pub(super) async fn shell(dir: &tempfile::TempDir) -> sqlx::SqliteConnection {
    let file = sqlx::sqlite::SqliteConnectOptions::new().filename(dir.path().join("data").join("chat.db"));
    <sqlx::SqliteConnection as sqlx::Connection>::connect_with(&file).await.unwrap()
}

#[tokio::test]
async fn seqs_strictly_increase_per_room_under_concurrent_senders() {
    let dir = tempfile::tempdir().unwrap();
    let (store, writer) = open(&dir).await;
    // Many senders, one writer (it is not Clone): as the hub's poster has it.
    let writer = Arc::new(tokio::sync::Mutex::new(writer));
    let writers = 8;
    let per_writer = 40;
    let mut tasks = Vec::new();
    for w in 0..writers {
        let writer = writer.clone();
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for i in 0..per_writer {
                let batch = vec![new_message("busy", &format!("w{w}"), &format!("m{i}"), "x")];
                let appended = writer.lock().await.append_batch(batch).await.unwrap();
                seqs.push(appended[0].message.seq.0);
            }
            seqs
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        let seqs = task.await.unwrap();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "one writer's seqs go up: {seqs:?}");
        all.extend(seqs);
    }
    all.sort_unstable();
    let expected: Vec<u64> = (1..=(writers * per_writer) as u64).collect();
    assert_eq!(all, expected, "every seq once, no holes");
    assert_eq!(store.last_seq(&room("busy")).await.unwrap(), Seq(expected.len() as u64));
}

#[tokio::test]
async fn rooms_count_their_own_seqs() {
    let dir = tempfile::tempdir().unwrap();
    let (store, mut writer) = open(&dir).await;
    let appended = writer
        .append_batch(vec![
            new_message("a", "ada", "1", "a1"),
            new_message("b", "ada", "2", "b1"),
            new_message("a", "ada", "3", "a2"),
        ])
        .await
        .unwrap();
    let seqs: Vec<_> = appended.iter().map(|a| (a.message.body.as_str(), a.message.seq.0)).collect();
    assert_eq!(seqs, [("a1", 1), ("b1", 1), ("a2", 2)]);
    assert_eq!(store.last_seq(&room("a")).await.unwrap(), Seq(2));
    assert_eq!(store.last_seq(&room("b")).await.unwrap(), Seq(1));
    assert_eq!(store.last_seq(&room("never")).await.unwrap(), Seq(0));
}

#[tokio::test]
async fn the_same_client_id_from_the_same_sender_is_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let (store, mut writer) = open(&dir).await;
    let first = writer.append_batch(vec![new_message("r", "ada", "c-1", "hello")]).await.unwrap();
    assert!(!first[0].duplicate);
    let retry = writer.append_batch(vec![new_message("r", "ada", "c-1", "hello")]).await.unwrap();
    assert!(retry[0].duplicate);
    assert_eq!(retry[0].message, first[0].message, "the retry gets the stored message back");

    // Within one batch, too.
    let both = writer
        .append_batch(vec![new_message("r", "ada", "c-2", "x"), new_message("r", "ada", "c-2", "x")])
        .await
        .unwrap();
    assert_eq!((both[0].duplicate, both[1].duplicate), (false, true));
    assert_eq!(both[0].message.seq, both[1].message.seq);

    // Another sender may happen to pick the same id.
    let other = writer.append_batch(vec![new_message("r", "bob", "c-1", "hi")]).await.unwrap();
    assert!(!other[0].duplicate);

    let stored = store.page(&room("r"), None, 100).await.unwrap();
    let bodies: Vec<_> = stored.iter().map(|m| (m.seq.0, m.body.as_str())).collect();
    assert_eq!(bodies, [(1, "hello"), (2, "x"), (3, "hi")]);
}

#[tokio::test]
async fn pages_go_back_in_order_and_after_goes_forward() {
    let dir = tempfile::tempdir().unwrap();
    let (store, mut writer) = open(&dir).await;
    let batch = (1..=25).map(|i| new_message("r", "ada", &format!("c{i}"), &format!("m{i}"))).collect();
    writer.append_batch(batch).await.unwrap();
    let seqs = |page: Vec<app::protocol::ChatMessage>| page.iter().map(|m| m.seq.0).collect::<Vec<_>>();

    assert_eq!(seqs(store.page(&room("r"), None, 10).await.unwrap()), (16..=25).collect::<Vec<_>>());
    assert_eq!(seqs(store.page(&room("r"), Some(Seq(16)), 10).await.unwrap()), (6..=15).collect::<Vec<_>>());
    assert_eq!(seqs(store.page(&room("r"), Some(Seq(6)), 10).await.unwrap()), (1..=5).collect::<Vec<_>>());
    assert!(store.page(&room("r"), Some(Seq(1)), 10).await.unwrap().is_empty());
    let events = |events: Vec<ServerMsg>| events.iter().filter_map(|e| e.event_seq()).map(|s| s.0).collect::<Vec<_>>();
    assert_eq!(events(store.after(&room("r"), Seq(20), 100).await.unwrap()), (21..=25).collect::<Vec<_>>());
    assert_eq!(events(store.after(&room("r"), Seq(0), 3).await.unwrap()), [1, 2, 3]);
    assert!(store.page(&room("nobody"), None, 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn migrations_run_on_an_empty_file_and_on_an_existing_one() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (_, mut writer) = open(&dir).await;
        writer.append_batch(vec![new_message("r", "ada", "c1", "kept")]).await.unwrap();
        writer.close().await;
    }
    // An empty file someone created by hand is a fresh database.
    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    let (fresh, _) = SqliteStore::open(&empty).await.unwrap();
    assert_eq!(fresh.last_seq(&room("r")).await.unwrap(), Seq(0));

    let (reopened, mut writer) = open(&dir).await;
    let kept = reopened.page(&room("r"), None, 10).await.unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].body, "kept");
    let next = writer.append_batch(vec![new_message("r", "ada", "c2", "next")]).await.unwrap();
    assert_eq!(next[0].message.seq, Seq(2), "seqs carry on after a restart");
    let ids: HashSet<_> = reopened.page(&room("r"), None, 10).await.unwrap().into_iter().map(|m| m.client_id).collect();
    assert_eq!(ids.len(), 2);
}

#[tokio::test]
async fn one_batch_spans_rooms_and_recognises_retries_within_itself() {
    let dir = tempfile::tempdir().unwrap();
    let (store, mut writer) = open(&dir).await;
    writer.append_batch(vec![new_message("a", "Ada", "x1", "earlier")]).await.unwrap();
    let batch = vec![
        new_message("a", "Ada", "x2", "one"),
        new_message("b", "Bob", "y1", "two"),
        new_message("a", "Ada", "x1", "earlier, retried"),
        new_message("a", "Bob", "x2", "same id, other author"),
        new_message("a", "Ada", "x2", "one, retried in the same batch"),
        new_message("b", "Bob", "y2", "three"),
    ];
    let out = writer.append_batch(batch).await.unwrap();
    let seqs: Vec<(u64, bool)> = out.iter().map(|a| (a.message.seq.0, a.duplicate)).collect();
    assert_eq!(seqs, [(2, false), (1, false), (1, true), (3, false), (2, true), (2, false)]);
    assert_eq!(out[2].message.body, "earlier", "a retry answers with what was stored");
    assert_eq!(store.last_seq(&room("a")).await.unwrap(), Seq(3));
    assert_eq!(store.last_seq(&room("b")).await.unwrap(), Seq(2));
    let bodies: Vec<String> = store.page(&room("a"), None, 10).await.unwrap().into_iter().map(|m| m.body).collect();
    assert_eq!(bodies, ["earlier", "one", "same id, other author"]);
}

/// What a connection's room list checks after it starts listening: the
/// writer's figure is there as soon as a commit returns, and only for rooms
/// written since the start.
#[tokio::test]
async fn the_committed_seq_is_known_once_a_commit_returns() {
    let dir = tempfile::tempdir().unwrap();
    let (store, mut writer) = open(&dir).await;
    assert_eq!(store.committed_seq(&room("lounge")), None);
    writer
        .append_batch(vec![new_message("lounge", "Ada", "c1", "one"), new_message("lounge", "Ada", "c2", "two")])
        .await
        .unwrap();
    assert_eq!(store.committed_seq(&room("lounge")), Some(Seq(2)));
    assert_eq!(store.committed_seq(&room("office")), None, "a room not written since the start");
    writer.close().await;
}

fn change(room_name: &str, author: &str, target: u64, kind: ChangeKind) -> NewChange {
    NewChange {
        room: room(room_name),
        target: Seq(target),
        author_id: new_message(room_name, author, "-", "-").author_id,
        at: Timestamp(1_795_000_001_000),
        kind,
    }
}

fn edit(body: &str) -> ChangeKind {
    ChangeKind::Edit { body: body.into(), mentioned: Vec::new() }
}

#[tokio::test]
async fn edits_and_deletes_take_the_next_seq_and_change_the_message_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let (store, mut writer) = open(&dir).await;
    let batch = vec![new_message("r", "ada", "c1", "helo"), new_message("r", "bob", "c2", "hi")];
    writer.append_batch(batch).await.unwrap();

    let edited = writer.change(change("r", "ada", 1, edit("hello"))).await.unwrap().unwrap();
    assert_eq!(edited.seq, Seq(3), "a change is the room's next event");
    assert_eq!((edited.message.seq, edited.message.body.as_str()), (Seq(1), "hello"));
    assert_eq!(edited.message.edited_at, Some(Timestamp(1_795_000_001_000)));
    // A message after it takes the seq after the change.
    let appended = writer.append_batch(vec![new_message("r", "bob", "c3", "nice")]).await.unwrap();
    assert_eq!(appended[0].message.seq, Seq(4));
    let deleted = writer.change(change("r", "bob", 2, ChangeKind::Delete)).await.unwrap().unwrap();
    assert_eq!(deleted.seq, Seq(5));
    assert!(deleted.message.deleted && deleted.message.body.is_empty());
    assert_eq!(store.last_seq(&room("r")).await.unwrap(), Seq(5));

    // Refused, and nothing changed: someone else's, no such seq, deleted already.
    let refused = |r: super::Result<Result<super::Changed, ChatError>>| r.unwrap().unwrap_err();
    assert_eq!(refused(writer.change(change("r", "bob", 1, edit("mine now"))).await), ChatError::NotYourMessage);
    assert_eq!(refused(writer.change(change("r", "ada", 3, edit("x"))).await), ChatError::NoSuchMessage { seq: 3 });
    assert_eq!(
        refused(writer.change(change("r", "ada", 9, ChangeKind::Delete)).await),
        ChatError::NoSuchMessage { seq: 9 }
    );
    assert_eq!(refused(writer.change(change("r", "bob", 2, edit("back"))).await), ChatError::MessageDeleted);
    assert_eq!(store.last_seq(&room("r")).await.unwrap(), Seq(5), "a refusal takes no seq");

    // Pages show messages as they are now; the deleted body is gone from the file.
    let page = store.page(&room("r"), None, 10).await.unwrap();
    let shown: Vec<_> = page.iter().map(|m| (m.seq.0, m.body.as_str(), m.deleted)).collect();
    assert_eq!(shown, [(1, "hello", false), (2, "", true), (4, "nice", false)]);
    // Resuming after seq 2 gets every event after it once, in order: the edit
    // of 1 (as 1 is now), message 4, the delete of 2.
    let after = store.after(&room("r"), Seq(2), 100).await.unwrap();
    let described: Vec<String> = after
        .iter()
        .map(|e| match e {
            ServerMsg::Message(m) => format!("{} message {}", m.seq.0, m.body),
            ServerMsg::Changed { seq, message } => format!("{} changed {} to {:?}", seq.0, message.seq.0, message.body),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(described, ["3 changed 1 to \"hello\"", "4 message nice", "5 changed 2 to \"\""]);
}

#[tokio::test]
async fn a_deleted_body_is_gone_from_the_file_not_only_hidden() {
    let dir = tempfile::tempdir().unwrap();
    let (store, mut writer) = open(&dir).await;
    let secret = "the-launch-code-is-qwxzyplonk0451-do-not-share";
    // Enough messages around it that its page is shared with others.
    let mut batch: Vec<NewMessage> =
        (1..=40).map(|i| new_message("r", "bob", &format!("b{i}"), &format!("filler {i}"))).collect();
    // Long, as a pasted log is: it spills onto pages of its own, which a
    // delete frees (and, unless told to, leaves as they were).
    let long = format!("{secret}\n{}", "lorem ipsum ".repeat(600));
    batch.insert(20, new_message("r", "ada", "c-secret", &long));
    let stored = writer.append_batch(batch).await.unwrap();
    let seq = stored.iter().find(|a| a.message.body == long).unwrap().message.seq;
    // Indexed for search first: its words must leave the index too.
    let request = super::SearchRequest::new("qwxzyplonk0451", None, 10).unwrap();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while store.search(&request).await.unwrap().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "never indexed");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    writer.change(change("r", "ada", seq.0, ChangeKind::Delete)).await.unwrap().unwrap();
    assert!(store.search(&request).await.unwrap().is_empty(), "not found once deleted");
    // The writer's close checkpoints the log into the file and empties it.
    writer.close().await;
    store.close().await;
    let data = dir.path().join("data");
    let bytes = std::fs::read(data.join("chat.db")).unwrap();
    // The log may be gone altogether after the last checkpoint: then it holds nothing.
    let log = match std::fs::read(data.join("chat.db-wal")) {
        Ok(log) => log,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(error) => panic!("reading the log: {error}"),
    };
    for (file, content) in [("chat.db", &bytes), ("chat.db-wal", &log)] {
        assert!(!content.windows(secret.len()).any(|w| w == secret.as_bytes()), "the deleted body is still in {file}");
        let word = b"qwxzyplonk0451";
        assert!(!content.windows(word.len()).any(|w| w == word), "its words are still in the index, in {file}");
    }
    assert!(bytes.windows(9).any(|w| w == b"filler 21"), "the file holds the other messages (the check can see text)");
}

#[tokio::test]
async fn a_reactions_summary_names_the_first_few_and_counts_them_all() {
    use super::AccountStore;
    use app::protocol::REACTION_NAMES;
    let dir = tempfile::tempdir().unwrap();
    let (store, mut writer) = open(&dir).await;
    writer.append_batch(vec![new_message("big", "ada", "c1", "a popular message")]).await.unwrap();
    let mut people = Vec::new();
    for i in 0..REACTION_NAMES + 3 {
        let username = format!("p{i:02}");
        let id = store.create_account(&username, &username, "x", 1).await.unwrap().unwrap().id;
        people.push((id, username));
    }
    let react = |(id, username): &(super::AccountId, String), on: bool| NewChange {
        room: room("big"),
        target: Seq(1),
        author_id: *id,
        at: Timestamp(1_795_000_000_100),
        kind: ChangeKind::React { emoji: "👍".into(), on, username: username.clone() },
    };
    for person in &people {
        writer.change(react(person, true)).await.unwrap().unwrap();
    }
    let page = store.page(&room("big"), None, 1).await.unwrap();
    let thumbs = &page[0].reactions[0];
    assert_eq!(thumbs.count as usize, REACTION_NAMES + 3);
    let names: Vec<&str> = people.iter().take(REACTION_NAMES).map(|(_, u)| u.as_str()).collect();
    assert_eq!(thumbs.users, names, "the first to react, in order, and no more");

    // One of the named takes theirs back: the next one who reacted is named instead.
    let changed = writer.change(react(&people[3], false)).await.unwrap().unwrap();
    let thumbs = &changed.message.reactions[0];
    assert_eq!(thumbs.count as usize, REACTION_NAMES + 2);
    assert_eq!(thumbs.users.len(), REACTION_NAMES);
    assert!(!thumbs.users.contains(&people[3].1));
    assert_eq!(thumbs.users.last(), Some(&people[REACTION_NAMES].1));
    // One not named takes theirs back: the count goes down, the names stay.
    let changed = writer.change(react(&people[REACTION_NAMES + 2], false)).await.unwrap().unwrap();
    assert_eq!(changed.message.reactions[0].count as usize, REACTION_NAMES + 1);
    assert_eq!(changed.message.reactions[0].users, thumbs.users);
}

/// A commit that fails part-way stores nothing of its batch and takes no
/// seq, and the next commit goes on: the transaction was rolled back (had it
/// been left open, it would hold the database's write lock, and the next
/// `BEGIN` would fail).
#[tokio::test]
async fn a_failed_commit_stores_nothing_and_the_next_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let (store, mut writer) = open(&dir).await;
    writer.append_batch(vec![new_message("r", "ada", "c1", "first")]).await.unwrap();
    let mut other = shell(&dir).await;
    sqlx::query(
        "CREATE TRIGGER refuse BEFORE INSERT ON messages WHEN NEW.body = 'refused'
         BEGIN SELECT RAISE(ABORT, 'refused for the test'); END",
    )
    .execute(&mut other)
    .await
    .unwrap();
    let failed = writer
        .append_batch(vec![new_message("r", "bob", "c2", "second"), new_message("r", "ada", "c3", "refused")])
        .await;
    assert!(failed.is_err(), "{failed:?}");
    sqlx::query("DROP TRIGGER refuse").execute(&mut other).await.unwrap();

    let stored = writer.append_batch(vec![new_message("r", "bob", "c2", "second")]).await.unwrap();
    assert_eq!((stored[0].message.seq, stored[0].duplicate), (Seq(2), false), "nothing stored, no seq taken");
    let refused = writer.append_batch(vec![new_message("r", "ada", "c3", "refused")]).await.unwrap();
    assert_eq!(refused[0].message.seq, Seq(3), "the trigger is gone");
    let page = store.page(&room("r"), None, 10).await.unwrap();
    let bodies: Vec<&str> = page.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies, ["first", "second", "refused"]);
    writer.close().await;
}
