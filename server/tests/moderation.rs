//! Moderation over the real server: the room's owner names moderators;
//! moderators delete anyone's message and remove a person (whose sockets
//! close, who cannot come back until let back); everyone else is refused;
//! every action is in the log, which only moderators read.

mod support;

use app::moderation::LogEntry;
use app::protocol::{ClientMsg, ClientMsgId, Seq, ServerMsg};
use support::{answer, call, person, Client, Person, TestServer};

/// Asks for `action` on `username` in `room`; the refusal's code, if refused.
async fn moderate(server: &TestServer, who: &Person, room: &str, action: &str, username: &str) -> Result<(), String> {
    let reply = call(
        server.addr,
        "/api/moderate",
        &[("room", room), ("action", action), ("username", username)],
        Some(&who.cookie),
    )
    .await;
    match reply.status {
        200 => Ok(()),
        _ => Err(serde_json::from_str::<String>(&reply.body).unwrap_or(reply.body)),
    }
}

async fn log(server: &TestServer, who: &Person, room: &str) -> Result<Vec<LogEntry>, String> {
    let reply = call(server.addr, "/api/moderation-log", &[("room", room)], Some(&who.cookie)).await;
    match reply.status {
        200 => Ok(serde_json::from_str(&reply.body).expect("a log")),
        _ => Err(serde_json::from_str::<String>(&reply.body).unwrap_or(reply.body)),
    }
}

async fn joined(server: &TestServer, who: &Person, room: &str) -> Client {
    let mut client = Client::open(server.addr, room, Some(&who.cookie), &who.username).await;
    client.join(None).await;
    client
}

#[tokio::test]
async fn the_owner_names_moderators_who_delete_anyones_message_and_it_is_logged() {
    let server = TestServer::start().await;
    let (ada, bob, cy) = (person(&server, "Ada").await, person(&server, "Bob").await, person(&server, "Cy").await);
    // Ada's first message makes the room, and hers.
    let mut adas = joined(&server, &ada, "town").await;
    adas.say("welcome to town").await;
    assert_eq!(adas.recv_body().await, "welcome to town");
    let mut bobs = joined(&server, &bob, "town").await;
    let mut cys = joined(&server, &cy, "town").await;
    cys.say("buy cheap watches").await;
    assert_eq!(bobs.recv_body().await, "buy cheap watches");

    // Not yet a moderator: Bob cannot delete Cy's message, nor name himself.
    bobs.send(&ClientMsg::Delete { id: ClientMsgId("b1".into()), seq: Seq(2) }).await;
    assert_eq!(answer(&mut bobs, "b1").await, Err("not_your_message".into()));
    assert_eq!(moderate(&server, &bob, "town", "moderator", &bob.username).await, Err("not_owner".into()));
    assert_eq!(log(&server, &bob, "town").await, Err("not_moderator".into()));

    assert_eq!(moderate(&server, &ada, "town", "moderator", &bob.username).await, Ok(()));
    assert_eq!(moderate(&server, &ada, "town", "moderator", "nobody-here").await, Err("no_such_person".into()));
    bobs.send(&ClientMsg::Delete { id: ClientMsgId("b2".into()), seq: Seq(2) }).await;
    assert_eq!(answer(&mut bobs, "b2").await, Ok(Seq(3)));
    // Everyone sees the tombstone; the author too.
    loop {
        match cys.recv_chat().await {
            ServerMsg::Changed { seq, message } => {
                assert_eq!((seq, message.seq, message.deleted), (Seq(3), Seq(2), true));
                break;
            }
            ServerMsg::Message(_) => continue,
            other => panic!("expected the delete, got {other:?}"),
        }
    }
    // A moderator edits nobody's words, and cannot name moderators.
    bobs.send(&ClientMsg::Edit { id: ClientMsgId("b3".into()), seq: Seq(1), body: "mine now".into() }).await;
    assert_eq!(answer(&mut bobs, "b3").await, Err("not_your_message".into()));
    assert_eq!(moderate(&server, &bob, "town", "moderator", &cy.username).await, Err("not_owner".into()));

    let entries = log(&server, &ada, "town").await.unwrap();
    let seen: Vec<(&str, &str, Option<&str>, Option<u64>)> =
        entries.iter().map(|e| (e.actor.as_str(), e.action.as_str(), e.target.as_deref(), e.seq)).collect();
    assert_eq!(
        seen,
        [
            (bob.username.as_str(), "delete", Some(cy.username.as_str()), Some(2)),
            (ada.username.as_str(), "moderator", Some(bob.username.as_str()), None),
        ],
        "newest first"
    );
    assert_eq!(log(&server, &bob, "town").await.unwrap().len(), 2, "moderators read it too");
    server.shut_down().await;
}

