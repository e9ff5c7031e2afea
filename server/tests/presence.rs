//! Presence and typing over the real server: each person once however many
//! tabs, away only when every tab is, typing passed on at most every few
//! seconds and never from a reader, pages of people on request.

mod support;

use app::protocol::{ChatError, ClientMsg, ServerMsg};
use support::{Client, TestServer};

/// Reads until a presence notice satisfies `done`.
async fn presence_until(client: &mut Client, mut done: impl FnMut(u32, &[app::protocol::Person], &[String]) -> bool) {
    loop {
        if let ServerMsg::Presence { online, people, left, .. } = client.recv().await {
            if done(online, &people, &left) {
                return;
            }
        }
    }
}

#[tokio::test]
async fn a_person_counts_once_and_is_away_only_when_every_tab_is() {
    let server = TestServer::start().await;
    let mut ada = server.join("porch", "Ada").await;
    let mut bob = server.join("porch", "Bob").await;
    presence_until(&mut ada, |online, people, _| online == 2 && people.iter().any(|p| p.display_name == "Bob")).await;

    // Bob's second tab: the count stays 2.
    let mut bob2 = Client::open(server.addr, "porch", bob.cookie.as_deref(), "Bob 2").await;
    bob2.send(&ClientMsg::Join { version: app::protocol::PROTOCOL_VERSION, since: None }).await;
    match bob2.recv().await {
        ServerMsg::Welcome { online, people, .. } => {
            assert_eq!(online, 2, "Bob is one person with two tabs");
            assert_eq!(people.len(), 2);
        }
        other => panic!("expected a welcome, got {other:?}"),
    }

    // One tab hidden: Bob is here. Both: away.
    bob.send(&ClientMsg::Away { away: true }).await;
    bob2.send(&ClientMsg::Away { away: true }).await;
    presence_until(&mut ada, |_, people, _| people.iter().any(|p| p.display_name == "Bob" && p.away)).await;
    bob2.send(&ClientMsg::Away { away: false }).await;
    presence_until(&mut ada, |_, people, _| people.iter().any(|p| p.display_name == "Bob" && !p.away)).await;

    // Closing one tab is not leaving; closing both is.
    bob2.socket.close(None).await.unwrap();
    bob.socket.close(None).await.unwrap();
    presence_until(&mut ada, |online, _, left| online == 1 && left.len() == 1).await;
    server.shut_down().await;
}

#[tokio::test]
async fn typing_reaches_the_room_at_most_every_few_seconds_and_never_from_a_reader() {
    let server = TestServer::start().await;
    let mut ada = server.join("desk", "Ada").await;
    let mut bob = server.join("desk", "Bob").await;
    bob.send(&ClientMsg::Typing).await;
    // A flood of the same news passes as one notice.
    for _ in 0..5 {
        bob.send(&ClientMsg::Typing).await;
    }
    let said = bob.say("done typing").await;
    let mut typing = 0;
    loop {
        match ada.recv().await {
            ServerMsg::Typing { display_name, .. } => {
                assert_eq!(display_name, "Bob");
                typing += 1;
            }
            ServerMsg::Message(message) => {
                assert_eq!(message.client_id, said);
                break;
            }
            _ => {}
        }
    }
    assert_eq!(typing, 1, "one typing notice for six frames within a moment");

    // A reader cannot type or be away; it can see who is here.
    let mut reader = server.reader("desk").await;
    for frame in [ClientMsg::Typing, ClientMsg::Away { away: true }] {
        reader.send(&frame).await;
        match reader.recv().await {
            ServerMsg::Error { error: ChatError::SignInRequired, .. } => {}
            other => panic!("expected sign_in_required, got {other:?}"),
        }
    }
    reader.send(&ClientMsg::People { after: None }).await;
    loop {
        match reader.recv().await {
            ServerMsg::People { people, next } => {
                let names: Vec<_> = people.iter().map(|p| p.display_name.as_str()).collect();
                assert_eq!(names.len(), 2, "{names:?}");
                assert!(names.contains(&"Ada") && names.contains(&"Bob"));
                assert_eq!(next, None);
                break;
            }
            ServerMsg::Presence { .. } => {}
            other => panic!("expected a page of people, got {other:?}"),
        }
    }
    server.shut_down().await;
}
