//! The server binary itself, several processes on one PostgreSQL database
//! with Redis between them (the machine's own, started by
//! `scripts/services.sh` when they are not running), one of them killed.

mod support;

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

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
    /// Stops it as a deploy does (SIGTERM: sockets told, queued posts stored) and waits.
    async fn stop(mut self) {
        let pid = self.child.id().expect("running") as i32;
        // SAFETY: a signal to our own child process, by its id.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        tokio::time::timeout(PATIENCE * 4, self.child.wait()).await.expect("it stops in time").unwrap();
    }

    /// Starts the server binary on `database` with the bus; returns once it listens.
    async fn start(database: &str, files: &std::path::Path) -> Process {
        Self::start_with(database, files, &[]).await
    }

    /// [`Process::start`] with more flags.
    async fn start_with(database: &str, files: &std::path::Path, flags: &[&str]) -> Process {
        let mut child = Command::new(env!("CARGO_BIN_EXE_server"))
            .args(["--addr", "127.0.0.1:0", "--database", database, "--bus", &redis_url()])
            .arg("--files")
            .arg(files)
            .args(["--send-burst", "1000"])
            .args(flags)
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

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A page as a browser keeps it: when its server goes away it connects to
/// another one of the deployment, resumes after the last seq it saw, and
/// sends again, under the same ids, what has no ack yet.
struct Page {
    name: String,
    cookie: String,
    socket: Option<Socket>,
    /// The servers up now (the test's restarts change it).
    live: Arc<Mutex<Vec<SocketAddr>>>,
    seen: Seq,
    /// Every seq received, in the order received.
    received: Vec<u64>,
    /// Sent and not acknowledged, in the order sent.
    pending: Vec<String>,
    acked: BTreeMap<String, Seq>,
    /// Sockets opened.
    connects: u32,
}

impl Page {
    async fn open(name: &str, addr: SocketAddr, live: Arc<Mutex<Vec<SocketAddr>>>) -> Page {
        let cookie = support::sign_up(addr, &support::unique_username(name), name).await;
        let mut page = Page {
            name: name.to_owned(),
            cookie,
            socket: None,
            live,
            seen: Seq(0),
            received: Vec::new(),
            pending: Vec::new(),
            acked: BTreeMap::new(),
            connects: 0,
        };
        assert!(page.connect(addr).await, "{name} connects");
        page
    }

    /// Opens a socket to `addr` and joins after the last seq seen; `false`
    /// when that server does not take it (going away).
    async fn connect(&mut self, addr: SocketAddr) -> bool {
        let mut request = format!("ws://{addr}/ws/chat/rolling").into_client_request().unwrap();
        request.headers_mut().insert("cookie", self.cookie.parse().unwrap());
        let Ok(Ok((mut socket, _))) = tokio::time::timeout(PATIENCE, tokio_tungstenite::connect_async(request)).await
        else {
            return false;
        };
        let join = ClientMsg::Join { version: PROTOCOL_VERSION, since: Some(self.seen) };
        if socket.send(Message::text(join.to_json())).await.is_err() {
            return false;
        }
        self.socket = Some(socket);
        self.connects += 1;
        for id in self.pending.clone() {
            self.write(&id).await;
        }
        true
    }

    async fn write(&mut self, id: &str) {
        let msg = ClientMsg::Send { id: ClientMsgId(id.to_owned()), body: id.to_owned(), reply_to: None, file: None };
        if let Some(socket) = &mut self.socket {
            if socket.send(Message::text(msg.to_json())).await.is_err() {
                self.socket = None;
            }
        }
    }

    async fn send(&mut self, id: String) {
        self.pending.push(id.clone());
        self.write(&id).await;
    }

    /// Reads what comes for `time`, connecting elsewhere whenever its server goes.
    async fn pump(&mut self, time: Duration) {
        let until = tokio::time::Instant::now() + time;
        while tokio::time::Instant::now() < until {
            let Some(socket) = &mut self.socket else {
                let live: Vec<SocketAddr> = self.live.lock().unwrap().clone();
                for addr in live {
                    if self.connect(addr).await {
                        break;
                    }
                }
                continue;
            };
            let frame = match tokio::time::timeout_at(until, socket.next()).await {
                Err(_) => return,
                Ok(Some(Ok(Message::Text(text)))) => text,
                Ok(Some(Ok(_))) => continue,
                Ok(None | Some(Err(_))) => {
                    self.socket = None;
                    continue;
                }
            };
            match serde_json::from_str::<ServerMsg>(text_of(&frame)).unwrap() {
                ServerMsg::Message(message) => {
                    assert!(message.seq > self.seen, "{} got {:?} again after {:?}", self.name, message.seq, self.seen);
                    self.seen = message.seq;
                    self.received.push(message.seq.0);
                }
                ServerMsg::Ack { id, seq } => {
                    self.pending.retain(|p| *p != id.0);
                    self.acked.insert(id.0, seq);
                }
                ServerMsg::ShuttingDown => self.socket = None,
                _ => {}
            }
        }
    }
}

fn text_of(text: &tokio_tungstenite::tungstenite::Utf8Bytes) -> &str {
    text.as_str()
}

/// Three processes restarted one after the other (SIGTERM, then started
/// again) while three people post through them: every acknowledged message
/// is stored once, and each person ends with every message once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rolling_restart_of_three_processes_loses_no_acknowledged_message() {
    let url = server::store::fresh_postgres_database().await;
    let files = tempfile::tempdir().unwrap();
    Database::Postgres { url: url.clone(), files: files.path().to_owned() }.open().await.unwrap();
    let mut processes = Vec::new();
    for _ in 0..3 {
        processes.push(Some(Process::start(&url, files.path()).await));
    }
    let addrs: Vec<SocketAddr> = processes.iter().map(|p| p.as_ref().unwrap().addr).collect();
    let live = Arc::new(Mutex::new(addrs.clone()));
    // Long enough (80 x 25 ms) for every process to be restarted while they post.
    let per_person = 80;
    let mut pages = Vec::new();
    for (i, addr) in addrs.iter().enumerate() {
        pages.push(Page::open(&format!("Person {i}"), *addr, live.clone()).await);
    }
    // Posting, paced, while the processes are restarted one by one.
    let posting: Vec<_> = pages
        .into_iter()
        .enumerate()
        .map(|(i, mut page)| {
            tokio::spawn(async move {
                for k in 0..per_person {
                    page.send(format!("p{i}-{k}")).await;
                    page.pump(Duration::from_millis(25)).await;
                }
                let deadline = tokio::time::Instant::now() + PATIENCE * 4;
                while (!page.pending.is_empty() || page.received.len() < 3 * per_person)
                    && tokio::time::Instant::now() < deadline
                {
                    page.pump(Duration::from_millis(100)).await;
                }
                page
            })
        })
        .collect();
    for slot in processes.iter_mut() {
        let process = slot.take().unwrap();
        live.lock().unwrap().retain(|a| *a != process.addr);
        process.stop().await;
        let fresh = Process::start(&url, files.path()).await;
        live.lock().unwrap().push(fresh.addr);
        *slot = Some(fresh);
    }
    let total = 3 * per_person as u64;
    let mut all_acked = BTreeMap::new();
    for task in posting {
        let page = task.await.unwrap();
        assert!(page.pending.is_empty(), "{} has unacknowledged messages: {:?}", page.name, page.pending);
        assert!(page.connects >= 2, "{}'s server went away while it posted", page.name);
        assert_eq!(page.received, (1..=total).collect::<Vec<_>>(), "{}: every message once, in order", page.name);
        all_acked.extend(page.acked);
    }
    let seqs: HashSet<Seq> = all_acked.values().copied().collect();
    assert_eq!((all_acked.len(), seqs.len()), (total as usize, total as usize), "each message its own seq");
    let (store, _) = server::store::PgStore::open(&url, files.path()).await.unwrap();
    assert_eq!(store.select_last_seq(&RoomName::parse("rolling").unwrap()).await.unwrap(), Seq(total));
}

