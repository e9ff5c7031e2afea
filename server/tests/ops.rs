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
