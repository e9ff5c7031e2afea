//! Edits and deletes over the WebSocket: told live to everyone in the room,
//! replayed exactly once to a client that missed them, refused to anyone but
//! the author.

mod support;

use app::protocol::{ChatError, ClientMsg, ClientMsgId, Seq, ServerMsg};
use support::{answer, next_change, TestServer};

fn id(s: &str) -> ClientMsgId {
    ClientMsgId(s.into())
}

#[tokio::test]
async fn an_edit_and_a_delete_are_told_live_and_replayed_once_after_a_reconnect() {
    let server = TestServer::start().await;
    let mut ada = server.join("notes", "Ada").await;
    let mut bob = server.join("notes", "Bob").await;
    let mut cy = server.join("notes", "Cy").await;
    ada.say("teh plan").await;
    ada.say("a second thought").await;
    for client in [&mut ada, &mut bob, &mut cy] {
        assert_eq!(client.recv_body().await, "teh plan");
        assert_eq!(client.recv_body().await, "a second thought");
    }
    // Cy goes away, having seen seq 2.
    drop(cy);

    ada.send(&ClientMsg::Edit { id: id("e1"), seq: Seq(1), body: "the plan".into() }).await;
    let (seq, edited) = next_change(&mut ada).await;
    assert_eq!(answer(&mut ada, "e1").await, Ok(seq), "the ack follows the change and names its seq");
    assert_eq!((seq, edited.seq, edited.body.as_str()), (Seq(3), Seq(1), "the plan"));
    assert!(edited.edited_at.is_some() && !edited.deleted);
    assert_eq!(next_change(&mut bob).await, (seq, edited.clone()));

    ada.send(&ClientMsg::Delete { id: id("d1"), seq: Seq(2) }).await;
    assert_eq!(answer(&mut ada, "d1").await, Ok(Seq(4)));
    let (seq, deleted) = next_change(&mut bob).await;
    assert_eq!((seq, deleted.seq, deleted.deleted, deleted.body.as_str()), (Seq(4), Seq(2), true, ""));

    // Cy resumes after 2: both changes, once each, in order, then whatever is new.
    let mut cy = server.join_since("notes", "Cy", Some(Seq(2))).await;
    assert_eq!(next_change(&mut cy).await, (Seq(3), edited));
    assert_eq!(next_change(&mut cy).await.0, Seq(4));
    bob.say("back to work").await;
    match cy.recv_chat().await {
        ServerMsg::Message(message) => assert_eq!((message.seq, message.body.as_str()), (Seq(5), "back to work")),
        other => panic!("expected the next message, got {other:?}"),
    }
    server.shut_down().await;
}

#[tokio::test]
async fn only_the_author_changes_a_message_and_a_refusal_changes_nothing() {
    let server = TestServer::start().await;
    let mut ada = server.join("mine", "Ada").await;
    let mut bob = server.join("mine", "Bob").await;
    let mut reader = server.reader("mine").await;
    ada.say("mine").await;
    assert_eq!(bob.recv_body().await, "mine");
    assert_eq!(reader.recv_body().await, "mine");

    bob.send(&ClientMsg::Edit { id: id("b1"), seq: Seq(1), body: "ours".into() }).await;
    assert_eq!(answer(&mut bob, "b1").await, Err("not_your_message".into()));
    bob.send(&ClientMsg::Delete { id: id("b2"), seq: Seq(1) }).await;
    assert_eq!(answer(&mut bob, "b2").await, Err("not_your_message".into()));
    reader.send(&ClientMsg::Delete { id: id("r1"), seq: Seq(1) }).await;
    assert_eq!(answer(&mut reader, "r1").await, Err("sign_in_required".into()));
    ada.send(&ClientMsg::Edit { id: id("a1"), seq: Seq(7), body: "x".into() }).await;
    assert_eq!(answer(&mut ada, "a1").await, Err("no_such_message".into()));
    ada.send(&ClientMsg::Edit { id: id("a2"), seq: Seq(1), body: " ".into() }).await;
    assert_eq!(answer(&mut ada, "a2").await, Err(ChatError::EmptyMessage.code().into()));
    ada.send(&ClientMsg::Delete { id: id("a3"), seq: Seq(1) }).await;
    assert_eq!(answer(&mut ada, "a3").await, Ok(Seq(2)), "the refusals took no seq");
    ada.send(&ClientMsg::Edit { id: id("a4"), seq: Seq(1), body: "undo".into() }).await;
    assert_eq!(answer(&mut ada, "a4").await, Err("message_deleted".into()));

    // The room still works, and its sequence has no hole.
    bob.say("still here").await;
    loop {
        match ada.recv_chat().await {
            ServerMsg::Message(message) => {
                assert_eq!((message.seq, message.body.as_str()), (Seq(3), "still here"));
                break;
            }
            ServerMsg::Changed { .. } => continue,
            other => panic!("expected Bob's message, got {other:?}"),
        }
    }
    server.shut_down().await;
}

/// A NUL character in a body (which PostgreSQL's text cannot hold) is stored
/// as U+FFFD, in a post and in an edit, and the others' posts around it are
/// stored as sent: on either store (the test command runs this on both).
#[tokio::test]
async fn a_nul_in_a_body_is_stored_as_a_replacement_character_and_harms_no_other_post() {
    let server = TestServer::start().await;
    let mut ada = server.join("nul", "Ada").await;
    let mut bob = server.join("nul", "Bob").await;
    ada.say_as(id("n1"), "a\u{0}b").await;
    bob.say_as(id("b1"), "plain").await;
    assert!(answer(&mut bob, "b1").await.is_ok());
    // Ada's ack and both messages, in whatever order they come: the two
    // posts race, so either may have taken seq 1.
    let (mut mine, mut seen) = (None, 0);
    while mine.is_none() || seen < 2 {
        match ada.recv_delivery().await {
            ServerMsg::Ack { id, seq } if id.0 == "n1" => mine = Some(seq),
            ServerMsg::Message(message) => seen = message.seq.0,
            other => panic!("Ada got {other:?}"),
        }
    }
    let mine = mine.expect("acknowledged");
    ada.send(&ClientMsg::Edit { id: id("e1"), seq: mine, body: "c\u{0}d".into() }).await;
    let (_, edited) = next_change(&mut ada).await;
    assert_eq!((edited.seq, edited.body.as_str()), (mine, "c\u{FFFD}d"));
    let stored =
        server.state.hub.store().page(&app::room_name::RoomName::parse("nul").unwrap(), None, 10).await.unwrap();
    let mut bodies: Vec<&str> = stored.iter().map(|m| m.body.as_str()).collect();
    bodies.sort_unstable();
    assert_eq!(bodies, ["c\u{FFFD}d", "plain"]);
}