/// A server killed with SIGKILL cannot say its people left: the others stop
/// showing them once its report on Redis expires (here a TTL of 3 s: within
/// that and a third, plus a notice's pace).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_server_s_people_leave_the_room_within_the_presence_ttl() {
    let url = server::store::fresh_postgres_database().await;
    let files = tempfile::tempdir().unwrap();
    Database::Postgres { url: url.clone(), files: files.path().to_owned() }.open().await.unwrap();
    let ttl = ["--presence-ttl-s", "3"];
    let mut doomed = Process::start_with(&url, files.path(), &ttl).await;
    let survivor = Process::start_with(&url, files.path(), &ttl).await;

    let mut bob = Client::connect_to(survivor.addr, "porch", "Bob").await;
    let _cy = Client::connect_to(doomed.addr, "porch", "Cy").await;
    online_becomes(&mut bob, 2).await;
    doomed.child.kill().await.unwrap();
    let killed = std::time::Instant::now();
    online_becomes(&mut bob, 1).await;
    let took = killed.elapsed();
    assert!(took < Duration::from_secs(6), "Cy left within the TTL and a third, not after {took:?}");
}

/// Reads presence notices until one counts `online` people.
async fn online_becomes(client: &mut Client, online: u32) {
    loop {
        if let ServerMsg::Presence { online: now, .. } = client.recv_within(Duration::from_secs(10)).await {
            if now == online {
                return;
            }
        }
    }
}
