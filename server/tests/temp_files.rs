//! The SQLite store writes nowhere but beside its database. SQLite's temporary
//! files (a statement's journal past 64 KiB, a large sort) stay in memory, so a
//! server whose root file system is read-only, its data on a volume of its own,
//! migrates a fresh database, stores, indexes, searches and backs up.
//!
//! SQLite makes such files in `SQLITE_TMPDIR` when it may: this test points it
//! at a directory of its own, dated in the past, and checks that nothing was
//! ever made or removed there (either would date it now). A binary of its own:
//! SQLite reads the variable once, when it starts in the process.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use app::protocol::{ClientMsgId, Timestamp};
use app::room_name::RoomName;
use server::store::backup::{backup, restore};
use server::store::{AccountId, MessageWriter, NewMessage, SearchRequest, SqliteStore, Store};

fn post(room: usize, round: usize, body: String) -> NewMessage {
    NewMessage {
        room: RoomName::parse(&format!("room-{room}")).unwrap(),
        author_id: AccountId(1),
        author: "Ada".into(),
        author_username: "ada".into(),
        mentioned: Vec::new(),
        body,
        client_id: ClientMsgId(format!("c-{room}-{round}")),
        sent_at: Timestamp(1_795_000_000_000),
        reply: None,
        file: None,
    }
}

/// Whether anything was made or removed in `dir` since it was dated `past`.
fn untouched(dir: &Path, past: SystemTime) -> bool {
    std::fs::metadata(dir).unwrap().modified().unwrap() == past
}

#[tokio::test]
async fn the_store_makes_no_temporary_file_outside_its_directory() {
    let temp = tempfile::tempdir().unwrap();
    // Before SQLite's first use in this process.
    std::env::set_var("SQLITE_TMPDIR", temp.path());
    let past = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    std::fs::File::open(temp.path()).unwrap().set_modified(past).unwrap();
    assert!(untouched(temp.path(), past));

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("chat.db");
    let (store, mut writer) = SqliteStore::open(&db).await.unwrap();
    assert!(untouched(temp.path(), past), "migrating a fresh database made a temporary file");

    // Posts to many rooms in one commit, then as many again: the second changes
    // pages the first wrote all over the tables, and the statements' journal
    // (a copy of each page a statement changes) outgrows what SQLite keeps in
    // memory by default.
    let words = "lighthouse ".repeat(300);
    for round in 0..2 {
        let batch: Vec<NewMessage> = (0..400).map(|room| post(room, round, format!("{room} {words}"))).collect();
        let stored = writer.append_batch(batch).await.unwrap();
        assert_eq!(stored.iter().filter(|s| !s.duplicate).count(), 400);
    }
    assert!(untouched(temp.path(), past), "storing posts made a temporary file");

    // The indexer's batches, then a search sorting what it found.
    let search = SearchRequest::new("lighthouse", None, 50).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let found = loop {
        let found = store.search(&search).await.unwrap();
        if found.len() == 50 || Instant::now() > deadline {
            break found;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(found.len(), 50, "the posts are indexed and found");
    assert!(untouched(temp.path(), past), "indexing or searching made a temporary file");

    let copy = dir.path().join("backups/copy.db");
    assert_eq!(backup(&db, &copy).await.unwrap().messages, 800);
    assert_eq!(restore(&copy, &dir.path().join("restored/chat.db")).await.unwrap().messages, 800);
    writer.close().await;
    assert!(untouched(temp.path(), past), "a backup and its restore made a temporary file");
}
