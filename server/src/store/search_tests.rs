//! The search index in the store: kept by a task of its own, behind the
//! messages, and ranked.

use app::protocol::{Seq, Timestamp};

use super::tests::{new_message, open, shell};
use super::{Found, MessageWriter, NewMessage, SearchRequest, SqliteStore, Store};

/// What the search finds once `done` holds of it, or at the deadline.
async fn found_by(
    store: &SqliteStore,
    request: &SearchRequest,
    deadline: tokio::time::Instant,
    done: impl Fn(&[Found]) -> bool,
) -> Vec<Found> {
    loop {
        let found = store.search(request).await.unwrap();
        if done(&found) || tokio::time::Instant::now() >= deadline {
            return found;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn the_search_index_follows_the_messages_in_the_background() {
    let dir = tempfile::tempdir().unwrap();
    let (store, mut writer) = open(&dir).await;
    // Other tests of this process index too: at least this one's batch.
    let batches = || crate::metrics::METRICS.search_index_seconds.get_sample_count();
    let before = batches();
    writer.append_batch(vec![new_message("r", "ada", "c1", "find the needle here")]).await.unwrap();
    let request = SearchRequest::new("needle", None, 10).unwrap();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let found = store.search(&request).await.unwrap();
        // The batch is counted once it has handed the connection back,
        // a moment after its rows can be found.
        let counted = batches() > before;
        if found.len() == 1 && counted {
            assert_eq!((found[0].seq, found[0].body.as_str()), (Seq(1), "find the needle here"));
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never indexed, or the batch not counted in chat_search_index_seconds ({counted}): {found:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    writer.close().await;
}

/// An index batch that fails part-way (here a trigger refuses its rows) ran
/// with its connection not syncing, in a transaction: the writer must get
/// the connection back syncing, with no transaction open. Its messages
/// still commit, and the batch is redone once the index takes rows again.
#[tokio::test]
async fn a_failed_index_batch_leaves_the_writer_a_connection_that_syncs() {
    let dir = tempfile::tempdir().unwrap();
    let (store, mut writer) = open(&dir).await;
    let mut other = shell(&dir).await;
    sqlx::query("CREATE TRIGGER refuse BEFORE INSERT ON search_rows BEGIN SELECT RAISE(ABORT, 'refused'); END")
        .execute(&mut other)
        .await
        .unwrap();
    // No other test makes a batch fail: a failure counted is this one's.
    let failures = || crate::metrics::METRICS.search_index_failures.get();
    let before = failures();
    writer.append_batch(vec![new_message("r", "ada", "c1", "a needle")]).await.unwrap();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while failures() == before {
        assert!(tokio::time::Instant::now() < deadline, "the batch never failed");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous").fetch_one(&writer.pool).await.unwrap();
    assert_eq!(synchronous, 2, "the write connection syncs every commit (FULL)");
    let stored = writer.append_batch(vec![new_message("r", "bob", "c2", "another needle")]).await.unwrap();
    assert_eq!(stored[0].message.seq, Seq(2), "no transaction was left open");
    sqlx::query("DROP TRIGGER refuse").execute(&mut other).await.unwrap();
    let found = found_by(&store, &SearchRequest::new("needle", None, 10).unwrap(), deadline, |f| f.len() == 2).await;
    assert_eq!(found.len(), 2, "never indexed after the failure: {found:?}");
    writer.close().await;
}

#[tokio::test]
async fn the_search_index_gets_to_every_room_when_more_are_waiting_than_a_batch_takes() {
    let dir = tempfile::tempdir().unwrap();
    let (store, mut writer) = open(&dir).await;
    // More rooms than three of the indexer's batches take.
    let rooms: Vec<String> = (0..800).map(|i| format!("room-{i}")).collect();
    let batch = rooms.iter().map(|r| new_message(r, "ada", "c1", "a needle in every room")).collect();
    writer.append_batch(batch).await.unwrap();
    let request = |room: &str| SearchRequest {
        room: Some(super::tests::room(room)),
        ..SearchRequest::new("needle", None, 5).unwrap()
    };
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    for room in rooms.iter().rev() {
        let found = found_by(&store, &request(room), deadline, |f| !f.is_empty()).await;
        // Once: no room's message was indexed twice.
        assert_eq!(found.len(), 1, "{room} never indexed, or indexed twice: {found:?}");
    }
    writer.close().await;
}

#[tokio::test]
async fn a_word_in_too_many_messages_to_rank_comes_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let (store, mut writer) = open(&dir).await;
    let many = super::sqlite::RANK_UP_TO as u64 + 100;
    for chunk in (1..=many).collect::<Vec<_>>().chunks(2_000) {
        let batch = chunk
            .iter()
            .map(|i| {
                let room = if i % 2 == 0 { "even" } else { "odd" };
                let message = new_message(room, "ada", &format!("c{i}"), &format!("common words, number {i}"));
                NewMessage { sent_at: Timestamp(1_795_000_000_000 + *i as i64), ..message }
            })
            .collect();
        writer.append_batch(batch).await.unwrap();
    }
    writer.append_batch(vec![new_message("odd", "ada", "last", "the final marker")]).await.unwrap();
    let request = |q: &str, room: Option<&str>| SearchRequest {
        room: room.map(super::tests::room),
        ..SearchRequest::new(q, None, 5).unwrap()
    };
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    let marker = found_by(&store, &request("marker", None), deadline, |f| !f.is_empty()).await;
    assert_eq!(marker.len(), 1, "never indexed");
    let bodies = |found: Vec<Found>| found.into_iter().map(|f| f.body).collect::<Vec<_>>();
    let newest: Vec<String> = (many - 4..=many).rev().map(|i| format!("common words, number {i}")).collect();
    assert_eq!(bodies(store.search(&request("common", None)).await.unwrap()), newest);
    let odd: Vec<String> =
        (1..=many).rev().filter(|i| i % 2 == 1).take(5).map(|i| format!("common words, number {i}")).collect();
    assert_eq!(bodies(store.search(&request("COMMON words", Some("odd"))).await.unwrap()), odd);
    // A rarer word is ranked as before.
    assert_eq!(bodies(store.search(&request("number 777", None)).await.unwrap()), ["common words, number 777"]);
    assert!(store.search(&request("absent", None)).await.unwrap().is_empty());
    writer.close().await;
}

/// An index emptied to be rebuilt (as migration 10 did) is caught up by the
/// indexer alone, batch after batch with no commit of messages between: the
/// log starts over meanwhile (`checkpoints`, with its interval and limit made
/// small in tests) rather than holding every page the index wrote.
/// (Checked: without it, this test fails.)
#[tokio::test]
async fn an_index_rebuilt_alone_keeps_the_log_short() {
    let dir = tempfile::tempdir().unwrap();
    let (messages, rooms) = (30_000, 20);
    {
        let (_, mut writer) = open(&dir).await;
        for batch in 0..messages / 500 {
            let posts: Vec<NewMessage> = (0..500)
                .map(|i| batch * 500 + i)
                .map(|n| {
                    // Words of their own in every message: each batch writes many index pages.
                    let body = (0..20).map(|w| format!("w{n}x{w}")).collect::<Vec<_>>().join(" ");
                    new_message(&format!("r{}", n % rooms), "ada", &format!("c{n}"), &body)
                })
                .collect();
            writer.append_batch(posts).await.unwrap();
        }
        writer.close().await;
    }
    let mut shell = shell(&dir).await;
    sqlx::raw_sql(
        "INSERT INTO search (search) VALUES ('delete-all'); DELETE FROM search_rows; DELETE FROM search_progress;
         PRAGMA wal_checkpoint(TRUNCATE);",
    )
    .execute(&mut shell)
    .await
    .unwrap();
    let (_store, mut writer) = open(&dir).await;
    let log = dir.path().join("data").join("chat.db-wal");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut longest = 0;
    loop {
        longest = longest.max(std::fs::metadata(&log).map_or(0, |m| m.len()));
        let indexed: i64 = sqlx::query_scalar("SELECT count(*) FROM search_rows").fetch_one(&mut shell).await.unwrap();
        if indexed == messages as i64 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{indexed} of {messages} indexed again");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    // Without the log starting over, it grew to 2.4 times the database (40 MB
    // beside 16); with it, to a third.
    let database = std::fs::metadata(dir.path().join("data").join("chat.db")).unwrap().len();
    assert!(longest < database, "the log grew to {longest} B beside a database of {database} B");
    writer.close().await;
}
