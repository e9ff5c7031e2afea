//! Several server processes on one PostgreSQL database with Redis between
//! them (issue 14): here three servers in one test process, each with its
//! own connections, writer, hub and bus, on the machine's real PostgreSQL and
//! Redis (started by `scripts/services.sh` when they are not running; never
//! skipped).

mod support;

use std::time::Duration;

use app::protocol::{Seq, ServerMsg};
use app::room_name::RoomName;
use server::bus::Bus;
use server::config::Settings;
use server::policy::Policy;
use server::store::Database;
use support::{Client, TestServer, PATIENCE};

fn redis_url() -> String {
    std::env::var("CHAT_TEST_REDIS").unwrap_or_else(|_| server::store::from_services_script("CHAT_TEST_REDIS"))
}

/// `n` servers on one fresh database and one Redis, files in one directory.
async fn nodes(n: usize) -> (Vec<TestServer>, tempfile::TempDir) {
    nodes_with(n, None).await
}

/// [`nodes`], their buses misbehaving as `faults` say.
async fn nodes_with(n: usize, faults: Option<server::bus::Faults>) -> (Vec<TestServer>, tempfile::TempDir) {
    // Room for a burst of posts from one person.
    nodes_holding(n, faults, Policy { send_burst: 1000, ..Policy::default() }).await
}

/// [`nodes_with`], holding everyone to `policy`.
async fn nodes_holding(
    n: usize,
    faults: Option<server::bus::Faults>,
    policy: Policy,
) -> (Vec<TestServer>, tempfile::TempDir) {
    let url = server::store::fresh_postgres_database().await;
    let files = tempfile::tempdir().unwrap();
    let settings = Settings { policy, ..Settings::default() };
    let mut nodes = Vec::new();
    for _ in 0..n {
        let database = Database::Postgres { url: url.clone(), files: files.path().to_owned() };
        let opened = database.open().await.unwrap();
        let namespace = server::bus::namespace(opened.push.as_ref()).await.unwrap();
        let bus = Bus::connect_with_faults(&redis_url(), &namespace, faults).await.expect("Redis is reachable");
        nodes.push(TestServer::start_node(opened, settings.clone(), Some(bus)).await);
    }
    (nodes, files)
}

/// The seqs of the messages `client` receives until it has `count`, in the
/// order they came (acks and presence skipped).
async fn messages(client: &mut Client, count: usize) -> Vec<u64> {
    let mut seqs = Vec::new();
    while seqs.len() < count {
        match client.recv_within(PATIENCE * 2).await {
            ServerMsg::Message(message) => seqs.push(message.seq.0),
            ServerMsg::Ack { .. } | ServerMsg::Presence { .. } | ServerMsg::Typing { .. } => {}
            other => panic!("{} got {other:?}", client.name),
        }
    }
    seqs
}

/// Three people on three servers post at once in one room: each of them sees
/// every message once, in one order, and that order is the database's.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn people_on_three_servers_see_every_message_once_in_the_databases_order() {
    let (nodes, _files) = nodes(3).await;
    let mut clients = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        clients.push(node.join("shared", &format!("Person {i}")).await);
    }
    let per_person = 15;
    let total = per_person * clients.len();
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|mut client| {
            tokio::spawn(async move {
                for i in 0..per_person {
                    client.say(&format!("{} says {i}", client.name)).await;
                }
                messages(&mut client, total).await
            })
        })
        .collect();
    let expected: Vec<u64> = (1..=total as u64).collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), expected, "every seq once, in order, with no hole");
    }
    // The order they saw is the database's.
    let stored = nodes[0].state.hub.store().after(&RoomName::parse("shared").unwrap(), Seq(0), 1000).await.unwrap();
    assert_eq!(stored.iter().filter_map(ServerMsg::event_seq).map(|s| s.0).collect::<Vec<_>>(), expected);
}

/// How long a server takes at most to compare its rooms with the database.
fn server_check() -> Duration {
    Duration::from_secs(2)
}

/// A tab of `who` on `node` with `open` open, past its room list.
async fn tab(node: &TestServer, who: &support::Person, open: &str) -> Client {
    let mut client = Client::open(node.addr, open, Some(&who.cookie), &who.username).await;
    client.join(None).await;
    match client.recv_list().await {
        ServerMsg::Rooms { .. } => client,
        other => panic!("expected the room list first, got {other:?}"),
    }
}

