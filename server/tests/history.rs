//! Durable history through the real server: replay on resume, idempotent sends,
//! and nothing acknowledged lost to a kill -9.

mod support;

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use app::protocol::{ClientMsgId, Seq, ServerMsg};
use app::room_name::RoomName;
use server::store::{MessageWriter, SqliteStore};
use support::{TestServer, PATIENCE};

/// Reads deliveries until `n` chat messages have arrived; returns their (seq, body).
async fn messages(client: &mut support::Client, n: usize) -> Vec<(u64, String)> {
    let mut got = Vec::new();
    while got.len() < n {
        if let ServerMsg::Message(m) = client.recv_chat().await {
            got.push((m.seq.0, m.body));
        }
    }
    got
}

#[tokio::test]
async fn a_member_who_drops_off_gets_exactly_what_it_missed_in_order_once() {
    let server = TestServer::start().await;
    let mut ada = server.join("tunnel", "Ada").await;
    let mut bob = server.join("tunnel", "Bob").await;
    ada.say("before").await;
    assert_eq!(messages(&mut ada, 1).await, [(1, "before".to_string())]);

    // Ada goes into a tunnel; Bob keeps talking (a burst's worth).
    drop(ada);
    for i in 1..=20 {
        bob.say(&format!("missed {i}")).await;
    }
    assert_eq!(messages(&mut bob, 21).await.len(), 21);

    let mut ada = server.join_since("tunnel", "Ada", Some(Seq(1))).await;
    let replayed = messages(&mut ada, 20).await;
    let expected: Vec<_> = (1..=20).map(|i| (i + 1, format!("missed {i}"))).collect();
    assert_eq!(replayed, expected);

    // And nothing twice: the next thing Ada hears is a new message.
    ada.say("back").await;
    assert_eq!(messages(&mut ada, 1).await, [(22, "back".to_string())]);
    server.shut_down().await;
}

