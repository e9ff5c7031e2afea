//! A smoke run of the load generator against a real server: a few clients for a
//! second, every message delivered to everyone once, none lost. (The figures come
//! from `bench/run.sh`, never from a test.)

mod support;

use std::time::Duration;

use loadgen::RoomLoad;
use server::policy::Policy;
use support::TestServer;

fn generous() -> Policy {
    Policy {
        send_burst: 1000,
        sends_per_second: 1000.0,
        attempts_burst: 1000,
        attempts_per_minute: 1000.0,
        ..Policy::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_of_people_get_every_message_once() {
    let server = TestServer::start_with_policy(generous()).await;
    let load = RoomLoad {
        stack: loadgen::Stack::Chat,
        addr: server.addr,
        also: Vec::new(),
        rooms: 2,
        members: 5,
        senders: 2,
        rate: 20.0,
        duration: Duration::from_secs(1),
        drain: Duration::from_millis(500),
        tag: "smoke".into(),
    };
    let report = loadgen::room_load(&load).await.unwrap();
    assert!(report.sent >= 20, "{report:?}");
    assert_eq!(report.refused, 0, "{report:?}");
    assert_eq!((report.lost, report.duplicated, report.seq_gaps), (0, 0, 0), "{report:?}");
    assert_eq!(report.deliveries, report.expected, "each message to each of its room's members: {report:?}");
    assert_eq!(report.deliveries, report.sent * 5, "{report:?}");
    assert!(report.latency.p50 > Duration::ZERO && report.latency.p50 <= report.latency.p99);
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnect_storm_catches_everyone_up_without_loss() {
    let server = TestServer::start_with_policy(generous()).await;
    // A lost message would leave the storm waiting for it: fail instead of hanging.
    let storm = loadgen::reconnect_storm(server.addr, 20, 30, "smoke");
    let report =
        tokio::time::timeout(Duration::from_secs(30), storm).await.expect("everyone caught up within 30 s").unwrap();
    assert_eq!((report.lost, report.duplicated), (0, 0), "{report:?}");
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_counted_and_measured() {
    let server = TestServer::start().await;
    let (report, sockets) =
        loadgen::idle(loadgen::Stack::Chat, server.addr, 20, 4, Some(std::process::id()), "smoke").await.unwrap();
    assert_eq!(sockets.len(), 20);
    assert!(report.rss_before > 0 && report.rss_after > 0, "{report:?}");
    support::eventually("the readers are in their rooms", || {
        (0..4).all(|i| {
            let room = app::room_name::RoomName::parse(&format!("idle-smoke-{i}")).unwrap();
            server.state.hub.room(&room).is_some_and(|r| r.member_count() == 5)
        })
    })
    .await;
    drop(sockets);
    server.shut_down().await;
}
