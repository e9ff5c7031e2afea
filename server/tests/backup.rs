//! `server backup` and `server restore` (issue 15): a backup of the live
//! SQLite database taken while messages are being stored opens on its own and
//! holds every message acknowledged before it began, in order, with its
//! uploads; a restore puts it back in place and keeps what was there.

mod support;

use std::sync::{Arc, Mutex};

use app::protocol::{Seq, ServerMsg};
use app::room_name::RoomName;
use server::store::backup::{backup, restore};
use server::store::{SqliteStore, Store};
use support::{answer, Client, TestServer};

/// The seqs of the room's messages in the database at `path`, in order.
async fn stored_seqs(path: &std::path::Path) -> Vec<u64> {
    let (store, _writer) = SqliteStore::open(path).await.unwrap();
    let events = Store::after(&store, &RoomName::parse("busy").unwrap(), Seq(0), 10_000).await.unwrap();
    events.iter().filter(|e| matches!(e, ServerMsg::Message(_))).filter_map(ServerMsg::event_seq).map(|s| s.0).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_under_write_load_holds_every_acknowledged_message_and_restores() {
    let (opened, dir) = support::temp_store().await;
    let db = dir.path().join("chat.db");
    // An upload's content, as the store keeps it.
    let content = dir.path().join("chat-files/ab/abcdef");
    std::fs::create_dir_all(content.parent().unwrap()).unwrap();
    std::fs::write(&content, b"a picture").unwrap();
    // Room for a burst of posts from one person.
    let policy = server::policy::Policy { send_burst: 1000, ..Default::default() };
    let settings = server::config::Settings { policy, ..Default::default() };
    let server = TestServer::start_with_store_and_settings(opened, settings).await;

    let acked = Arc::new(Mutex::new(Vec::new()));
    let mut ada = Client::connect_to(server.addr, "busy", "Ada").await;
    let writing = {
        let acked = acked.clone();
        tokio::spawn(async move {
            for i in 0..300 {
                let id = ada.say(&format!("message {i}")).await;
                let seq = answer(&mut ada, &id.0).await.expect("stored");
                acked.lock().unwrap().push(seq.0);
            }
        })
    };
    support::eventually("some messages are stored", || acked.lock().unwrap().len() >= 50).await;
    let before: Vec<u64> = acked.lock().unwrap().clone();
    let copy = dir.path().join("backups/monday.db");
    let copied = backup(&db, &copy).await.expect("a backup of the live database");
    assert!(backup(&db, &copy).await.is_err(), "never overwrites");
    writing.await.unwrap();

    let in_copy = stored_seqs(&copy).await;
    assert!(in_copy.len() >= before.len(), "{} in the copy, {} acknowledged before", in_copy.len(), before.len());
    assert_eq!(in_copy, (1..=in_copy.len() as u64).collect::<Vec<_>>(), "one instant: 1..n, no hole");
    assert!(before.iter().all(|seq| in_copy.contains(seq)), "every message acknowledged before the backup");
    assert_eq!(copied.messages as usize, in_copy.len());
    assert_eq!(std::fs::read(dir.path().join("backups/monday-files/ab/abcdef")).unwrap(), b"a picture");
    server.shut_down().await;

    // Restored over the live file (the server stopped): the copy is in place,
    // what was there is kept beside it.
    let live = stored_seqs(&db).await;
    assert_eq!(live.len(), 300);
    let restored = restore(&copy, &db).await.expect("restored");
    assert_eq!(restored.messages as usize, in_copy.len());
    assert_eq!(stored_seqs(&db).await, in_copy);
    let kept: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| {
            name.starts_with("chat.db.before-restore-") && !name.ends_with("-wal") && !name.ends_with("-shm")
        })
        .collect();
    assert_eq!(kept.len(), 1, "what was there is kept: {kept:?}");
    assert_eq!(stored_seqs(&dir.path().join(&kept[0])).await.len(), 300);

    // A damaged copy is refused, and the database left as it is.
    let damaged = dir.path().join("damaged.db");
    std::fs::write(&damaged, b"SQLite format 3\0 but nothing after").unwrap();
    assert!(restore(&damaged, &db).await.is_err());
    assert_eq!(stored_seqs(&db).await, in_copy);
}