/// A person's room list follows what happens on other servers: a room put in
/// it through one server shows in a tab on another, and a message posted
/// through a third counts there.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_room_list_follows_what_happens_on_other_servers() {
    let (nodes, _files) = nodes(3).await;
    let ada = support::person(&nodes[0], "Ada").await;
    let bob = support::person(&nodes[2], "Bob").await;
    let mut laptop = tab(&nodes[0], &ada, "office").await;

    let reply = support::post_form(nodes[1].addr, "/api/join-room", &[("room", "lounge")], Some(&ada.cookie)).await;
    assert!(matches!(reply.status, 302 | 303), "join: {reply:?}");
    // (Or the whole list again, had the bus dropped the tab's server meanwhile.)
    let lounge = RoomName::parse("lounge").unwrap();
    match laptop.recv_list().await {
        ServerMsg::RoomJoined { entry } => assert_eq!(entry.room, lounge),
        ServerMsg::Rooms { rooms } => assert!(rooms.iter().any(|entry| entry.room == lounge)),
        other => panic!("expected the joined room, got {other:?}"),
    }

    let mut bobs = Client::open(nodes[2].addr, "lounge", Some(&bob.cookie), "Bob").await;
    bobs.join(None).await;
    bobs.say(&format!("hi @{}", ada.username)).await;
    let activity = laptop.list_until(|m| matches!(m, ServerMsg::Activity { seq: Seq(1), .. })).await;
    let ServerMsg::Activity { room, mentioned, .. } = activity else { unreachable!() };
    assert_eq!(room, RoomName::parse("lounge").unwrap());
    assert_eq!(mentioned.get(&ada.username), Some(&1), "counted once, not once per server");
    // Nothing told twice: the next thing the tab hears is Bob's next message
    // (a whole list read again is no change told).
    bobs.say("again").await;
    let next = laptop.list_until(|m| !matches!(m, ServerMsg::Rooms { .. })).await;
    assert!(matches!(next, ServerMsg::Activity { seq: Seq(2), .. }), "{next:?}");
}

/// Signing out through one server closes that session's sockets on the
/// others, and none of them takes its cookie any more.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn signing_out_on_one_server_ends_the_session_on_the_others() {
    let (nodes, _files) = nodes(2).await;
    let ada = support::person(&nodes[0], "Ada").await;
    // The session is read (and cached) by the second server first.
    let mut socket = tab(&nodes[1], &ada, "tea").await;
    let page = support::get(nodes[1].addr, "/chat/tea/", Some(&ada.cookie)).await;
    assert!(page.body.contains("Signed in as"), "signed in on the second server first");

    let reply = support::post_form(nodes[0].addr, "/api/sign-out", &[("next", "/chat/tea/")], Some(&ada.cookie)).await;
    assert_eq!(reply.status, 302);
    match socket.recv_chat().await {
        ServerMsg::Error { error: app::protocol::ChatError::SignedOut, .. } => {}
        other => panic!("expected signed_out, got {other:?}"),
    }
    assert_eq!(socket.closed().await, Some(1008));
    let page = support::get(nodes[1].addr, "/chat/tea/", Some(&ada.cookie)).await;
    assert!(!page.body.contains("Signed in as"), "the second server forgot the session");
}

/// Someone typing on one server shows to the room's people on another (never
/// stored).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn typing_on_one_server_shows_on_another() {
    let (nodes, _files) = nodes(2).await;
    let mut ada = nodes[0].join("typing", "Ada").await;
    let mut bob = nodes[1].join("typing", "Bob").await;
    ada.send(&app::protocol::ClientMsg::Typing).await;
    loop {
        match bob.recv().await {
            ServerMsg::Typing { display_name, .. } => {
                assert_eq!(display_name, "Ada");
                break;
            }
            ServerMsg::Presence { .. } => continue,
            other => panic!("Bob expected Ada typing, got {other:?}"),
        }
    }
}

/// The bus drops a tenth of what is published, repeats a tenth and swaps a
/// fifth with the message after it: three people on three servers posting at
/// once still each see every message once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_bus_that_drops_repeats_and_reorders_loses_nothing_and_repeats_nothing() {
    let faults = server::bus::Faults { drop: 0.1, duplicate: 0.1, reorder: 0.2 };
    let (nodes, _files) = nodes_with(3, Some(faults)).await;
    let mut clients = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        clients.push(node.join("chaos", &format!("Person {i}")).await);
    }
    let per_person = 30;
    let total = per_person * clients.len();
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|mut client| {
            tokio::spawn(async move {
                for i in 0..per_person {
                    client.say(&format!("{} says {i}", client.name)).await;
                }
                messages(&mut client, total).await
            })
        })
        .collect();
    let expected: Vec<u64> = (1..=total as u64).collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), expected, "every seq once, in order, with no hole");
    }
}

/// A server that stores a message and never publishes it (as one killed between
/// its commit and its publish): the other server's check of its rooms delivers
/// it within its interval, with no later message to show the gap.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_message_never_published_arrives_by_the_check_of_the_room() {
    let url = server::store::fresh_postgres_database().await;
    let files = tempfile::tempdir().unwrap();
    let mut nodes = Vec::new();
    // The first server's bus drops everything it publishes.
    for drop in [1.0, 0.0] {
        let database = Database::Postgres { url: url.clone(), files: files.path().to_owned() };
        let faults = server::bus::Faults { drop, ..Default::default() };
        let opened = database.open().await.unwrap();
        let namespace = server::bus::namespace(opened.push.as_ref()).await.unwrap();
        let bus = Bus::connect_with_faults(&redis_url(), &namespace, Some(faults)).await.unwrap();
        nodes.push(TestServer::start_node(opened, Settings::default(), Some(bus)).await);
    }
    let mut ada = nodes[0].join("silent", "Ada").await;
    let mut bob = nodes[1].join("silent", "Bob").await;
    ada.say("stored, never told").await;
    let seen = tokio::time::timeout(server_check() + PATIENCE, messages(&mut bob, 1)).await.expect("it came");
    assert_eq!(seen, [1]);
}

