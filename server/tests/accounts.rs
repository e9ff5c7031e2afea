//! Accounts through the real server: the forms' endpoints as a browser without
//! JavaScript posts them, and what a session means for the room's socket.

mod support;

use std::time::Duration;

use app::protocol::{ChatError, ClientMsgId, ServerMsg};
use server::policy::Policy;
use support::{eventually, get, post_form, sign_up, unique_username, Client, TestServer, PASSWORD};
use tokio_tungstenite::tungstenite::Message;

fn sign_in_form<'a>(username: &'a str, password: &'a str) -> [(&'a str, &'a str); 3] {
    [("username", username), ("password", password), ("next", "/chat/tea/")]
}

#[tokio::test]
async fn sign_up_sets_a_protected_session_cookie_and_goes_on() {
    let server = TestServer::start().await;
    let reply = post_form(
        server.addr,
        "/api/sign-up",
        &[("username", "Ada"), ("display_name", "Ada Lovelace"), ("password", PASSWORD), ("next", "/chat/tea/")],
        None,
    )
    .await;
    assert_eq!(reply.status, 302, "{reply:?}");
    assert_eq!(reply.header("location"), Some("/chat/tea/"));
    let cookie = reply.set_cookies().into_iter().find(|c| c.starts_with("chat_session=")).expect("a session cookie");
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age="] {
        assert!(cookie.contains(flag), "{flag} missing from {cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP cannot keep a Secure cookie: {cookie}");

    // The pages know who this is.
    let session = reply.session_cookie().unwrap();
    let page = get(server.addr, "/chat/tea/", Some(&session)).await;
    assert!(page.body.contains("Signed in as"), "{}", page.body);
    assert!(page.body.contains("Ada Lovelace"));
    server.shut_down().await;
}

#[tokio::test]
async fn over_https_the_cookie_is_secure() {
    let server = TestServer::start().await;
    let body = format!("username=ada&display_name=Ada&password={}&next=%2Fchat%2F", PASSWORD.replace(' ', "+"));
    let request = format!(
        "POST /api/sign-up HTTP/1.1\r\nHost: chat.example\r\nAccept: text/html\r\nX-Forwarded-Proto: https\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n{body}",
        len = body.len(),
    );
    let reply = support::raw_http(server.addr, &request).await;
    let cookie = reply.set_cookies().into_iter().find(|c| c.starts_with("chat_session=")).expect("a session cookie");
    assert!(cookie.contains("; Secure"), "{cookie}");
    server.shut_down().await;
}

