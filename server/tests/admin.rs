//! A site administrator (the first account, or one named by `--admin`)
//! deactivates an account: its open sockets are told it signed out and close,
//! it cannot sign in again, and (when asked) its messages become tombstones.
//! Nobody else may.

mod support;

use app::admin::Deactivated;
use app::protocol::ServerMsg;
use app::room_name::RoomName;
use server::config::Settings;
use support::{call, person, post_form, Client, Person, Reply, TestServer, PASSWORD};

async fn deactivate(server: &TestServer, who: &Person, username: &str, erase: bool) -> Reply {
    let erase = if erase { "on" } else { "" };
    call(server.addr, "/api/deactivate-account", &[("username", username), ("erase", erase)], Some(&who.cookie)).await
}

#[tokio::test]
async fn the_first_account_deactivates_another_whose_sessions_end_and_messages_go() {
    let server = TestServer::start().await;
    let (ada, bob, cy) = (person(&server, "Ada").await, person(&server, "Bob").await, person(&server, "Cy").await);
    let mut bobs = Client::open(server.addr, "square", Some(&bob.cookie), "Bob").await;
    bobs.join(None).await;
    bobs.say("spam one").await;
    bobs.say("spam two").await;
    assert_eq!(bobs.recv_body().await, "spam one");
    assert_eq!(bobs.recv_body().await, "spam two");

    let refused = deactivate(&server, &cy, &bob.username, true).await;
    assert_eq!(refused.status, 403, "{refused:?}");
    assert!(refused.body.contains("not_admin"));
    let yourself = deactivate(&server, &ada, &ada.username, false).await;
    assert!(yourself.body.contains("not_yourself"), "{yourself:?}");

    let done = deactivate(&server, &ada, &bob.username, true).await;
    assert_eq!(done.status, 200, "{done:?}");
    let done: Deactivated = serde_json::from_str(&done.body).unwrap();
    assert_eq!((done.username.as_str(), done.deleted), (bob.username.as_str(), 2));
    // Bob's socket is told and closed.
    loop {
        match bobs.recv_delivery().await {
            ServerMsg::Error { error, .. } => {
                assert_eq!(error.code(), "signed_out");
                break;
            }
            ServerMsg::Message(_) | ServerMsg::Changed { .. } | ServerMsg::Ack { .. } => continue,
            other => panic!("expected the sign-out, got {other:?}"),
        }
    }
    assert!(bobs.closed().await.is_some());
    // His messages are tombstones; he cannot sign in again.
    let page = server.state.hub.store().page(&RoomName::parse("square").unwrap(), None, 10).await.unwrap();
    assert!(page.iter().all(|m| m.deleted && m.body.is_empty()), "{page:?}");
    let again = post_form(
        server.addr,
        "/api/sign-in",
        &[("username", &bob.username), ("password", PASSWORD), ("next", "/chat/")],
        None,
    )
    .await;
    assert!(again.session_cookie().is_none(), "a deactivated account signs in: {again:?}");
    server.shut_down().await;
}

#[tokio::test]
async fn an_administrator_can_be_named_by_configuration() {
    let cy_name = support::unique_username("Cy");
    let server =
        TestServer::start_with_settings(Settings { admins: vec![cy_name.clone()], ..Settings::default() }).await;
    let _first = person(&server, "Ada").await;
    let bob = person(&server, "Bob").await;
    let cy = Person { username: cy_name.clone(), cookie: support::sign_up(server.addr, &cy_name, "Cy").await };
    let done = deactivate(&server, &cy, &bob.username, false).await;
    assert_eq!(done.status, 200, "{done:?}");
    let done: Deactivated = serde_json::from_str(&done.body).unwrap();
    assert_eq!(done.deleted, 0, "messages stay unless asked");
    let unknown = deactivate(&server, &cy, "nobody-here", false).await;
    assert_eq!(unknown.status, 404, "{unknown:?}");
    server.shut_down().await;
}

