//! Direct conversations over the real server: one per pair, in both lists,
//! and private to its two people on every path: the page, the WebSocket, the
//! history server function and the form post.

mod support;

use app::protocol::ServerMsg;
use app::rooms::DirectRoom;
use support::{call, get, person, post_form, Client, Person, TestServer};

async fn open_direct(server: &TestServer, who: &Person, with: &str) -> DirectRoom {
    let reply = call(server.addr, "/api/open-direct", &[("username", with)], Some(&who.cookie)).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    serde_json::from_str(&reply.body).expect("a direct room")
}

#[tokio::test]
async fn a_conversation_is_one_per_pair_in_both_lists_and_private_on_every_path() {
    let server = TestServer::start().await;
    let (ada, bob, cy) = (person(&server, "Ada").await, person(&server, "Bob").await, person(&server, "Cy").await);

    let started = open_direct(&server, &ada, &bob.username).await;
    assert_eq!(started.with.username, bob.username);
    let again = open_direct(&server, &bob, &ada.username).await;
    assert_eq!(again.room, started.room, "one conversation per pair, whoever opens it");
    assert_eq!(again.with.username, ada.username);
    let room = started.room.clone();

    // In both lists, named after the other person, notifying of everything.
    let mut bobs = Client::open(server.addr, room.as_str(), Some(&bob.cookie), "Bob").await;
    bobs.join(None).await;
    let ServerMsg::Rooms { rooms } = bobs.recv_list().await else { panic!("expected the list") };
    let entry = rooms.iter().find(|e| e.room == room).expect("the conversation is in Bob's list");
    assert_eq!(entry.with.as_ref().map(|w| w.username.as_str()), Some(ada.username.as_str()));
    assert_eq!(entry.notify, app::rooms::NotifyLevel::All);

    // Ada writes; Bob reads it live.
    let mut adas = Client::open(server.addr, room.as_str(), Some(&ada.cookie), "Ada").await;
    adas.join(None).await;
    adas.say("just between us").await;
    assert_eq!(bobs.recv_body().await, "just between us");

    // Cy: no socket, no history, no page, no form post.
    let refused = tokio_tungstenite::connect_async({
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = format!("ws://{}/ws/chat/{}", server.addr, room).into_client_request().unwrap();
        request.headers_mut().insert("cookie", cy.cookie.parse().unwrap());
        request
    })
    .await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => assert_eq!(response.status(), 403),
        other => panic!("Cy's socket should be refused, got {:?}", other.map(|_| ())),
    }
    let signed_out = tokio_tungstenite::connect_async(format!("ws://{}/ws/chat/{}", server.addr, room)).await;
    match signed_out {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => assert_eq!(response.status(), 401),
        other => panic!("a reader's socket should be refused, got {:?}", other.map(|_| ())),
    }
    let room_field = [("room", room.as_str())];
    for cookie in [Some(cy.cookie.as_str()), None] {
        let history = call(server.addr, "/api/history", &room_field, cookie).await;
        assert!(history.status >= 400, "history of others' conversation: {history:?}");
        assert!(!history.body.contains("just between us"), "{history:?}");
    }
    let mine = call(server.addr, "/api/history", &room_field, Some(&bob.cookie)).await;
    assert_eq!(mine.status, 200, "{mine:?}");
    assert!(mine.body.contains("just between us"));
    // The page under the key is not an address; under a name it is Cy's own
    // conversation with that person, which holds nothing of Ada and Bob's.
    let key_page = get(server.addr, &format!("/chat/{room}/"), Some(&cy.cookie)).await;
    assert!(!key_page.body.contains("just between us"));
    let cys_page = get(server.addr, &format!("/chat/@{}/", ada.username), Some(&cy.cookie)).await;
    assert_eq!(cys_page.status, 200);
    assert!(!cys_page.body.contains("just between us"));
    let bobs_page = get(server.addr, &format!("/chat/@{}/", ada.username), Some(&bob.cookie)).await;
    assert!(bobs_page.body.contains("just between us"), "Bob's own page shows the conversation");
    let anonymous = get(server.addr, &format!("/chat/@{}/", ada.username), None).await;
    assert_eq!(anonymous.status, 401);
    assert!(!anonymous.body.contains("just between us"));
    let nobody = get(server.addr, "/chat/@nobody-by-this-name/", Some(&cy.cookie)).await;
    assert_eq!(nobody.status, 404);

    // A form post by Cy to /chat/@ada/ lands in Cy and Ada's conversation.
    let posted = post_form(
        server.addr,
        &format!("/chat/@{}/", ada.username),
        &[("id", "cy-form-1"), ("body", "hello Ada, it is Cy")],
        Some(&cy.cookie),
    )
    .await;
    assert_eq!(posted.status, 303, "{posted:?}");
    let history = call(server.addr, "/api/history", &room_field, Some(&ada.cookie)).await;
    assert!(!history.body.contains("it is Cy"), "Cy's message went to another conversation");
    // Signed out, the post goes back to the page with the refusal and the draft.
    let path = format!("/chat/@{}/", ada.username);
    let anonymous = post_form(server.addr, &path, &[("id", "anon-1"), ("body", "hello?")], None).await;
    assert_eq!(anonymous.status, 303, "{anonymous:?}");
    let to = anonymous.header("location").unwrap_or_default();
    assert!(to.starts_with(&format!("{path}?error=")) && to.contains("sign_in_required"), "{to}");
    assert!(to.contains("draft=hello"), "{to}");

    // Not in the lobby's list of active rooms.
    let lobby = get(server.addr, "/chat/", None).await;
    assert!(!lobby.body.contains(room.as_str()), "a conversation listed in the lobby");
    server.shut_down().await;
}
