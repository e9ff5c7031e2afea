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