#[tokio::test]
async fn a_removed_person_is_disconnected_kept_out_and_let_back() {
    let server = TestServer::start().await;
    let (ada, bob, cy) = (person(&server, "Ada").await, person(&server, "Bob").await, person(&server, "Cy").await);
    let mut adas = joined(&server, &ada, "plaza").await;
    // Her first post makes her the room's owner once it is stored.
    let first = adas.say("hello plaza").await;
    answer(&mut adas, &first.0).await.expect("stored");
    let mut cys = joined(&server, &cy, "plaza").await;
    // Cy has a second tab in another room: it stays open.
    let mut elsewhere = joined(&server, &cy, "elsewhere").await;

    assert_eq!(moderate(&server, &bob, "plaza", "remove", &cy.username).await, Err("not_moderator".into()));
    assert_eq!(moderate(&server, &ada, "plaza", "remove", &ada.username).await, Err("owner_stays".into()));
    assert_eq!(moderate(&server, &ada, "plaza", "remove", &cy.username).await, Ok(()));
    loop {
        match cys.recv_chat().await {
            ServerMsg::Error { error, .. } => {
                assert_eq!(error.code(), "removed");
                break;
            }
            ServerMsg::Message(_) => continue,
            other => panic!("expected the removal, got {other:?}"),
        }
    }
    assert!(cys.closed().await.is_some(), "the removed person's socket closes");
    // Not back in: a new socket is told why, and closed.
    let mut again = Client::open(server.addr, "plaza", Some(&cy.cookie), "Cy").await;
    match again.recv().await {
        ServerMsg::Error { error, .. } => assert_eq!(error.code(), "removed"),
        other => panic!("a removed person's socket should be refused, got {other:?}"),
    }
    assert!(again.closed().await.is_some());
    // Elsewhere, nothing changed.
    elsewhere.say("still here").await;
    assert_eq!(elsewhere.recv_body().await, "still here");

    // Let back: in again, and posting.
    assert_eq!(moderate(&server, &ada, "plaza", "restore", &cy.username).await, Ok(()));
    let mut cys = joined(&server, &cy, "plaza").await;
    cys.send(&ClientMsg::Send { id: ClientMsgId("c1".into()), body: "sorry".into(), reply_to: None, file: None }).await;
    assert_eq!(answer(&mut cys, "c1").await, Ok(Seq(2)));
    let actions: Vec<String> = log(&server, &ada, "plaza").await.unwrap().into_iter().map(|e| e.action).collect();
    assert_eq!(actions, ["restore", "remove"]);
    // A direct conversation has no moderators.
    assert_eq!(moderate(&server, &ada, "@1.2", "remove", &cy.username).await, Err("bad_room_name".into()));
    server.shut_down().await;
}

#[tokio::test]
async fn slow_mode_lets_each_person_post_once_per_pause_and_spares_moderators() {
    let server = TestServer::start().await;
    let (ada, bob) = (person(&server, "Ada").await, person(&server, "Bob").await);
    let mut adas = joined(&server, &ada, "slow").await;
    adas.say("first").await;
    assert_eq!(adas.recv_body().await, "first");
    let reply = call(
        server.addr,
        "/api/moderate",
        &[("room", "slow"), ("action", "slow_mode"), ("seconds", "60")],
        Some(&bob.cookie),
    )
    .await;
    assert!(reply.body.contains("not_moderator"), "{reply:?}");
    let reply = call(
        server.addr,
        "/api/moderate",
        &[("room", "slow"), ("action", "slow_mode"), ("seconds", "60")],
        Some(&ada.cookie),
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");

    let mut bobs = joined(&server, &bob, "slow").await;
    // A post refused for what it is (empty, too long) takes no turn: the next one goes.
    bobs.send(&ClientMsg::Send { id: ClientMsgId("b0".into()), body: " ".into(), reply_to: None, file: None }).await;
    assert_eq!(answer(&mut bobs, "b0").await, Err("empty_message".into()));
    let long = "x".repeat(app::protocol::MAX_BODY_CHARS + 1);
    bobs.send(&ClientMsg::Send { id: ClientMsgId("b00".into()), body: long, reply_to: None, file: None }).await;
    assert_eq!(answer(&mut bobs, "b00").await, Err("too_long".into()));
    bobs.send(&ClientMsg::Send { id: ClientMsgId("b1".into()), body: "one".into(), reply_to: None, file: None }).await;
    assert_eq!(answer(&mut bobs, "b1").await, Ok(Seq(2)));
    bobs.send(&ClientMsg::Send { id: ClientMsgId("b2".into()), body: "two".into(), reply_to: None, file: None }).await;
    match bobs.recv_delivery().await {
        ServerMsg::Error { error: app::error::ChatError::SlowMode { seconds, retry_after_ms }, id: Some(id) } => {
            assert_eq!((seconds, id.0.as_str()), (60, "b2"));
            assert!(retry_after_ms > 55_000 && retry_after_ms <= 60_000, "{retry_after_ms}");
        }
        other => panic!("expected slow mode, got {other:?}"),
    }
    // The owner is not slowed; the log says who slowed the room.
    for i in 0..3 {
        adas.send(&ClientMsg::Send { id: ClientMsgId(format!("a{i}")), body: "go".into(), reply_to: None, file: None })
            .await;
        assert!(answer(&mut adas, &format!("a{i}")).await.is_ok());
    }
    let entries = log(&server, &ada, "slow").await.unwrap();
    assert_eq!((entries[0].action.as_str(), entries[0].seconds), ("slow_mode", Some(60)));
    // Off again: Bob posts at once.
    let reply = call(
        server.addr,
        "/api/moderate",
        &[("room", "slow"), ("action", "slow_mode"), ("seconds", "0")],
        Some(&ada.cookie),
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    bobs.send(&ClientMsg::Send { id: ClientMsgId("b3".into()), body: "three".into(), reply_to: None, file: None })
        .await;
    assert!(answer(&mut bobs, "b3").await.is_ok());
    server.shut_down().await;
}

#[tokio::test]
async fn a_moderator_cannot_remove_another_moderator() {
    let server = TestServer::start().await;
    let (ada, bob, cy) = (person(&server, "Ada").await, person(&server, "Bob").await, person(&server, "Cy").await);
    let mut adas = joined(&server, &ada, "guild").await;
    adas.say("mine").await;
    assert_eq!(adas.recv_body().await, "mine");
    for name in [&bob.username, &cy.username] {
        assert_eq!(moderate(&server, &ada, "guild", "moderator", name).await, Ok(()));
    }
    assert_eq!(moderate(&server, &bob, "guild", "remove", &cy.username).await, Err("not_owner".into()));
    assert_eq!(moderate(&server, &ada, "guild", "remove", &cy.username).await, Ok(()), "the owner may");
    server.shut_down().await;
}
