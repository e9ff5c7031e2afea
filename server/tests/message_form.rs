//! `POST /chat/{room}/`: the room page's form for browsers without scripts.
//! Same rules as the socket, answered with a redirect back to the room.

mod support;

use app::error::ChatError;
use app::protocol::{ServerMsg, MAX_BODY_CHARS};
use server::policy::Policy;
use support::{post_form, raw_http, sign_up, unique_username, Reply, TestServer};

/// The refusal a redirect carries back to the room page.
#[track_caller]
fn refusal_in(reply: &Reply, room: &str) -> ChatError {
    assert_eq!(reply.status, 303, "{reply:?}");
    let location = reply.header("location").expect("a redirect");
    let query =
        location.strip_prefix(&format!("/chat/{room}/?")).unwrap_or_else(|| panic!("back to the room: {location}"));
    let error = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("error="))
        .unwrap_or_else(|| panic!("an error in {location}"));
    ChatError::from_json(&percent_decode(error)).unwrap_or_else(|| panic!("a ChatError in {location}"))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

#[tokio::test]
async fn a_form_post_is_stored_broadcast_and_answered_with_the_room_once_whatever_the_retries() {
    let server = TestServer::start().await;
    let mut reader = server.reader("tea").await;
    let cookie = sign_up(server.addr, &unique_username("Ada"), "Ada").await;

    let form = [("id", "form-1"), ("body", "posted without scripts")];
    let reply = post_form(server.addr, "/chat/tea/", &form, Some(&cookie)).await;
    assert_eq!(reply.status, 303, "{reply:?}");
    assert_eq!(reply.header("location"), Some("/chat/tea/#m1"));
    match reader.recv_chat().await {
        ServerMsg::Message(message) => {
            assert_eq!(
                (message.seq.0, message.author.as_str(), message.body.as_str()),
                (1, "Ada", "posted without scripts")
            );
        }
        other => panic!("the room got {other:?}"),
    }

    // The same form again (a double click, a reload): the same message, not a second.
    let again = post_form(server.addr, "/chat/tea/", &form, Some(&cookie)).await;
    assert_eq!(again.header("location"), Some("/chat/tea/#m1"));
    let next = post_form(server.addr, "/chat/tea/", &[("id", "form-2"), ("body", "and again")], Some(&cookie)).await;
    assert_eq!(next.header("location"), Some("/chat/tea/#m2"));
    assert_eq!(reader.recv_body().await, "and again", "the retry was not broadcast");
    server.shut_down().await;
}

#[tokio::test]
async fn a_form_post_meets_the_sockets_rules() {
    let server =
        TestServer::start_with_policy(Policy { send_burst: 2, sends_per_second: 0.01, ..Policy::default() }).await;
    let cookie = sign_up(server.addr, &unique_username("Bob"), "Bob").await;
    let post = |id: &'static str, body: String, cookie: Option<String>| {
        let addr = server.addr;
        async move { post_form(addr, "/chat/tea/", &[("id", id), ("body", &body)], cookie.as_deref()).await }
    };

    let signed_out = post("f1", "hello".into(), None).await;
    assert_eq!(refusal_in(&signed_out, "tea"), ChatError::SignInRequired);
    let long = post("f2", "x".repeat(MAX_BODY_CHARS + 1), Some(cookie.clone())).await;
    assert_eq!(refusal_in(&long, "tea"), ChatError::TooLong { len: MAX_BODY_CHARS + 1, max: MAX_BODY_CHARS });
    let empty = post("f3", "   ".into(), Some(cookie.clone())).await;
    assert_eq!(refusal_in(&empty, "tea"), ChatError::EmptyMessage);
    let bad_id = post("not an id!", "hello".into(), Some(cookie.clone())).await;
    assert_eq!(refusal_in(&bad_id, "tea"), ChatError::InvalidMessageId { max_len: 64 });

    // The account's allowance is the socket's: two, then a wait.
    for id in ["f4", "f5"] {
        assert_eq!(post(id, "fine".into(), Some(cookie.clone())).await.status, 303);
    }
    let limited = post("f6", "one too many".into(), Some(cookie.clone())).await;
    assert!(matches!(refusal_in(&limited, "tea"), ChatError::RateLimited { retry_after_ms } if retry_after_ms > 0));
    let location = limited.header("location").unwrap();
    assert!(location.contains("draft=one%20too%20many"), "the draft comes back: {location}");

    // Nothing refused was stored: the room has the two that were allowed.
    let page = server.state.hub.store().page(&app::room_name::RoomName::parse("tea").unwrap(), None, 10).await.unwrap();
    assert_eq!(page.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(), ["fine", "fine"]);
    server.shut_down().await;
}

#[tokio::test]
async fn a_form_post_from_another_site_is_refused() {
    let server = TestServer::start().await;
    let cookie = sign_up(server.addr, &unique_username("Eve"), "Eve").await;
    let body = "id=x1&body=forged";
    let request = format!(
        "POST /chat/tea/ HTTP/1.1\r\nHost: {}\r\nOrigin: https://evil.example\r\nCookie: {cookie}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        server.addr,
        body.len()
    );
    assert_eq!(raw_http(server.addr, &request).await.status, 403);
    let page = server.state.hub.store().page(&app::room_name::RoomName::parse("tea").unwrap(), None, 10).await.unwrap();
    assert!(page.is_empty(), "nothing stored");
    server.shut_down().await;
}
