//! Room lists in the store: memberships, read positions, mentions.

use app::protocol::{ClientMsgId, Seq, Timestamp};
use app::room_name::RoomName;
use app::rooms::{RoomEntry, MAX_ROOMS_PER_ACCOUNT};

use super::{AccountId, AccountStore, MessageWriter, NewMessage, ReadMark, SqliteStore, SqliteWriter, Store};

fn room(name: &str) -> RoomName {
    RoomName::parse(name).unwrap()
}

async fn open(dir: &tempfile::TempDir) -> (SqliteStore, SqliteWriter) {
    SqliteStore::open(&dir.path().join("chat.db")).await.unwrap()
}

async fn account(store: &SqliteStore, username: &str) -> AccountId {
    store.create_account(username, username, "x", 1).await.unwrap().unwrap().id
}

fn post(room_name: &str, (id, username): (AccountId, &str), client_id: &str, body: &str) -> NewMessage {
    NewMessage {
        room: room(room_name),
        author_id: id,
        author: username.into(),
        author_username: username.into(),
        mentioned: app::markdown::mentions::mentions(body),
        body: body.into(),
        client_id: ClientMsgId(client_id.into()),
        sent_at: Timestamp(1_795_000_000_000),
        reply: None,
        file: None,
    }
}

async fn entry(store: &SqliteStore, account: AccountId, name: &str) -> Option<RoomEntry> {
    store.room_list(account).await.unwrap().into_iter().find(|e| e.room == room(name))
}

fn mark(account: AccountId, name: &str, seq: u64) -> ReadMark {
    ReadMark { account, room: room(name), seq: Seq(seq) }
}

#[tokio::test]
async fn posting_puts_the_room_in_the_authors_list_read_up_to_the_post() {
    let dir = tempfile::tempdir().unwrap();
    let (store, mut writer) = open(&dir).await;
    let (ada, bob) = (account(&store, "ada").await, account(&store, "bob").await);
    let joined = store.join_room(bob, &room("lounge"), Timestamp(1)).await.unwrap().unwrap();
    assert_eq!((joined.last_seq, joined.read_seq, joined.unread()), (Seq(0), Seq(0), 0));

    let appended = writer
        .append_batch(vec![post("lounge", (ada, "ada"), "1", "one"), post("lounge", (ada, "ada"), "2", "two")])
        .await
        .unwrap();
    assert_eq!(appended.iter().map(|a| a.joined).collect::<Vec<_>>(), [true, false], "joined by the first post");
    let mine = entry(&store, ada, "lounge").await.expect("in Ada's list");
    assert_eq!((mine.last_seq, mine.read_seq, mine.unread()), (Seq(2), Seq(2), 0));
    assert_eq!(mine.last_at, Some(Timestamp(1_795_000_000_000)));
    let bobs = entry(&store, bob, "lounge").await.unwrap();
    assert_eq!((bobs.unread(), bobs.mentions), (2, 0));
    // A retry of a stored post is not a new message and joins nobody.
    let again = writer.append_batch(vec![post("lounge", (ada, "ada"), "1", "one")]).await.unwrap();
    assert!(again[0].duplicate && !again[0].joined);
    assert_eq!(entry(&store, bob, "lounge").await.unwrap().unread(), 2);
}

#[tokio::test]
async fn mentions_name_accounts_in_any_case_never_in_code_and_count_until_read() {
    let dir = tempfile::tempdir().unwrap();
    let (store, mut writer) = open(&dir).await;
    let (ada, bob) = (account(&store, "ada").await, account(&store, "bob").await);
    store.join_room(bob, &room("lounge"), Timestamp(1)).await.unwrap();
    let appended = writer
        .append_batch(vec![
            post("lounge", (ada, "ada"), "1", "hi @BOB and @nobody, not `@bob`"),
            post("lounge", (ada, "ada"), "2", "```\n@bob\n```"),
            post("lounge", (ada, "ada"), "3", "note to @ada: and again @Bob"),
        ])
        .await
        .unwrap();
    let mentions: Vec<&[String]> = appended.iter().map(|a| a.message.mentions.as_slice()).collect();
    assert_eq!(mentions, [&["bob".to_string()][..], &[], &["ada".to_string(), "bob".to_string()]]);
    // History shows what the server decided.
    let page = store.page(&room("lounge"), None, 10).await.unwrap();
    assert_eq!(page[0].mentions, ["bob"]);
    assert!(page[1].mentions.is_empty());

    let bobs = entry(&store, bob, "lounge").await.unwrap();
    assert_eq!((bobs.unread(), bobs.mentions), (3, 2));
    assert_eq!(entry(&store, ada, "lounge").await.unwrap().mentions, 0, "mentioning oneself counts for nobody");

    let moved = store.mark_read(vec![mark(bob, "lounge", 2)]).await.unwrap();
    assert_eq!(moved.len(), 1);
    assert_eq!((moved[0].seq, moved[0].mentions), (Seq(2), 1), "the mention at seq 3 is still unread");
    let moved = store.mark_read(vec![mark(bob, "lounge", 3)]).await.unwrap();
    assert_eq!(moved[0].mentions, 0);
}