#[tokio::test]
async fn a_retried_send_is_acknowledged_twice_and_stored_once() {
    let server = TestServer::start().await;
    let mut ada = server.join("r", "Ada").await;
    let mut bob = server.join("r", "Bob").await;
    let id = ClientMsgId("retry-1".into());

    ada.say_as(id.clone(), "only once").await;
    let mut first_ack = None;
    let mut seen = 0;
    while first_ack.is_none() || seen == 0 {
        match ada.recv_delivery().await {
            ServerMsg::Message(m) => {
                assert_eq!(m.body, "only once");
                seen += 1;
            }
            ServerMsg::Ack { id: acked, seq } => {
                assert_eq!(acked, id);
                first_ack = Some(seq);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    // The retry, as after a reconnect that lost the first ack.
    ada.say_as(id.clone(), "only once").await;
    match ada.recv_delivery().await {
        ServerMsg::Ack { id: acked, seq } => assert_eq!((acked, Some(seq)), (id, first_ack)),
        other => panic!("expected a second ack, got {other:?}"),
    }
    assert_eq!(messages(&mut bob, 1).await, [(1, "only once".to_string())]);
    bob.say("next").await;
    assert_eq!(messages(&mut bob, 1).await, [(2, "next".to_string())], "no second copy came between");
    let stored = server.state.hub.store().page(&RoomName::parse("r").unwrap(), None, 10).await.unwrap();
    assert_eq!(stored.len(), 2);
    server.shut_down().await;
}

#[tokio::test]
async fn a_gap_too_large_to_replay_is_announced_not_hidden() {
    let dir = tempfile::tempdir().unwrap();
    let (store, mut writer) = SqliteStore::open(&dir.path().join("chat.db")).await.unwrap();
    let room = RoomName::parse("busy").unwrap();
    let total = server::ws::MAX_REPLAY as u64 + 50;
    let batch = (1..=total).map(|i| support::bulk_message(&room, i)).collect();
    writer.append_batch(batch).await.unwrap();
    let server = TestServer::start_with((store, writer)).await;

    let mut far_behind = server.join_since("busy", "Ada", Some(Seq(1))).await;
    assert_eq!(far_behind.recv_chat().await, ServerMsg::HistoryGap { latest: Seq(total) });

    let mut from_elsewhere = server.join_since("busy", "Bob", Some(Seq(total + 10))).await;
    assert_eq!(from_elsewhere.recv_chat().await, ServerMsg::HistoryGap { latest: Seq(total) });

    let mut close_behind = server.join_since("busy", "Cy", Some(Seq(total - 3))).await;
    let replayed = messages(&mut close_behind, 3).await;
    assert_eq!(replayed.iter().map(|(s, _)| *s).collect::<Vec<_>>(), [total - 2, total - 1, total]);
    server.shut_down().await;
}

struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        if self.0.kill().is_ok() {
            if let Err(error) = self.0.wait() {
                eprintln!("the test server did not exit cleanly: {error}");
            }
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The real server binary on `port` with its database at `db`.
async fn spawn_server(port: u16, db: &std::path::Path) -> Process {
    let child = Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["--addr", &format!("127.0.0.1:{port}"), "--db"])
        .arg(db)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the server binary starts");
    let deadline = tokio::time::Instant::now() + PATIENCE * 2;
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(tokio::time::Instant::now() < deadline, "the server never listened");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Process(child)
}

#[tokio::test]
async fn kill_9_mid_traffic_loses_no_acknowledged_message() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("chat.db");
    let port = free_port();
    let mut process = spawn_server(port, &db).await;
    let addr = format!("127.0.0.1:{port}").parse().unwrap();

    // Five senders post without waiting (each within its burst allowance); the
    // acks say what the server promised to keep.
    let mut senders = Vec::new();
    for n in 0..5 {
        senders.push(support::Client::connect_to(addr, "crash", &format!("Ada{n}")).await);
    }
    for sender in &mut senders {
        for i in 0..12 {
            sender.say(&format!("m{i}")).await;
        }
    }
    let mut acked = BTreeMap::new();
    for sender in &mut senders {
        let mut mine = 0;
        while mine < 12 {
            if let ServerMsg::Ack { id, seq } = sender.recv_delivery().await {
                acked.insert(seq, id);
                mine += 1;
            }
        }
    }
    // Mid-traffic: more on the wire, then the plug is pulled.
    for sender in &mut senders {
        for i in 12..16 {
            sender.say(&format!("m{i}")).await;
        }
    }
    process.0.kill().expect("kill -9");
    process.0.wait().unwrap();
    drop(senders);

    let _restarted = spawn_server(port, &db).await;
    let mut bob = support::Client::connect_to_since(addr, "crash", "Bob", Some(Seq(0))).await;
    let mut stored = BTreeMap::new();
    loop {
        match tokio::time::timeout(Duration::from_millis(500), bob.recv_chat()).await {
            Ok(ServerMsg::Message(m)) => {
                assert!(stored.insert(m.seq, m.client_id).is_none(), "seq {:?} twice", m.seq);
            }
            Ok(other) => panic!("unexpected {other:?}"),
            Err(_) => break,
        }
    }
    let seqs: Vec<u64> = stored.keys().map(|s| s.0).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>(), "no holes");
    for (seq, id) in &acked {
        assert_eq!(stored.get(seq), Some(id), "acknowledged message {id:?} at {seq:?} was lost");
    }
}

#[tokio::test]
async fn a_store_fault_is_reported_to_the_sender_and_the_room_carries_on() {
    use sqlx::{Connection, Executor};

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("chat.db");
    let opened = SqliteStore::open(&db).await.unwrap();
    let server = TestServer::start_with(opened).await;
    let mut ada = server.join("fault", "Ada").await;
    let mut bob = server.join("fault", "Bob").await;

    // Something else (a backup, an admin's shell) holds the write lock for longer
    // than the store waits for it.
    let mut other = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display())).await.unwrap();
    other.execute("BEGIN EXCLUSIVE").await.unwrap();
    let id = ada.say("during the fault").await;
    // The store gives up after its 5 s busy timeout.
    let refusal = loop {
        match ada.recv_within(Duration::from_secs(20)).await {
            ServerMsg::Error { error, id: Some(refused) } => break (error, refused),
            ServerMsg::Presence { .. } => continue,
            other => panic!("expected an error, got {other:?}"),
        }
    };
    assert_eq!(refusal.0, app::protocol::ChatError::StoreUnavailable);
    assert_eq!(refusal.1, id, "the error names the message");
    other.execute("COMMIT").await.unwrap();

    // The same connections go on working, and nothing half-stored shows up.
    ada.say_as(id, "during the fault").await;
    assert_eq!(messages(&mut bob, 1).await, [(1, "during the fault".to_string())]);
    bob.say("all good").await;
    assert_eq!(messages(&mut ada, 2).await.last().unwrap(), &(2, "all good".to_string()));
    server.shut_down().await;
}
