//! How fast the history is: messages stored per second in one room (through the
//! hub's single writer, as the server stores them), and the time to render a room
//! page and to serve an older page for a room of 100,000 messages.
//!
//! `cargo bench -p server --bench history` prints the figures; BENCHMARKS.md keeps
//! them. Every figure is a median of several runs made side by side in one process.

use std::sync::Arc;
use std::time::{Duration, Instant};

use app::history::History;
use app::protocol::{ClientMsgId, Seq, Timestamp};
use app::room_name::RoomName;
use axum::body::{to_bytes, Body};
use axum::http::{header, Request};
use leptos::server_fn::ServerFn;
use server::hub::{Author, Hub};
use server::store::{AccountId, MessageWriter, NewMessage, SqliteStore, SqliteWriter, Store};
use server::{router, AppState};
use tower::ServiceExt;

const ROUNDS: usize = 3;
const BIG_ROOM: u64 = 100_000;
const RENDERS: usize = 30;

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn message(room: &RoomName, i: u64) -> NewMessage {
    NewMessage {
        room: room.clone(),
        author_id: AccountId(i as i64 % 50 + 1),
        author: format!("user{}", i % 50),
        author_username: format!("user{}", i % 50),
        mentioned: Vec::new(),
        body: format!("message {i}: the quick brown fox jumps over the lazy dog"),
        client_id: ClientMsgId(format!("c{i}")),
        sent_at: Timestamp(1_795_000_000_000 + i as i64),
        reply: None,
        file: None,
    }
}

async fn fresh_store() -> ((SqliteStore, SqliteWriter), tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    (SqliteStore::open(&dir.path().join("bench.db")).await.unwrap(), dir)
}

/// `senders` members of one room each post `per_sender` messages, each waiting
/// for its acknowledgement before the next (as a person's client does).
async fn posts_per_second(senders: usize, per_sender: usize) -> f64 {
    let ((store, writer), _dir) = fresh_store().await;
    let hub = Hub::new(Arc::new(store), writer);
    let room = RoomName::parse("bench").unwrap();
    let authors: Vec<Author> = (0..senders)
        .map(|s| Author { id: AccountId(s as i64 + 1), username: format!("s{s}"), display_name: format!("s{s}") })
        .collect();
    let members: Vec<_> = authors.iter().map(|author| hub.join(&room, Some(author))).collect();
    let started = Instant::now();
    let tasks = members.iter().zip(&authors).enumerate().map(|(s, (member, author))| async move {
        for i in 0..per_sender {
            member.post(author, "hello, room", ClientMsgId(format!("{s}-{i}"))).await.unwrap();
        }
    });
    futures::future::join_all(tasks).await;
    (senders * per_sender) as f64 / started.elapsed().as_secs_f64()
}

/// One transaction per message, straight on the store: what group commit saves.
async fn single_transactions_per_second(count: u64) -> f64 {
    let ((_, mut writer), _dir) = fresh_store().await;
    let room = RoomName::parse("bench").unwrap();
    let started = Instant::now();
    for i in 0..count {
        writer.append_batch(vec![message(&room, i)]).await.unwrap();
    }
    count as f64 / started.elapsed().as_secs_f64()
}

async fn time_request(app: &axum::Router, request: impl Fn() -> Request<Body>) -> Duration {
    let started = Instant::now();
    let response = app.clone().oneshot(request()).await.unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let body = to_bytes(response.into_body(), 16 << 20).await.unwrap();
    assert!(body.len() > 1000);
    started.elapsed()
}

#[tokio::main]
async fn main() {
    println!("history benchmark ({} cores)", std::thread::available_parallelism().map_or(1, |n| n.get()));

    for senders in [1, 10, 100] {
        let per_sender = 5_000 / senders;
        let mut rates = Vec::new();
        for _ in 0..ROUNDS {
            rates.push(posts_per_second(senders, per_sender).await);
        }
        println!(
            "store: {senders:>3} senders in one room, {} messages: {:>7.0} messages/s stored and broadcast (median of {ROUNDS})",
            senders * per_sender,
            median(rates)
        );
    }
    let mut rates = Vec::new();
    for _ in 0..ROUNDS {
        rates.push(single_transactions_per_second(1_000).await);
    }
    println!(
        "store: one transaction per message, 1000 messages: {:>7.0} messages/s (median of {ROUNDS})",
        median(rates)
    );

    let ((store, mut writer), _dir) = fresh_store().await;
    let room = RoomName::parse("big").unwrap();
    let seeding = Instant::now();
    for chunk in (0..BIG_ROOM).collect::<Vec<_>>().chunks(1_000) {
        writer.append_batch(chunk.iter().map(|&i| message(&room, i)).collect()).await.unwrap();
    }
    println!("seeded a room of {BIG_ROOM} messages in {:.1} s", seeding.elapsed().as_secs_f64());

    let options = leptos::prelude::LeptosOptions::builder().output_name("chat").site_root("target/site").build();
    let state = AppState::new(options, (store.clone(), writer));
    let app = router(state);
    let page = || Request::get("/chat/big/").header(header::ACCEPT, "text/html").body(Body::empty()).unwrap();
    let middle = || {
        Request::post(History::PATH)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json")
            .body(Body::from(format!("room=big&before={}", BIG_ROOM / 2)))
            .unwrap()
    };
    for (name, request) in [
        ("room page (newest 50, server-rendered HTML)", &page as &dyn Fn() -> Request<Body>),
        ("older page from the middle (history server fn)", &middle),
    ] {
        time_request(&app, request).await;
        let mut times = Vec::new();
        for _ in 0..RENDERS {
            times.push(time_request(&app, request).await.as_secs_f64() * 1000.0);
        }
        println!("render: {name}: median {:.2} ms over {RENDERS} requests", median(times));
    }
    let mut times = Vec::new();
    for _ in 0..RENDERS {
        let started = Instant::now();
        let page = store.page(&room, Some(Seq(BIG_ROOM / 2)), 51).await.unwrap();
        assert_eq!(page.len(), 51);
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    println!("store: one page from the middle, query alone: median {:.3} ms", median(times));
}
