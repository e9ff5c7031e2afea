//! The WebSocket route with a real server on port 0 and real clients.

mod support;

use app::protocol::{ChatError, ClientMsg, ServerMsg, MAX_BODY_CHARS, PROTOCOL_VERSION};
use support::{eventually, TestServer};
use tokio_tungstenite::tungstenite::Message;

/// The refusal a frame carries, if it is one with the `expected` code.
#[track_caller]
fn assert_error(msg: ServerMsg, expected: &str) -> ChatError {
    match msg {
        ServerMsg::Error { error, .. } if error.code() == expected => error,
        other => panic!("expected a {expected} error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_message_reaches_everyone_in_its_room_once_and_no_other_room() {
    let server = TestServer::start().await;
    let mut a1 = server.join("alpha", "A1").await;
    let mut a2 = server.join("alpha", "A2").await;
    let mut b1 = server.join("beta", "B1").await;

    a1.say("hello alpha").await;
    assert_eq!(a1.recv_body().await, "hello alpha", "the sender sees its own message");
    assert_eq!(a2.recv_body().await, "hello alpha");

    // A marker after it: if "hello alpha" had been delivered twice, the duplicate
    // would arrive before the marker.
    a2.say("marker").await;
    assert_eq!(a1.recv_body().await, "marker");
    assert_eq!(a2.recv_body().await, "marker");

    // B1's first chat event is its own message: nothing from alpha came before it.
    b1.say("hello beta").await;
    assert_eq!(b1.recv_body().await, "hello beta");
    a1.say("after beta").await;
    assert_eq!(a2.recv_body().await, "after beta", "beta's message did not reach alpha");

    server.shut_down().await;
}

#[tokio::test]
async fn messages_carry_author_seq_and_time() {
    let server = TestServer::start().await;
    let mut ada = server.join("general", "  Ada  Lovelace ").await;
    ada.say("one").await;
    ada.say("two").await;
    for (expected_seq, expected_body) in [(1, "one"), (2, "two")] {
        match ada.recv_chat().await {
            ServerMsg::Message(m) => {
                assert_eq!(m.author, "Ada Lovelace", "the server uses the normalised join name");
                assert_eq!((m.seq.0, m.body.as_str()), (expected_seq, expected_body));
                assert!(m.sent_at.0 > 1_600_000_000_000, "a real clock time");
            }
            other => panic!("expected a message, got {other:?}"),
        }
    }
    server.shut_down().await;
}

#[tokio::test]
async fn an_over_long_message_is_refused_and_the_connection_keeps_working() {
    let server = TestServer::start().await;
    let mut ada = server.join("general", "Ada").await;
    let mut bob = server.join("general", "Bob").await;

    ada.say(&"x".repeat(MAX_BODY_CHARS + 1)).await;
    let refusal = assert_error(ada.recv_chat().await, "too_long");
    assert_eq!(
        refusal,
        ChatError::TooLong { len: MAX_BODY_CHARS + 1, max: MAX_BODY_CHARS },
        "the error says the limit"
    );

    ada.say(&"y".repeat(MAX_BODY_CHARS)).await;
    assert_eq!(ada.recv_body().await.len(), MAX_BODY_CHARS, "a message at the limit goes through");
    assert_eq!(bob.recv_body().await.len(), MAX_BODY_CHARS, "and nobody saw the refused one");
    server.shut_down().await;
}

#[tokio::test]
async fn malformed_and_binary_frames_get_error_frames_and_the_connection_keeps_working() {
    let server = TestServer::start().await;
    let mut ada = server.join("general", "Ada").await;

    ada.send_raw(Message::text("this is not json")).await;
    assert_error(ada.recv_chat().await, "malformed");
    ada.send_raw(Message::text(r#"{"type":"shout","body":"hi"}"#)).await;
    let refusal = assert_error(ada.recv_chat().await, "malformed");
    assert!(
        matches!(&refusal, ChatError::Malformed { detail } if detail.contains("shout")),
        "names what was wrong: {refusal:?}"
    );
    ada.send_raw(Message::text(r#"{"type":"send"}"#)).await;
    assert_error(ada.recv_chat().await, "malformed");
    ada.send_raw(Message::binary(vec![0u8, 159, 146, 150])).await;
    assert_error(ada.recv_chat().await, "binary_frame");
    ada.say("   ").await;
    assert_error(ada.recv_chat().await, "empty_message");
    ada.send(&ClientMsg::Join { version: PROTOCOL_VERSION, since: None }).await;
    assert_error(ada.recv_chat().await, "already_joined");

    ada.say("still here").await;
    assert_eq!(ada.recv_body().await, "still here");
    server.shut_down().await;
}

#[tokio::test]
async fn the_first_frame_must_be_a_valid_join() {
    let server = TestServer::start().await;
    let mut client = server.connect("general").await;
    client.say("too early").await;
    assert_error(client.recv().await, "not_joined");
    client.send_raw(Message::text(r#"{"type":"join"}"#)).await;
    assert_error(client.recv().await, "malformed");
    client.send(&ClientMsg::Join { version: PROTOCOL_VERSION, since: None }).await;
    match client.recv().await {
        ServerMsg::Welcome { you: None, .. } => {}
        other => panic!("a signed-out join is a reader's welcome, got {other:?}"),
    }
    server.shut_down().await;
}

#[tokio::test]
async fn another_protocol_version_is_refused_and_closed() {
    let server = TestServer::start().await;
    let mut client = server.connect("general").await;
    client.send(&ClientMsg::Join { version: PROTOCOL_VERSION + 1, since: None }).await;
    let refusal = assert_error(client.recv().await, "unsupported_version");
    assert_eq!(refusal, ChatError::UnsupportedVersion { client: PROTOCOL_VERSION + 1, server: PROTOCOL_VERSION });
    assert_eq!(client.closed().await, Some(1008));
    assert_eq!(server.state.hub.room_count(), 0, "it never joined");
    server.shut_down().await;
}

#[tokio::test]
async fn welcome_lists_people_and_the_room_goes_when_the_last_one_leaves() {
    let server = TestServer::start().await;
    let mut ada = server.join("Tea%20Room", "Ada").await;
    let cookie = support::sign_up(server.addr, &support::unique_username("bob"), "Bob").await;
    let mut bob = support::Client::open(server.addr, "tea-room", Some(&cookie), "Bob").await;
    bob.send(&ClientMsg::Join { version: PROTOCOL_VERSION, since: None }).await;
    match bob.recv().await {
        ServerMsg::Welcome { room, people, online, you, .. } => {
            assert_eq!(room.as_str(), "tea-room", "any spelling of a name is the same room");
            assert_eq!(you.map(|m| m.display_name).as_deref(), Some("Bob"), "named by the server");
            let names: Vec<_> = people.iter().map(|m| m.display_name.as_str()).collect();
            assert_eq!(names, ["Ada", "Bob"]);
            assert_eq!(online, 2);
        }
        other => panic!("expected a welcome, got {other:?}"),
    }
    let hub = server.state.hub.clone();
    assert_eq!(hub.room_count(), 1);

    bob.socket.close(None).await.unwrap();
    ada.until_someone_leaves().await;
    drop(ada);
    eventually("the empty room is dropped", || hub.room_count() == 0).await;
    hub.check_invariants();
    server.shut_down().await;
}

#[tokio::test]
async fn a_bad_room_name_is_refused_before_the_upgrade() {
    let server = TestServer::start().await;
    let url = format!("ws://{}/ws/chat/no%21good", server.addr);
    let error = tokio_tungstenite::connect_async(url).await.unwrap_err();
    match error {
        tokio_tungstenite::tungstenite::Error::Http(response) => {
            assert_eq!(response.status(), 400);
            let body = String::from_utf8(response.body().clone().unwrap_or_default()).unwrap();
            assert!(body.contains("letters a to z"), "{body}");
        }
        other => panic!("expected an HTTP refusal, got {other}"),
    }
    server.shut_down().await;
}

#[tokio::test]
async fn shutdown_tells_members_and_closes_with_service_restart() {
    let server = TestServer::start().await;
    let mut ada = server.join("general", "Ada").await;
    let hub = server.state.hub.clone();
    let stopping = tokio::spawn(server.shut_down());
    assert_eq!(ada.recv_chat().await, ServerMsg::ShuttingDown);
    assert_eq!(ada.closed().await, Some(1012));
    stopping.await.unwrap();
    assert_eq!(hub.room_count(), 0, "sessions ended and left their rooms");
}

/// Shutdown ends the writer and the checkpointer it owns: a post after it is
/// refused as closed, and the database file holds every message without its
/// write-ahead log (the last checkpoint ran).
#[tokio::test]
async fn shutdown_ends_the_writer_and_checkpoints_the_log_into_the_file() {
    let (opened, dir) = support::temp_store().await;
    let server = TestServer::start_with(opened).await;
    let mut ada = server.join("general", "Ada").await;
    let id = ada.say("before the restart").await;
    let seq = loop {
        if let ServerMsg::Ack { id: acked, seq } = ada.recv().await {
            assert_eq!(acked, id);
            break seq;
        }
    };
    let hub = server.state.hub.clone();
    let member = hub.join(&app::room_name::RoomName::parse("general").unwrap(), None);
    server.shut_down().await;

    let author =
        server::hub::Author { id: server::store::AccountId(1), username: "ada".into(), display_name: "Ada".into() };
    let refused = member.post(&author, "after", app::protocol::ClientMsgId("late".into())).await;
    assert_eq!(refused, Err(server::hub::PostError::Closed), "the writer has ended");
    drop(member);

    let db = dir.path().join("chat.db");
    let wal = dir.path().join("chat.db-wal");
    assert!(std::fs::metadata(&wal).map_or(true, |m| m.len() == 0), "the log was checkpointed into the file");
    // Opened as immutable, SQLite reads the file alone, never a log.
    let url = format!("sqlite://{}?immutable=1", db.display());
    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url).await.unwrap();
    let (body,): (String,) = sqlx::query_as("SELECT body FROM messages WHERE seq = ?1")
        .bind(seq.0 as i64)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(body, "before the restart");
}

#[tokio::test]
async fn a_frame_past_the_websocket_limit_ends_only_that_connection() {
    let server = TestServer::start().await;
    let mut ada = server.join("general", "Ada").await;
    let mut bob = server.join("general", "Bob").await;

    // 100 KiB is past the 64 KiB the WebSocket layer accepts: no message this
    // large is legitimate, so the server drops the connection without reading it all.
    ada.send_raw(Message::text("x".repeat(100 * 1024))).await;
    let code = ada.closed().await;
    assert!(matches!(code, None | Some(1009)), "closed with {code:?}");

    // The room and everyone else in it carry on.
    bob.until_someone_leaves().await;
    bob.say("still fine").await;
    assert_eq!(bob.recv_body().await, "still fine");
    let mut carol = server.join("general", "Carol").await;
    bob.say("hi carol").await;
    assert_eq!(carol.recv_body().await, "hi carol");
    server.shut_down().await;
}

#[tokio::test]
async fn a_page_from_another_site_cannot_open_the_socket() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    let server = TestServer::start().await;
    let attempt = |origin: &'static str| {
        let mut request = format!("ws://{}/ws/chat/general", server.addr).into_client_request().unwrap();
        request.headers_mut().insert("origin", origin.parse().unwrap());
        tokio_tungstenite::connect_async(request)
    };
    match attempt("https://evil.example").await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => assert_eq!(response.status(), 403),
        other => panic!("expected 403, got {:?}", other.map(|_| "a socket")),
    }
    assert_eq!(server.state.hub.room_count(), 0, "nothing was joined");

    let own = format!("http://{}", server.addr);
    let mut request = format!("ws://{}/ws/chat/general", server.addr).into_client_request().unwrap();
    request.headers_mut().insert("origin", own.parse().unwrap());
    assert!(tokio_tungstenite::connect_async(request).await.is_ok(), "the site's own pages may");

    let allowed = TestServer::start_with_settings(server::config::Settings {
        allowed_origins: vec!["https://partner.example".to_string()],
        ..Default::default()
    })
    .await;
    let mut request = format!("ws://{}/ws/chat/general", allowed.addr).into_client_request().unwrap();
    request.headers_mut().insert("origin", "https://partner.example".parse().unwrap());
    assert!(tokio_tungstenite::connect_async(request).await.is_ok(), "an allowed origin may");
    allowed.shut_down().await;
    server.shut_down().await;
}

#[tokio::test]
async fn a_flood_is_throttled_with_a_retry_time_and_the_room_keeps_flowing() {
    let server = TestServer::start().await;
    let mut flooder = server.join("general", "Flood").await;
    let mut bob = server.join("general", "Bob").await;

    let flood = 100;
    for i in 0..flood {
        flooder.say(&format!("spam {i}")).await;
    }
    let (mut acked, mut limited) = (0, 0);
    while acked + limited < flood {
        match flooder.recv_delivery().await {
            ServerMsg::Ack { .. } => acked += 1,
            ServerMsg::Error { error: ChatError::RateLimited { retry_after_ms }, id } => {
                assert!(id.is_some(), "the refusal names the message");
                assert!(retry_after_ms > 0 && retry_after_ms <= 1000, "{retry_after_ms}");
                limited += 1;
            }
            ServerMsg::Message(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(acked >= server::policy::Policy::default().send_burst as usize, "a burst goes through: {acked}");
    assert!(limited >= flood / 2, "most of a flood is held back: {limited} of {flood}");

    // Others are not disturbed.
    bob.say("still flowing").await;
    loop {
        match bob.recv_chat().await {
            ServerMsg::Message(m) if m.body == "still flowing" => break,
            ServerMsg::Message(m) => assert!(m.body.starts_with("spam"), "{}", m.body),
            other => panic!("unexpected {other:?}"),
        }
    }
    server.shut_down().await;
}

#[tokio::test]
async fn messages_sent_back_to_back_are_each_acknowledged_after_they_arrive_in_order() {
    let server = TestServer::start().await;
    let mut ada = server.join("pipeline", "Ada").await;
    let mut bob = server.join("pipeline", "Bob").await;
    // All on their way at once (within the default burst of 20): nobody waits for an ack.
    let mut ids = Vec::new();
    for i in 0..15 {
        ids.push(ada.say(&format!("quick {i}")).await);
    }
    let mut delivered = Vec::new();
    let mut acked = Vec::new();
    while acked.len() < ids.len() {
        match ada.recv_delivery().await {
            ServerMsg::Message(m) => delivered.push((m.client_id.clone(), m.seq)),
            ServerMsg::Ack { id, seq } => {
                assert!(
                    delivered.contains(&(id.clone(), seq)),
                    "the ack of {id:?} came before the message itself: {delivered:?}"
                );
                acked.push(id);
            }
            other => panic!("expected messages and acks, got {other:?}"),
        }
    }
    assert_eq!(acked, ids, "acks in the order sent");
    let seqs: Vec<u64> = delivered.iter().map(|(_, seq)| seq.0).collect();
    assert_eq!(seqs, (1..=15).collect::<Vec<_>>(), "stored in the order sent, each once");
    for i in 0..15 {
        assert_eq!(bob.recv_body().await, format!("quick {i}"), "the others see the same order");
    }
    server.shut_down().await;
}
