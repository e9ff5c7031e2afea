//! Redis itself restarted, or dropping every subscription, under two servers
//! (issue 14), on a Redis of the test's own (`redis-server`, from Debian's
//! package that `scripts/services.sh` installs), so that killing it or its
//! connections reaches no other test. Nothing published meanwhile is heard,
//! and after a restart every subscription and every process's presence is
//! gone from it; yet each member gets every message once, in order, everyone
//! is shown again, and room lists are read again.

mod support;

use std::process::Stdio;
use std::time::Duration;

use app::protocol::ServerMsg;
use server::bus::Bus;
use server::config::Settings;
use server::policy::Policy;
use server::store::Database;
use support::{Client, TestServer, PATIENCE};
use tokio::process::{Child, Command};

/// A Redis server of this test's own, on `port`, keeping nothing on disk.
async fn redis_on(port: u16) -> Child {
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("redis-server runs (scripts/services.sh installs it)");
    tokio::time::timeout(PATIENCE, async {
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("Redis listens in time");
    child
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A server on the database at `url` with the bus on `redis`.
async fn node(url: &str, files: &std::path::Path, redis: &str) -> TestServer {
    // A presence TTL of 3 s: each process refreshes its own every second.
    let policy = Policy { send_burst: 1000, presence_ttl: Duration::from_secs(3), ..Policy::default() };
    let settings = Settings { policy, ..Settings::default() };
    let opened = Database::Postgres { url: url.to_owned(), files: files.to_owned() }.open().await.unwrap();
    let namespace = server::bus::namespace(opened.push.as_ref()).await.unwrap();
    let bus = Bus::connect(redis, &namespace).await.expect("Redis is reachable");
    TestServer::start_node(opened, settings, Some(bus)).await
}

/// Two servers on a fresh database, with a Redis of the test's own between them.
struct Deployment {
    port: u16,
    redis: String,
    redis_server: Child,
    url: String,
    files: tempfile::TempDir,
    nodes: [TestServer; 2],
}

async fn deployment() -> Deployment {
    let port = free_port();
    let redis = format!("redis://127.0.0.1:{port}");
    let redis_server = redis_on(port).await;
    let url = server::store::fresh_postgres_database().await;
    let files = tempfile::tempdir().unwrap();
    let nodes = [node(&url, files.path(), &redis).await, node(&url, files.path(), &redis).await];
    Deployment { port, redis, redis_server, url, files, nodes }
}

/// The seqs of the next `count` messages `client` receives (other frames skipped).
async fn messages(client: &mut Client, count: usize) -> Vec<u64> {
    let mut seqs = Vec::new();
    while seqs.len() < count {
        match client.recv_within(Duration::from_secs(10)).await {
            ServerMsg::Message(message) => seqs.push(message.seq.0),
            ServerMsg::Ack { .. } | ServerMsg::Presence { .. } | ServerMsg::Typing { .. } => {}
            other => panic!("{} got {other:?}", client.name),
        }
    }
    seqs
}

/// Reads until a presence notice counts `online` people.
async fn online_becomes(client: &mut Client, online: u32) {
    loop {
        if let ServerMsg::Presence { online: now, .. } = client.recv_within(Duration::from_secs(10)).await {
            if now == online {
                return;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_redis_restart_loses_no_message_and_everyone_is_shown_again() {
    let Deployment { port, redis, redis_server: mut first_redis, url, files, nodes } = deployment().await;
    let mut ada = nodes[0].join("restart", "Ada").await;
    let mut bob = nodes[1].join("restart", "Bob").await;
    online_becomes(&mut ada, 2).await;
    ada.say("before").await;
    assert_eq!(messages(&mut bob, 1).await, [1]);

    // Redis dies; what Ada posts now is stored, and published nowhere. The
    // servers are not ready (a load balancer sends no one new) but alive.
    first_redis.kill().await.unwrap();
    let readyz = support::get(nodes[0].addr, "/readyz", None).await;
    assert_eq!(readyz.status, 503, "{readyz:?}");
    assert!(readyz.body.contains("bus"), "{readyz:?}");
    for i in 0..4 {
        ada.say(&format!("during {i}")).await;
    }
    let _redis = redis_on(port).await;
    assert_eq!(messages(&mut bob, 4).await, [2, 3, 4, 5], "each once, in order, after Redis is back");
    ada.say("after").await;
    assert_eq!(messages(&mut bob, 1).await, [6]);
    assert_eq!(support::get(nodes[1].addr, "/readyz", None).await.status, 200, "ready again");

    // The new Redis knew nobody: a third server's first member still finds
    // the two already there, once their servers have written them again.
    let third = node(&url, files.path(), &redis).await;
    let mut cy = third.join("restart", "Cy").await;
    online_becomes(&mut cy, 3).await;
    online_becomes(&mut bob, 3).await;
}

/// A room joined through one server while Redis was away is not heard by the
/// other: once Redis is back, each tab there reads its whole list again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_room_list_told_while_redis_was_away_is_read_again_once_it_is_back() {
    let Deployment { port, redis_server: mut first_redis, files: _files, nodes, .. } = deployment().await;
    let ada = support::person(&nodes[0], "Ada").await;
    let mut laptop = Client::open(nodes[0].addr, "office", Some(&ada.cookie), &ada.username).await;
    laptop.join(None).await;
    assert!(matches!(laptop.recv_list().await, ServerMsg::Rooms { .. }), "the list comes first");

    first_redis.kill().await.unwrap();
    let reply = support::post_form(nodes[1].addr, "/api/join-room", &[("room", "lounge")], Some(&ada.cookie)).await;
    assert!(matches!(reply.status, 302 | 303), "join: {reply:?}");
    let _redis = redis_on(port).await;
    let lounge = app::room_name::RoomName::parse("lounge").unwrap();
    laptop
        .list_until(|msg| match msg {
            ServerMsg::Rooms { rooms } => rooms.iter().any(|entry| entry.room == lounge),
            ServerMsg::RoomJoined { entry } => panic!("{entry:?} was published while Redis was away"),
            _ => false,
        })
        .await;
}

/// Redis drops every subscription (`CLIENT KILL TYPE pubsub`, as a restart
/// does) just before messages are posted on one server: the person on the
/// other still gets them all, in order, once its bus is back or its next
/// check of the room finds them. (On this test's own Redis: the kill reaches
/// every pub/sub connection of the Redis it is sent to.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn messages_posted_while_redis_drops_the_subscriptions_still_arrive_in_order() {
    let Deployment { redis, redis_server: _redis, files: _files, nodes, .. } = deployment().await;
    let mut ada = nodes[0].join("outage", "Ada").await;
    let mut bob = nodes[1].join("outage", "Bob").await;
    ada.say("before").await;
    assert_eq!(messages(&mut bob, 1).await, [1]);

    let client = redis::Client::open(redis.as_str()).unwrap();
    let mut admin = client.get_multiplexed_async_connection().await.unwrap();
    let _: i64 = redis::cmd("CLIENT").arg("KILL").arg("TYPE").arg("pubsub").query_async(&mut admin).await.unwrap();
    for i in 0..5 {
        ada.say(&format!("during {i}")).await;
    }
    assert_eq!(messages(&mut bob, 5).await, [2, 3, 4, 5, 6]);
}
