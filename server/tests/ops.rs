//! Operating the server (issue 15): `/metrics` on a listener of its own
//! changes as traffic flows; `/healthz` and `/readyz` answer on the main one
//! (`outage.rs` shows `/readyz` failing while PostgreSQL is away).

mod support;

use support::{answer, Client, TestServer};

/// The value of the metric line that starts with `name ` (a counter or a
/// gauge without labels), or of `name{labels} `.
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no metric {name} in:\n{text}"))
}

/// Serves the metrics router of `server` on a port of its own, as
/// `--metrics-addr` does; returns where.
async fn metrics_of(server: &TestServer) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = server::http::health::metrics_router(server.state.clone());
    let stop = server.state.shutdown.clone().cancelled_owned();
    tokio::spawn(async move { axum::serve(listener, router).with_graceful_shutdown(stop).await });
    addr
}

#[tokio::test]
async fn metrics_change_as_messages_flow_and_are_not_on_the_public_address() {
    let server = TestServer::start().await;
    let metrics = metrics_of(&server).await;
    let scrape = || async move {
        let reply = support::get(metrics, "/metrics", None).await;
        assert_eq!(reply.status, 200);
        assert!(reply.header("content-type").is_some_and(|t| t.starts_with("text/plain")), "{reply:?}");
        reply.body
    };
    let before = scrape().await;

    let mut ada = Client::connect_to(server.addr, "metered", "Ada").await;
    let _bob = Client::connect_to(server.addr, "metered", "Bob").await;
    for i in 0..3 {
        let id = ada.say(&format!("counted {i}")).await;
        answer(&mut ada, &id.0).await.expect("stored");
    }
    let after = scrape().await;
    // Other tests in this process count too: at least what this one did.
    assert!(metric(&after, "chat_messages_stored_total") >= metric(&before, "chat_messages_stored_total") + 3.0);
    assert!(metric(&after, "chat_deliveries_total") >= metric(&before, "chat_deliveries_total") + 6.0, "3 x 2 members");
    assert!(metric(&after, "chat_commit_seconds_count") > metric(&before, "chat_commit_seconds_count"));
    assert!(metric(&after, "chat_commit_batch_size_sum") >= metric(&before, "chat_commit_batch_size_sum") + 3.0);
    // Exported from the start, whether or not a commit has waited yet.
    assert!(
        after.lines().any(|line| line.starts_with("chat_commit_hold_seconds_count ")),
        "the pacing's waits are a figure:\n{after}"
    );
    assert!(
        after.lines().any(|line| line.starts_with("chat_search_index_seconds_count ")),
        "the search indexer's batches are a figure:\n{after}"
    );
    assert!(
        after.lines().any(|line| line.starts_with("chat_search_index_failures_total ")),
        "and its failures:\n{after}"
    );
    assert!(
        after.lines().any(|line| line.starts_with("chat_sqlite_log_frames ")),
        "the length of SQLite's log is a figure:\n{after}"
    );
    assert!(metric(&after, "chat_connections") >= 2.0, "Ada's and Bob's sockets");
    assert!(metric(&after, "chat_rooms") >= 1.0);

    // Not on the public address.
    assert_eq!(support::get(server.addr, "/metrics", None).await.status, 404);
    server.shut_down().await;
}

#[tokio::test]
async fn health_and_readiness_answer_on_the_main_address() {
    let server = TestServer::start().await;
    let health = support::get(server.addr, "/healthz", None).await;
    assert_eq!((health.status, health.body.as_str()), (200, "ok\n"));
    let ready = support::get(server.addr, "/readyz", None).await;
    assert_eq!((ready.status, ready.body.as_str()), (200, "ready\n"));
    server.shut_down().await;
}

/// Retention: messages older than the period are deleted as their authors
/// would delete them: each a change with the room's next seq, heard live,
/// its tombstone in its place; nothing newer is touched, and a second sweep
/// finds nothing.
#[tokio::test]
async fn retention_deletes_old_messages_as_changes_with_their_seqs() {
    let server = TestServer::start().await;
    let mut ada = Client::connect_to(server.addr, "kept-briefly", "Ada").await;
    let mut bob = Client::connect_to(server.addr, "kept-briefly", "Bob").await;
    for i in 0..3 {
        let id = ada.say(&format!("old news {i}")).await;
        answer(&mut ada, &id.0).await.expect("stored");
    }
    for _ in 0..3 {
        bob.recv_chat().await;
    }
    // A period of nothing: everything sent before this moment is past it.
    let (hub, accounts) = (&server.state.hub, &server.state.accounts);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut deleted = 0;
    while deleted < 3 {
        assert!(tokio::time::Instant::now() < deadline, "only {deleted} deleted");
        deleted += server::retention::sweep(hub, accounts, std::time::Duration::ZERO).await.unwrap();
    }
    assert_eq!(deleted, 3);
    let mut changes = Vec::new();
    for _ in 0..3 {
        let (seq, message) = support::next_change(&mut bob).await;
        assert!(message.deleted && message.body.is_empty(), "{message:?}");
        changes.push((seq.0, message.seq.0));
    }
    changes.sort_unstable();
    assert_eq!(changes, [(4, 1), (5, 2), (6, 3)], "each delete takes the next seq; the tombstones keep theirs");
    assert_eq!(server::retention::sweep(hub, accounts, std::time::Duration::ZERO).await.unwrap(), 0);
    // Kept for a day: nothing this new is touched.
    let id = ada.say("fresh").await;
    assert_eq!(answer(&mut ada, &id.0).await, Ok(app::protocol::Seq(7)), "no hole");
    assert_eq!(server::retention::sweep(hub, accounts, std::time::Duration::from_secs(86_400)).await.unwrap(), 0);
    server.shut_down().await;
}