#[tokio::test]
async fn sign_in_with_a_wrong_password_or_unknown_name_says_the_same_and_keeps_the_name() {
    let server = TestServer::start().await;
    let username = unique_username("ada");
    sign_up(server.addr, &username, "Ada").await;

    let right = post_form(server.addr, "/api/sign-in", &sign_in_form(&username, PASSWORD), None).await;
    assert_eq!(right.header("location"), Some("/chat/tea/"));
    assert!(right.session_cookie().is_some());

    let wrong = post_form(server.addr, "/api/sign-in", &sign_in_form(&username, "not the password"), None).await;
    let unknown = post_form(server.addr, "/api/sign-in", &sign_in_form("nobody-here", PASSWORD), None).await;
    for reply in [&wrong, &unknown] {
        assert_eq!(reply.status, 302);
        assert!(reply.session_cookie().is_none(), "no session: {reply:?}");
        let location = reply.header("location").unwrap();
        assert!(location.starts_with("/account/sign-in?error=mismatch&username="), "{location}");
        assert!(location.contains("next=/chat/tea/"), "{location}");
    }
    // The form page shows one message for both.
    let page = get(server.addr, wrong.header("location").unwrap(), None).await;
    assert_eq!(page.status, 400);
    assert!(page.body.contains("That username and password do not match an account."), "{}", page.body);
    assert!(page.body.contains(&format!(r#"value="{username}""#)), "the name is kept");
    server.shut_down().await;
}

#[tokio::test]
async fn a_taken_username_and_a_weak_password_are_explained() {
    let server = TestServer::start().await;
    sign_up(server.addr, "ada", "Ada").await;
    let taken = post_form(
        server.addr,
        "/api/sign-up",
        &[("username", "ADA"), ("display_name", "Another Ada"), ("password", PASSWORD), ("next", "")],
        None,
    )
    .await;
    assert!(taken.header("location").unwrap().starts_with("/account/sign-up?error=username_taken"), "{taken:?}");
    let page = get(server.addr, taken.header("location").unwrap(), None).await;
    assert!(page.body.contains("That username is taken. Pick another one."), "{}", page.body);

    let weak = post_form(
        server.addr,
        "/api/sign-up",
        &[("username", "bob"), ("display_name", "Bob"), ("password", "hunter2"), ("next", "")],
        None,
    )
    .await;
    assert!(weak.header("location").unwrap().starts_with("/account/sign-up?error=weak_password"), "{weak:?}");
    assert!(weak.session_cookie().is_none());
    server.shut_down().await;
}

#[tokio::test]
async fn an_expired_session_signs_nobody_in() {
    let server = TestServer::start_with_policy(Policy { session_ttl: Duration::ZERO, ..Policy::default() }).await;
    let cookie = sign_up(server.addr, "ada", "Ada").await;
    let page = get(server.addr, "/chat/tea/", Some(&cookie)).await;
    assert!(!page.body.contains("Signed in as"), "expired, yet signed in");
    assert!(page.body.contains("Sign in to post in this room."));
    // And its socket is a reader's.
    let mut client = Client::open(server.addr, "tea", Some(&cookie), "Ada").await;
    client.join(None).await;
    client.say("hello?").await;
    assert!(matches!(client.recv().await, ServerMsg::Error { error: ChatError::SignInRequired, .. }));
    server.shut_down().await;
}

#[tokio::test]
async fn without_a_session_one_can_read_but_not_post() {
    let server = TestServer::start().await;
    let mut reader = server.reader("tea").await;
    let mut ada = server.join("tea", "Ada").await;
    ada.say("hello readers").await;
    assert_eq!(reader.recv_body().await, "hello readers");

    let id = reader.say("let me in").await;
    match reader.recv_chat().await {
        ServerMsg::Error { error: ChatError::SignInRequired, id: refused } => {
            assert_eq!(refused, Some(id));
        }
        other => panic!("expected sign_in_required, got {other:?}"),
    }
    // Readers are not listed as present; the room goes on.
    ada.say("still here").await;
    assert_eq!(reader.recv_body().await, "still here");
    server.shut_down().await;
}

#[tokio::test]
async fn the_author_is_the_session_account_whatever_the_frame_claims() {
    let server = TestServer::start().await;
    let mut mallory = server.join("tea", "Mallory").await;
    let mut bob = server.join("tea", "Bob").await;
    let forged =
        r#"{"type":"send","id":"forged-1","body":"I am Bob","author":"Bob","display_name":"Bob","author_id":1}"#;
    mallory.send_raw(Message::text(forged)).await;
    let ServerMsg::Message(seen) = bob.recv_chat().await else { panic!("expected the message") };
    assert_eq!(seen.author, "Mallory");
    let stored =
        server.state.hub.store().page(&app::room_name::RoomName::parse("tea").unwrap(), None, 10).await.unwrap();
    assert_eq!(stored.last().unwrap().author, "Mallory", "stored under the real author");
    assert_eq!(stored.last().unwrap().client_id, ClientMsgId("forged-1".into()));
    server.shut_down().await;
}

#[tokio::test]
async fn signing_out_closes_that_sessions_sockets_within_a_second() {
    let server = TestServer::start().await;
    let mut ada = server.join("tea", "Ada").await;
    let cookie = ada.cookie.clone().unwrap();
    let mut bob = server.join("tea", "Bob").await;

    let started = tokio::time::Instant::now();
    let reply = post_form(server.addr, "/api/sign-out", &[("next", "/chat/tea/")], Some(&cookie)).await;
    assert_eq!(reply.status, 302);
    assert!(reply.set_cookies().iter().any(|c| c.starts_with("chat_session=;") && c.contains("Max-Age=0")));
    match ada.recv_chat().await {
        ServerMsg::Error { error: ChatError::SignedOut, .. } => {}
        other => panic!("expected signed_out, got {other:?}"),
    }
    assert_eq!(ada.closed().await, Some(1008));
    assert!(started.elapsed() < Duration::from_secs(1), "closed after {:?}", started.elapsed());

    // The session is gone for the pages too, and Bob is untouched.
    let page = get(server.addr, "/chat/tea/", Some(&cookie)).await;
    assert!(!page.body.contains("Signed in as"));
    bob.say("bye ada").await;
    assert_eq!(bob.recv_body().await, "bye ada");
    server.shut_down().await;
}

#[tokio::test]
async fn the_send_limit_is_per_account_across_its_connections() {
    let server =
        TestServer::start_with_policy(Policy { send_burst: 3, sends_per_second: 0.01, ..Policy::default() }).await;
    let mut tab1 = server.join("tea", "Ada").await;
    let cookie = tab1.cookie.clone().unwrap();
    let mut tab2 = Client::open(server.addr, "tea", Some(&cookie), "Ada-tab2").await;
    tab2.join(None).await;
    let mut bob = server.join("tea", "Bob").await;

    for i in 0..3 {
        tab1.say(&format!("one {i}")).await;
        assert!(matches!(tab1.recv_delivery().await, ServerMsg::Message(_)));
        assert!(matches!(tab1.recv_delivery().await, ServerMsg::Ack { .. }));
    }
    tab2.say("from the other tab").await;
    loop {
        match tab2.recv_delivery().await {
            ServerMsg::Message(_) => continue,
            ServerMsg::Error { error: ChatError::RateLimited { retry_after_ms: ms }, .. } => {
                assert!(ms > 0);
                break;
            }
            other => panic!("expected rate_limited, got {other:?}"),
        }
    }
    bob.say("bob is fine").await;
    loop {
        if let ServerMsg::Message(m) = bob.recv_chat().await {
            if m.body == "bob is fine" {
                break;
            }
        }
    }
    server.shut_down().await;
}

#[tokio::test]
async fn connections_are_capped_per_account_and_per_address() {
    let server = TestServer::start_with_policy(Policy {
        connections_per_account: 2,
        connections_per_ip: 3,
        ..Policy::default()
    })
    .await;
    let ada = server.join("tea", "Ada").await;
    let cookie = ada.cookie.clone().unwrap();
    let _second = Client::open(server.addr, "tea", Some(&cookie), "Ada 2").await;
    let url = format!("ws://{}/ws/chat/tea", server.addr);
    let with_cookie = |cookie: Option<&str>| {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = url.clone().into_client_request().unwrap();
        if let Some(cookie) = cookie {
            request.headers_mut().insert("cookie", cookie.parse().unwrap());
        }
        tokio_tungstenite::connect_async(request)
    };
    match with_cookie(Some(&cookie)).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => assert_eq!(response.status(), 429),
        other => panic!("expected 429 for a third socket of one account, got {:?}", other.map(|_| "a socket")),
    }
    let _reader = with_cookie(None).await.expect("the address has room for one more");
    match with_cookie(None).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => assert_eq!(response.status(), 429),
        other => panic!("expected 429 past the address cap, got {:?}", other.map(|_| "a socket")),
    }
    drop(ada);
    // A closed socket frees its place.
    let mut freed = None;
    for _ in 0..100 {
        if let Ok(socket) = with_cookie(Some(&cookie)).await {
            freed = Some(socket);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(freed.is_some(), "the account's place came back");
    server.shut_down().await;
}

#[tokio::test]
async fn a_silent_connection_is_pinged_then_closed() {
    let server = TestServer::start_with_policy(Policy {
        ping_after: Duration::from_millis(100),
        idle_timeout: Duration::from_millis(400),
        ..Policy::default()
    })
    .await;
    let mut alive = server.join("tea", "Ada").await;
    let silent = server.join("tea", "Bob").await;
    // Ada reads (tungstenite answers pings while reading); Bob never reads again,
    // so never answers, and is closed.
    let hub = server.state.hub.clone();
    let gone = eventually("the silent member is gone", move || {
        hub.room(&app::room_name::RoomName::parse("tea").unwrap()).is_some_and(|room| room.member_count() == 1)
    });
    tokio::pin!(gone);
    let mut pings = 0;
    loop {
        tokio::select! {
            () = &mut gone => break,
            frame = alive.socket.next() => match frame {
                Some(Ok(Message::Ping(_))) => pings += 1,
                Some(Ok(_)) => {}
                other => panic!("Ada's socket ended: {other:?}"),
            },
        }
    }
    assert!(pings > 0, "a quiet client is pinged");
    // Ada, answering pings, is still there after several idle timeouts' worth.
    alive.say("still here").await;
    assert_eq!(alive.recv_body().await, "still here");
    drop(silent);
    server.shut_down().await;
}

use futures::StreamExt;

#[tokio::test]
async fn another_sites_page_cannot_post_the_account_forms() {
    let server = TestServer::start().await;
    let body = format!("username=mallory&password={}&next=%2Fchat%2F", PASSWORD.replace(' ', "+"));
    let request = format!(
        "POST /api/sign-in HTTP/1.1\r\nHost: {addr}\r\nOrigin: https://evil.example\r\nAccept: text/html\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len(),
        addr = server.addr,
    );
    let reply = support::raw_http(server.addr, &request).await;
    assert_eq!(reply.status, 403, "{reply:?}");
    assert!(reply.session_cookie().is_none());
    // The site's own pages may: the form is answered (mallory has no account).
    let own = request.replace("https://evil.example", &format!("http://{}", server.addr));
    let reply = support::raw_http(server.addr, &own).await;
    assert_eq!(reply.status, 302, "{reply:?}");
    let location = reply.header("location").unwrap_or_default();
    assert!(location.starts_with("/account/sign-in?error=mismatch"), "{location}");
    server.shut_down().await;
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_address_is_the_clients() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    let server = TestServer::start_with_settings(server::config::Settings {
        trust_proxy: true,
        policy: Policy { connections_per_ip: 1, tcp_connections_per_ip: 0, ..Policy::default() },
        ..Default::default()
    })
    .await;
    let open = |forwarded: &'static str| {
        let mut request = format!("ws://{}/ws/chat/tea", server.addr).into_client_request().unwrap();
        request.headers_mut().insert("x-forwarded-for", forwarded.parse().unwrap());
        tokio_tungstenite::connect_async(request)
    };
    let _first = open("203.0.113.7, 192.0.2.1").await.expect("one socket for 192.0.2.1");
    assert!(open("192.0.2.2").await.is_ok(), "another client behind the same proxy has its own allowance");
    match open("10.0.0.9, 192.0.2.1").await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => assert_eq!(response.status(), 429),
        other => panic!("expected 429 for a second socket from 192.0.2.1, got {:?}", other.map(|_| "a socket")),
    }
    server.shut_down().await;
}

/// A database that cannot be read is not "signed out": an upgrade whose session
/// cannot be read is refused (503, retry), never opened as a reader's socket; and
/// an address at its cap is refused (429) before its session costs a read.
#[tokio::test]
async fn an_unreadable_session_refuses_the_socket_and_the_cap_comes_first() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    let ((store, writer), dir) = support::temp_store().await;
    let database = store.clone();
    let settings = server::config::Settings {
        policy: Policy { connections_per_ip: 1, ..Policy::default() },
        ..Default::default()
    };
    let server = TestServer::start_with_store_and_settings((store, writer), settings).await;
    // Signed up through another process on the same database: this server has
    // not seen the session (it keeps the ones it read or made in memory).
    let elsewhere = server::store::SqliteStore::open(&dir.path().join("chat.db")).await.unwrap();
    let elsewhere = TestServer::start_with(elsewhere).await;
    let cookie = sign_up(elsewhere.addr, &unique_username("Ada"), "Ada").await;
    elsewhere.shut_down().await;
    let open = || {
        let mut request = format!("ws://{}/ws/chat/tea", server.addr).into_client_request().unwrap();
        request.headers_mut().insert("cookie", cookie.parse().unwrap());
        tokio_tungstenite::connect_async(request)
    };
    let status = |outcome: Result<_, tokio_tungstenite::tungstenite::Error>| match outcome {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("expected an HTTP refusal, got {other}"),
        Ok(_) => 101,
    };
    let held = server.reader("tea").await;

    // The database goes away.
    database.close().await;
    assert_eq!(status(open().await), 429, "over the cap: refused before any read");
    drop(held);
    let here = "127.0.0.1".parse().unwrap();
    eventually("the reader's place is free", || server.state.caps.open_from(here) == 0).await;
    assert_eq!(status(open().await), 503, "the session cannot be read: refused, not a reader's socket");
    server.shut_down().await;
}
