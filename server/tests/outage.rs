//! PostgreSQL going away under a running server, and coming back: between the
//! server and the machine's PostgreSQL sits a TCP relay the test cuts (every
//! connection closed, new ones refused) and restores, as a database restart
//! or a network outage does.

mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use app::protocol::{ChatError, ClientMsgId, Seq, ServerMsg};
use app::room_name::RoomName;
use server::store::Database;
use support::{TestServer, PATIENCE};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// A TCP relay to PostgreSQL that can be cut.
struct Relay {
    addr: SocketAddr,
    up: Arc<AtomicBool>,
    /// Cut: every relayed connection is dropped.
    cut: Arc<tokio::sync::Notify>,
}

impl Relay {
    async fn start(to: SocketAddr) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let cut = Arc::new(tokio::sync::Notify::new());
        let (up2, cut2) = (up.clone(), cut.clone());
        tokio::spawn(async move {
            let mut connections = JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((mut client, _)) = accepted else { return };
                        if !up2.load(Ordering::SeqCst) {
                            continue; // dropped: the connection is refused
                        }
                        connections.spawn(async move {
                            if let Ok(mut server) = TcpStream::connect(to).await {
                                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                            }
                        });
                    }
                    () = cut2.notified() => connections.abort_all(),
                }
            }
        });
        Relay { addr, up, cut }
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.cut.notify_one();
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// PostgreSQL goes away: a message sent meanwhile is refused (never
/// acknowledged), nothing half-written is left, and once it is back the same
/// message, sent again, is stored once under the next seq, by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn while_postgres_is_away_sends_fail_without_an_ack_and_service_comes_back_by_itself() {
    let direct = server::store::fresh_postgres_database().await;
    let parsed = url::Url::parse(&direct).unwrap();
    let to: SocketAddr = format!("{}:{}", parsed.host_str().unwrap(), parsed.port().unwrap_or(5432)).parse().unwrap();
    let relay = Relay::start(to).await;
    let mut through = parsed.clone();
    through.set_port(Some(relay.addr.port())).unwrap();
    let files = tempfile::tempdir().unwrap();
    let database = Database::Postgres { url: through.to_string(), files: files.path().to_owned() };
    let server = TestServer::start_node(database.open().await.unwrap(), Default::default(), None).await;

    let mut ada = server.join("outage", "Ada").await;
    ada.say_as(ClientMsgId("before".into()), "before").await;
    assert!(support::answer(&mut ada, "before").await.is_ok());
    assert_eq!(support::get(server.addr, "/readyz", None).await.status, 200, "ready with its database");

    relay.cut();
    // Not ready while the database is away (a load balancer sends no one new);
    // alive all the same.
    let readyz = support::get(server.addr, "/readyz", None).await;
    assert_eq!(readyz.status, 503, "{readyz:?}");
    assert!(readyz.body.contains("store"), "{readyz:?}");
    assert_eq!(support::get(server.addr, "/healthz", None).await.status, 200);
    ada.say_as(ClientMsgId("during".into()), "during").await;
    match support::answer(&mut ada, "during").await {
        Err(code) => assert_eq!(code, ChatError::StoreUnavailable.code()),
        Ok(seq) => panic!("acknowledged as {seq:?} with the database away"),
    }
    // Signing out cannot be done either: the plain form goes back to its page
    // with the reason, which the page shows, and the session is still there.
    let cookie = ada.cookie.clone().expect("Ada has an account");
    let reply = support::post_form(server.addr, "/api/sign-out", &[("next", "/chat/outage/")], Some(&cookie)).await;
    assert_eq!(reply.status, 302, "{reply:?}");
    assert_eq!(reply.header("location"), Some("/chat/outage/?sign_out_error=unavailable"), "{reply:?}");
    assert!(reply.set_cookies().is_empty(), "the session cookie is kept: {reply:?}");

    relay.restore();
    // The page sends it again, under the same id, until it is acknowledged.
    let deadline = tokio::time::Instant::now() + PATIENCE * 3;
    let seq = loop {
        ada.say_as(ClientMsgId("during".into()), "during").await;
        match support::answer(&mut ada, "during").await {
            Ok(seq) => break seq,
            Err(_) if tokio::time::Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(200)).await,
            Err(code) => panic!("still refused ({code}) after the database came back"),
        }
    };
    assert_eq!(seq, Seq(2), "the next seq: nothing was half-written while it was away");
    assert_eq!(support::get(server.addr, "/readyz", None).await.status, 200, "ready again");
    let (store, _) = server::store::PgStore::open(&direct, files.path()).await.unwrap();
    let stored = store.select_after(&RoomName::parse("outage").unwrap(), Seq(0), 10).await.unwrap();
    let bodies: Vec<String> = stored
        .iter()
        .filter_map(|event| match event {
            ServerMsg::Message(message) => Some(message.body.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(bodies, ["before", "during"]);
}