#[tokio::test]
async fn read_positions_only_move_forward_stop_at_the_end_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (store, mut writer) = open(&dir).await;
        let (ada, bob) = (account(&store, "ada").await, account(&store, "bob").await);
        store.join_room(bob, &room("lounge"), Timestamp(1)).await.unwrap();
        let posts = (0..5).map(|i| post("lounge", (ada, "ada"), &format!("m{i}"), "x")).collect();
        writer.append_batch(posts).await.unwrap();

        let moved = store.mark_read(vec![mark(bob, "lounge", 3)]).await.unwrap();
        assert_eq!(moved.iter().map(|m| (m.account, m.seq)).collect::<Vec<_>>(), [(bob, Seq(3))]);
        assert!(store.mark_read(vec![mark(bob, "lounge", 2)]).await.unwrap().is_empty(), "never back");
        assert_eq!(entry(&store, bob, "lounge").await.unwrap().read_seq, Seq(3));
        let moved = store.mark_read(vec![mark(bob, "lounge", 99)]).await.unwrap();
        assert_eq!(moved[0].seq, Seq(5), "never past the room's newest message");
        // Rooms not in the list, and rooms that do not exist, change nothing.
        let none = store.mark_read(vec![mark(ada, "elsewhere", 1), mark(bob, "nowhere", 1)]).await.unwrap();
        assert!(none.is_empty());
        writer.close().await;
    }
    let (store, mut writer) = open(&dir).await;
    let bob = store.credentials("bob").await.unwrap().unwrap().account.id;
    assert_eq!(entry(&store, bob, "lounge").await.unwrap().read_seq, Seq(5), "kept across a restart");
    writer.close().await;
}

#[tokio::test]
async fn leaving_takes_a_room_off_and_a_full_list_takes_no_more() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _writer) = open(&dir).await;
    let ada = account(&store, "ada").await;
    assert!(!store.in_list(ada, &room("lounge")).await.unwrap());
    store.join_room(ada, &room("lounge"), Timestamp(1)).await.unwrap().unwrap();
    assert!(store.in_list(ada, &room("lounge")).await.unwrap());
    assert!(store.leave_room(ada, &room("lounge")).await.unwrap());
    assert!(!store.in_list(ada, &room("lounge")).await.unwrap());
    assert!(!store.leave_room(ada, &room("lounge")).await.unwrap(), "already gone");
    assert!(store.room_list(ada).await.unwrap().is_empty());

    // Fill the list to its limit directly (a join per room would take long).
    let rows: Vec<String> = (0..MAX_ROOMS_PER_ACCOUNT).map(|i| format!("r{i}")).collect();
    let rows = serde_json::to_string(&rows).unwrap();
    sqlx::query("INSERT INTO rooms (name, created_at) SELECT value, 1 FROM json_each(?1)")
        .bind(&rows)
        .execute(store.writer())
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO memberships (account_id, room_id, joined_at)
         SELECT ?1, r.id, 1 FROM rooms r WHERE r.name IN (SELECT value FROM json_each(?2))",
    )
    .bind(ada.0)
    .bind(&rows)
    .execute(store.writer())
    .await
    .unwrap();
    assert_eq!(store.room_list(ada).await.unwrap().len(), MAX_ROOMS_PER_ACCOUNT);
    assert_eq!(store.join_room(ada, &room("one-more"), Timestamp(2)).await.unwrap(), None);
}