/// Reads presence notices until one satisfies `done`.
async fn presence_until(client: &mut Client, mut done: impl FnMut(u32, &[app::protocol::Person], &[String]) -> bool) {
    loop {
        if let ServerMsg::Presence { online, people, left, .. } = client.recv_within(PATIENCE).await {
            if done(online, &people, &left) {
                return;
            }
        }
    }
}

/// Presence across servers: people on two servers see each other; a person
/// with tabs on both counts once and is away only when every tab on every
/// server is; a server that stops takes its people out of the room at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn people_on_other_servers_are_shown_each_once_and_go_with_their_server() {
    let (mut nodes, _files) = nodes(2).await;
    let mut ada = nodes[0].join("porch", "Ada").await;
    let mut bob = nodes[1].join("porch", "Bob").await;
    let named = |people: &[app::protocol::Person], name: &str| people.iter().any(|p| p.display_name == name);
    presence_until(&mut ada, |online, people, _| online == 2 && named(people, "Bob")).await;

    // Ada's second tab, on Bob's server: she is one person there too.
    let mut ada2 = Client::open(nodes[1].addr, "porch", ada.cookie.as_deref(), "Ada 2").await;
    ada2.send(&app::protocol::ClientMsg::Join { version: app::protocol::PROTOCOL_VERSION, since: None }).await;
    match ada2.recv().await {
        ServerMsg::Welcome { online, people, .. } => {
            assert_eq!(online, 2, "Ada and Bob, each once");
            assert!(named(&people, "Ada") && named(&people, "Bob"), "{people:?}");
        }
        other => panic!("expected a welcome, got {other:?}"),
    }
    // Away on one server only: still here; away on both: away.
    ada.send(&app::protocol::ClientMsg::Away { away: true }).await;
    ada2.send(&app::protocol::ClientMsg::Away { away: true }).await;
    presence_until(&mut bob, |_, people, _| people.iter().any(|p| p.display_name == "Ada" && p.away)).await;
    ada2.send(&app::protocol::ClientMsg::Away { away: false }).await;
    presence_until(&mut bob, |_, people, _| people.iter().any(|p| p.display_name == "Ada" && !p.away)).await;

    // Bob's server stops: Bob leaves Ada's view at once; Ada stays (her tab here).
    drop(ada2);
    nodes.pop().unwrap().shut_down().await;
    presence_until(&mut ada, |online, _, left| online == 1 && left.len() == 1).await;
}

/// The limits hold over every server: an account's sockets on two servers
/// count against one cap, and what it sent through one is spent on the other;
/// a person with a socket on one server is online for the others.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_connection_cap_and_the_send_rate_hold_across_servers() {
    let policy = Policy { connections_per_account: 2, send_burst: 4, sends_per_second: 0.01, ..Policy::default() };
    let (nodes, _files) = nodes_holding(2, None, policy).await;
    let ada = support::person(&nodes[0], "Ada").await;
    let account = nodes[0].state.accounts.store().account_named(&ada.username).await.unwrap().unwrap().id;
    let mut laptop = tab(&nodes[0], &ada, "limits").await;
    let mut phone = tab(&nodes[1], &ada, "limits").await;
    for node in &nodes {
        support::eventually("both sockets are counted on each server", || node.state.caps.held_by(account) == 2).await;
    }
    for node in &nodes {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = format!("ws://{}/ws/chat/limits", node.addr).into_client_request().unwrap();
        request.headers_mut().insert("cookie", ada.cookie.parse().unwrap());
        match tokio_tungstenite::connect_async(request).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => assert_eq!(response.status(), 429),
            other => panic!("expected 429 for a third socket over two servers, got {:?}", other.map(|_| "a socket")),
        }
    }

    // Bob, with one tab on the second server, is online for the first (no
    // Web Push while he reads), and not once it closes.
    let bob = support::person(&nodes[0], "Bob").await;
    let bob_id = nodes[0].state.accounts.store().account_named(&bob.username).await.unwrap().unwrap().id;
    let bobs_tab = tab(&nodes[1], &bob, "elsewhere").await;
    support::eventually("the first server knows Bob is online", || nodes[0].state.hub.is_online(bob_id)).await;
    drop(bobs_tab);
    support::eventually("and that he is not any more", || !nodes[0].state.hub.is_online(bob_id)).await;

    // Three of her four sent through one server: the other has one left.
    for i in 0..3 {
        let id = laptop.say(&format!("sent {i}")).await;
        support::answer(&mut laptop, &id.0).await.expect("within the burst");
    }
    support::eventually("the other server spent them", || {
        nodes[1].state.hub.send_allowance(account).is_some_and(|left| left < 1.5)
    })
    .await;
    let id = phone.say("her fourth").await;
    support::answer(&mut phone, &id.0).await.expect("one was left");
    let id = phone.say("one too many").await;
    assert_eq!(support::answer(&mut phone, &id.0).await, Err("rate_limited".to_owned()), "four in all");
}
