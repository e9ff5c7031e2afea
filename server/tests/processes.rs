//! The server binary itself, several processes on one PostgreSQL database
//! with Redis between them (the machine's own, started by
//! `scripts/services.sh` when they are not running), one of them killed.

mod support;

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::process::Stdio;

use app::protocol::{ClientMsg, ClientMsgId, Seq, ServerMsg, PROTOCOL_VERSION};
use app::room_name::RoomName;
use server::store::Database;
use support::{Client, PATIENCE};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

fn redis_url() -> String {
    std::env::var("CHAT_TEST_REDIS").unwrap_or_else(|_| server::store::from_services_script("CHAT_TEST_REDIS"))
}

/// A server process; killed when dropped.
struct Process {
    child: Child,
    addr: SocketAddr,
}

impl Process {
    /// Starts the server binary on `database` with the bus; returns once it listens.
    async fn start(database: &str, files: &std::path::Path) -> Process {
        let mut child = Command::new(env!("CARGO_BIN_EXE_server"))
            .args(["--addr", "127.0.0.1:0", "--database", database, "--bus", &redis_url()])
            .arg("--files")
            .arg(files)
            .args(["--send-burst", "1000"])
            .env("RUST_LOG", "warn,server=info")
            .env("NO_COLOR", "1")
            .env("LEPTOS_OUTPUT_NAME", "chat")
            .env("LEPTOS_SITE_ROOT", "target/site")
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the server binary starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let addr = tokio::time::timeout(PATIENCE * 2, async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    return rest.split('/').next().unwrap().parse::<SocketAddr>().unwrap();
                }
            }
            panic!("the server ended before it listened");
        })
        .await
        .expect("the server listens in time");
        // Keep reading what it logs, so that it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Process { child, addr }
    }
}

/// Reads until every id in `ids` is acknowledged; returns their seqs.
async fn acks(client: &mut Client, ids: &HashSet<String>) -> BTreeMap<String, Seq> {
    let mut acked = BTreeMap::new();
    while acked.len() < ids.len() {
        if let ServerMsg::Ack { id, seq } = client.recv_within(PATIENCE * 2).await {
            if ids.contains(&id.0) {
                acked.insert(id.0, seq);
            }
        }
    }
    acked
}

/// A server is killed (SIGKILL) while Ada's messages are on their way through
/// it: she connects to the other server, resumes from the last seq she saw and
/// sends again what was not acknowledged; every message is stored once, and
/// Bob, on the other server all along, sees each once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_server_s_people_go_on_elsewhere_and_nothing_is_lost_or_doubled() {
    let url = server::store::fresh_postgres_database().await;
    let files = tempfile::tempdir().unwrap();
    // The schema first (by this test), so that the two processes do not race to make it.
    Database::Postgres { url: url.clone(), files: files.path().to_owned() }.open().await.unwrap();
    let mut doomed = Process::start(&url, files.path()).await;
    let survivor = Process::start(&url, files.path()).await;

    let mut ada = Client::connect_to(doomed.addr, "kill", "Ada").await;
    let mut bob = Client::connect_to(survivor.addr, "kill", "Bob").await;
    let ids: Vec<String> = (0..20).map(|i| format!("ada-{i}")).collect();
    for id in &ids {
        ada.say_as(ClientMsgId(id.clone()), id).await;
    }
    // Some are stored and acknowledged, some perhaps not: it dies now.
    let mut seen = Seq(0);
    if let ServerMsg::Message(message) = ada.recv().await {
        seen = message.seq;
    }
    doomed.child.kill().await.unwrap();

    // Ada's page reconnects elsewhere, from what it saw, and sends again what
    // it has no ack for (here: everything, under the same ids).
    let cookie = ada.cookie.clone();
    let mut ada = Client::open(survivor.addr, "kill", cookie.as_deref(), "Ada").await;
    ada.send(&ClientMsg::Join { version: PROTOCOL_VERSION, since: Some(seen) }).await;
    for id in &ids {
        ada.say_as(ClientMsgId(id.clone()), id).await;
    }
    let acked = acks(&mut ada, &ids.iter().cloned().collect()).await;
    let mut seqs: Vec<u64> = acked.values().map(|s| s.0).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=20).collect::<Vec<_>>(), "each message one seq, no hole");

    let mut got = Vec::new();
    while got.len() < ids.len() {
        match bob.recv_within(PATIENCE * 2).await {
            ServerMsg::Message(message) => got.push((message.seq.0, message.client_id.0)),
            ServerMsg::Presence { .. } | ServerMsg::Typing { .. } => {}
            other => panic!("Bob got {other:?}"),
        }
    }
    let got_seqs: Vec<u64> = got.iter().map(|(seq, _)| *seq).collect();
    assert_eq!(got_seqs, (1..=20).collect::<Vec<_>>(), "Bob: every message once, in order");
    let got_ids: HashSet<&String> = got.iter().map(|(_, id)| id).collect();
    assert_eq!(got_ids.len(), 20, "twenty different messages");
    let room = RoomName::parse("kill").unwrap();
    let (store, _) = server::store::PgStore::open(&url, files.path()).await.unwrap();
    assert_eq!(store.select_last_seq(&room).await.unwrap(), Seq(20), "stored once each");
}