#[tokio::test]
async fn the_admin_page_lists_rooms_and_accounts_and_deletes_a_room_for_every_open_page() {
    let server = TestServer::start().await;
    let ada = person(&server, "Ada").await; // the first account: an administrator
    let (bob_person, cy_person) = (person(&server, "Bob").await, person(&server, "Cy").await);
    let mut bob = Client::open(server.addr, "doomed", Some(&bob_person.cookie), "Bob").await;
    bob.join(None).await;
    let mut cy = Client::open(server.addr, "doomed", Some(&cy_person.cookie), "Cy").await;
    cy.join(None).await;
    for text in ["one", "two"] {
        let id = bob.say(text).await;
        support::answer(&mut bob, &id.0).await.unwrap();
    }
    let id = cy.say("three").await;
    support::answer(&mut cy, &id.0).await.unwrap();
    server.state.seen.flush().await;

    let overview = call(server.addr, "/api/admin-overview", &[], Some(&ada.cookie)).await;
    assert_eq!(overview.status, 200, "{overview:?}");
    let overview: app::admin::Overview = serde_json::from_str(&overview.body).unwrap();
    let doomed = overview.rooms.iter().find(|r| r.name == "doomed").expect("the room is listed");
    assert_eq!((doomed.members, doomed.messages), (2, 3), "{doomed:?}");
    let bobs = overview.accounts.iter().find(|a| a.username == bob_person.username).expect("Bob is listed");
    assert!(bobs.last_seen_at.is_some(), "his socket is open: {bobs:?}");
    let adas = overview.accounts.iter().find(|a| a.username == ada.username).unwrap();
    assert_eq!(adas.last_seen_at, None, "Ada never opened a room");
    let cys_cookie = cy_person.cookie.clone();
    let refused = call(server.addr, "/api/admin-overview", &[], Some(&cys_cookie)).await;
    assert_eq!(refused.status, 403, "{refused:?}");
    let refused = call(server.addr, "/api/delete-room", &[("room", "doomed")], Some(&cys_cookie)).await;
    assert_eq!(refused.status, 403, "{refused:?}");

    let done = call(server.addr, "/api/delete-room", &[("room", "doomed")], Some(&ada.cookie)).await;
    assert_eq!(done.status, 200, "{done:?}");
    let done: app::admin::RoomDeleted = serde_json::from_str(&done.body).unwrap();
    assert_eq!((done.deleted, done.members), (3, 2));
    // Every open page hears each message go, in order, as changes 4..6.
    // (The messages themselves may still be on their way to a sender.)
    for member in [&mut bob, &mut cy] {
        let mut gone = Vec::new();
        while gone.len() < 3 {
            match member.recv_chat().await {
                ServerMsg::Message(_) => continue,
                ServerMsg::Changed { seq, message } => {
                    assert!(message.deleted, "{message:?}");
                    gone.push((seq.0, message.seq.0));
                }
                other => panic!("{} expected the deletions, got {other:?}", member.name),
            }
        }
        assert_eq!(gone, [(4, 1), (5, 2), (6, 3)], "in order, each once");
    }
    let page = server.state.hub.store().page(&RoomName::parse("doomed").unwrap(), None, 10).await.unwrap();
    assert!(page.iter().all(|m| m.deleted), "{page:?}");
    let overview = call(server.addr, "/api/admin-overview", &[], Some(&ada.cookie)).await;
    let overview: app::admin::Overview = serde_json::from_str(&overview.body).unwrap();
    let doomed = overview.rooms.iter().find(|r| r.name == "doomed").unwrap();
    assert_eq!((doomed.members, doomed.messages), (0, 0));
    let logged = &overview.log[0];
    assert_eq!((logged.room.as_str(), logged.entry.action.as_str()), ("doomed", "delete_room"));
    assert_eq!(logged.entry.actor, ada.username);
    let missing = call(server.addr, "/api/delete-room", &[("room", "never-made")], Some(&ada.cookie)).await;
    assert!(missing.body.contains("no_such_room"), "{missing:?}");
    server.shut_down().await;
}
