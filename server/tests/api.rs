//! The HTTP API and incoming webhooks (issue 15), through the server's own
//! routes: tokens made on the account page's server functions, used as a
//! script uses them, revoked; webhooks posting as their bot to everyone in
//! the room; the OpenAPI document served. (`api_fuzz.rs` fuzzes the API
//! against that document.)

mod support;

use serde_json::Value;
use std::net::SocketAddr;
use support::{call, exchange, person, Client, Got, Person, TestServer};

use app::protocol::ServerMsg;

/// Makes a token on the account page as `who`; returns its secret.
async fn token(addr: SocketAddr, who: &Person, read: bool, post: bool) -> String {
    let mut fields = vec![("name", "script")];
    if read {
        fields.push(("read", "on"));
    }
    if post {
        fields.push(("post", "on"));
    }
    let reply = call(addr, "/api/create-token", &fields, Some(&who.cookie)).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let made: Value = serde_json::from_str(&reply.body).unwrap();
    made["secret"].as_str().expect("a secret").to_owned()
}

/// One API request; `body` is sent as JSON when given.
async fn api(addr: SocketAddr, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> Got {
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let body = body.unwrap_or("");
    let typed = if body.is_empty() { "" } else { "Content-Type: application/json\r\n" };
    let head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}{typed}Content-Length: {}", body.len());
    exchange(addr, &head, body.as_bytes()).await
}

fn json(got: &Got) -> Value {
    serde_json::from_slice(&got.body).unwrap_or_else(|_| panic!("JSON, got {got:?}"))
}

/// The next chat message a member is told.
async fn next_message(client: &mut Client) -> app::protocol::ChatMessage {
    match client.recv_chat().await {
        ServerMsg::Message(message) => message,
        other => panic!("{} expected a message, got {other:?}", client.name),
    }
}

#[tokio::test]
async fn a_token_posts_as_its_account_and_every_member_sees_it_once() {
    let server = TestServer::start().await;
    let ada = person(&server, "Ada").await;
    let secret = token(server.addr, &ada, true, true).await;
    let mut bob = Client::connect_to(server.addr, "scripted", "Bob").await;
    let mut cy = Client::connect_to(server.addr, "scripted", "Cy").await;

    let counted = || server::metrics::METRICS.api_posts.with_label_values(&["api"]).get();
    let before = counted();
    let body = r#"{"text": "Deployed **v2**", "id": "deploy-42"}"#;
    let posted = api(server.addr, "POST", "/api/v1/rooms/scripted/messages", Some(&secret), Some(body)).await;
    assert_eq!(posted.status, 201, "{posted:?}");
    let posted = json(&posted);
    assert_eq!(posted["message"]["seq"], 1);
    assert_eq!(posted["message"]["username"], ada.username.as_str(), "the author is the token's account");
    assert_eq!(posted["duplicate"], false);
    for member in [&mut bob, &mut cy] {
        let message = next_message(member).await;
        assert_eq!((message.body.as_str(), message.username.as_str()), ("Deployed **v2**", ada.username.as_str()));
    }

    // A retry with the same id is the same message, stored once.
    let again = api(server.addr, "POST", "/api/v1/rooms/scripted/messages", Some(&secret), Some(body)).await;
    assert_eq!(again.status, 200, "{again:?}");
    assert_eq!((json(&again)["duplicate"].clone(), json(&again)["message"]["seq"].clone()), (true.into(), 1.into()));
    let next =
        api(server.addr, "POST", "/api/v1/rooms/scripted/messages", Some(&secret), Some(r#"{"text": "2"}"#)).await;
    assert_eq!(json(&next)["message"]["seq"], 2, "no id: a new message");
    assert_eq!(next_message(&mut bob).await.body, "2", "the repeat was not broadcast again");
    assert!(counted() >= before + 3, "the metric counts the API's posts");

    // Read back, by pages.
    let page = json(&api(server.addr, "GET", "/api/v1/rooms/scripted/messages?limit=1", Some(&secret), None).await);
    assert_eq!(page["messages"].as_array().unwrap().len(), 1);
    assert_eq!(page["messages"][0]["text"], "2");
    assert_eq!(page["older"], 2);
    let older = json(&api(server.addr, "GET", "/api/v1/rooms/scripted/messages?before=2", Some(&secret), None).await);
    assert_eq!(older["messages"][0]["text"], "Deployed **v2**");
    assert!(older.get("older").is_none(), "the room's start: {older}");

    // Posting put the room in the account's list.
    let rooms = json(&api(server.addr, "GET", "/api/v1/rooms", Some(&secret), None).await);
    let names: Vec<&str> = rooms["rooms"].as_array().unwrap().iter().filter_map(|r| r["name"].as_str()).collect();
    assert_eq!(names, ["scripted"]);
    server.shut_down().await;
}

#[tokio::test]
async fn a_read_only_token_cannot_post_and_a_revoked_one_is_refused() {
    let server = TestServer::start().await;
    let ada = person(&server, "Ada").await;
    let reader = token(server.addr, &ada, true, false).await;
    let poster = token(server.addr, &ada, false, true).await;
    let path = "/api/v1/rooms/guarded/messages";

    let refused = api(server.addr, "POST", path, Some(&reader), Some(r#"{"text": "no"}"#)).await;
    assert_eq!((refused.status, json(&refused)["code"].clone()), (403, "insufficient_scope".into()));
    let refused = api(server.addr, "GET", path, Some(&poster), None).await;
    assert_eq!((refused.status, json(&refused)["code"].clone()), (403, "insufficient_scope".into()));
    let read = api(server.addr, "GET", path, Some(&reader), None).await;
    assert_eq!(read.status, 200, "{read:?}");
    assert_eq!(json(&read)["messages"], Value::Array(vec![]), "nothing was stored by the refused post");

    // Revoked on the account page: refused from then on.
    let list = call(server.addr, "/api/integrations", &[], Some(&ada.cookie)).await;
    let list: Value = serde_json::from_str(&list.body).unwrap();
    let reader_id = list["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["read"] == true && t["post"] == false)
        .map(|t| t["id"].to_string())
        .expect("the read-only token is listed");
    assert!(!list.to_string().contains(&reader[12..]), "the list never shows a secret");
    let revoked = call(server.addr, "/api/revoke-token", &[("id", &reader_id)], Some(&ada.cookie)).await;
    assert_eq!(revoked.status, 200, "{revoked:?}");
    let refused = api(server.addr, "GET", path, Some(&reader), None).await;
    assert_eq!((refused.status, json(&refused)["code"].clone()), (401, "invalid_token".into()));
    assert!(refused.header("www-authenticate").starts_with("Bearer"), "{refused:?}");
    // The other token is untouched; no token, or a made-up one, is refused.
    assert_eq!(api(server.addr, "POST", path, Some(&poster), Some(r#"{"text": "yes"}"#)).await.status, 201);
    assert_eq!(api(server.addr, "GET", path, None, None).await.status, 401);
    let made_up = format!("chat_pat_{}", "0".repeat(64));
    assert_eq!(api(server.addr, "GET", path, Some(&made_up), None).await.status, 401);
    // Someone else cannot revoke Ada's token.
    let eve = person(&server, "Eve").await;
    let list = call(server.addr, "/api/integrations", &[], Some(&ada.cookie)).await;
    let poster_id = serde_json::from_str::<Value>(&list.body).unwrap()["tokens"][0]["id"].to_string();
    let theirs = call(server.addr, "/api/revoke-token", &[("id", &poster_id)], Some(&eve.cookie)).await;
    assert_ne!(theirs.status, 200, "{theirs:?}");
    assert_eq!(api(server.addr, "POST", path, Some(&poster), Some(r#"{"text": "still"}"#)).await.status, 201);
    server.shut_down().await;
}

#[tokio::test]
async fn bad_requests_get_clear_errors_and_the_room_keeps_working() {
    let server = TestServer::start().await;
    let ada = person(&server, "Ada").await;
    let secret = token(server.addr, &ada, true, true).await;
    let path = "/api/v1/rooms/sturdy/messages";
    let cases: [(&str, Option<&str>, u16, &str); 6] = [
        (path, Some("{not json"), 400, "bad_json"),
        (path, Some(r#"{"text": ""}"#), 400, "empty_message"),
        (path, Some(r#"{"text": "x", "id": "no spaces allowed"}"#), 400, "invalid_message_id"),
        ("/api/v1/rooms/Not%20A%20Room!/messages", Some(r#"{"text": "x"}"#), 400, "bad_room_name"),
        // A name with a no-break space after it (found by schemathesis): the
        // pages would trim it, an address is refused.
        ("/api/v1/rooms/sturdy%C2%A0/messages", Some(r#"{"text": "x"}"#), 400, "bad_room_name"),
        ("/api/v1/rooms/@nobody-at-all/messages", Some(r#"{"text": "x"}"#), 404, "no_such_person"),
    ];
    for (path, body, status, code) in cases {
        let got = api(server.addr, "POST", path, Some(&secret), body).await;
        assert_eq!((got.status, json(&got)["code"].as_str().unwrap()), (status, code), "{body:?}");
    }
    let long = format!(r#"{{"text": "{}"}}"#, "a".repeat(4_001));
    let got = api(server.addr, "POST", path, Some(&secret), Some(&long)).await;
    assert_eq!((got.status, json(&got)["code"].as_str().unwrap()), (400, "too_long"));
    let huge = format!(r#"{{"text": "{}"}}"#, "a".repeat(70_000));
    let got = api(server.addr, "POST", path, Some(&secret), Some(&huge)).await;
    assert_eq!((got.status, json(&got)["code"].as_str().unwrap()), (413, "too_large"));
    let head = format!("POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {secret}\r\nContent-Length: 2");
    let untyped = exchange(server.addr, &head, b"{}").await;
    assert_eq!((untyped.status, json(&untyped)["code"].as_str().unwrap()), (415, "not_json"));
    let bad_limit = api(server.addr, "GET", &format!("{path}?limit=0"), Some(&secret), None).await;
    assert_eq!(bad_limit.status, 400);

    // A flood is limited as a member's is, and nothing is stored twice or lost.
    let mut limited = None;
    let mut stored = 0;
    for i in 0..40 {
        let got = api(server.addr, "POST", path, Some(&secret), Some(&format!(r#"{{"text": "n{i}"}}"#))).await;
        match got.status {
            201 => stored += 1,
            429 => {
                limited = Some(got);
                break;
            }
            other => panic!("{other}: {got:?}"),
        }
    }
    let limited = limited.expect("the send limit holds for the API");
    assert_eq!(json(&limited)["code"], "rate_limited");
    assert!(!limited.header("retry-after").is_empty());
    let page = json(&api(server.addr, "GET", &format!("{path}?limit=200"), Some(&secret), None).await);
    assert_eq!(page["messages"].as_array().unwrap().len(), stored);
    server.shut_down().await;
}

#[tokio::test]
async fn a_webhook_posts_as_its_bot_for_every_connected_client() {
    let server = TestServer::start().await;
    // Ada owns the room: she was first in it.
    let mut ada = Client::connect_to(server.addr, "deploys", "Ada").await;
    let hello = ada.say("mine").await;
    support::answer(&mut ada, &hello.0).await.unwrap();
    let ada_cookie = ada.cookie.clone().unwrap();
    let mut bob = Client::connect_to(server.addr, "deploys", "Bob").await;
    let bot = support::unique_username("ci-bot");

    // Only the owner makes webhooks.
    let fields = [("room", "deploys"), ("bot", bot.as_str()), ("bot_name", "CI")];
    let refused = call(server.addr, "/api/create-webhook", &fields, bob.cookie.as_deref()).await;
    assert!(refused.body.contains("not_owner"), "{refused:?}");
    let made = call(server.addr, "/api/create-webhook", &fields, Some(&ada_cookie)).await;
    assert_eq!(made.status, 200, "{made:?}");
    let url = serde_json::from_str::<Value>(&made.body).unwrap()["secret"].as_str().unwrap().to_owned();
    let path = url.split_once(&server.addr.to_string()).expect("an address on this server").1.to_owned();
    assert!(path.starts_with("/hooks/chat_hook_"), "{path}");

    let slack = r#"{"text": "Build <https://ci.example/7|#7> passed &amp; deployed"}"#;
    let got = api(server.addr, "POST", &path, None, Some(slack)).await;
    assert_eq!(got.status, 200, "{got:?}");
    for member in [&mut ada, &mut bob] {
        let message = next_message(member).await;
        assert_eq!(message.author, "CI");
        assert_eq!(message.username, bot);
        assert_eq!(message.body, "Build [#7](https://ci.example/7) passed & deployed");
    }
    // Slack's form shape too, and a retry with the same key is one message.
    let form = "payload=%7B%22text%22%3A%22from%20a%20form%22%7D";
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nIdempotency-Key: run-1\r\nContent-Length: {}",
        form.len()
    );
    assert_eq!(exchange(server.addr, &head, form.as_bytes()).await.status, 200);
    let repeat = exchange(server.addr, &head, form.as_bytes()).await;
    assert_eq!(json(&repeat)["duplicate"], true);
    assert_eq!(next_message(&mut bob).await.body, "from a form");

    // The bot cannot sign in, nothing is posted for an empty message, and a
    // deleted webhook's address is dead.
    let sign_in = support::post_form(
        server.addr,
        "/api/sign-in",
        &[("username", &bot), ("password", support::PASSWORD), ("next", "/chat/")],
        None,
    )
    .await;
    assert!(sign_in.session_cookie().is_none(), "{sign_in:?}");
    assert_eq!(api(server.addr, "POST", &path, None, Some("{}")).await.status, 400);
    let list = call(server.addr, "/api/integrations", &[], Some(&ada_cookie)).await;
    let id = serde_json::from_str::<Value>(&list.body).unwrap()["webhooks"][0]["id"].to_string();
    assert_eq!(call(server.addr, "/api/delete-webhook", &[("id", &id)], Some(&ada_cookie)).await.status, 200);
    let dead = api(server.addr, "POST", &path, None, Some(r#"{"text": "gone"}"#)).await;
    assert_eq!((dead.status, json(&dead)["code"].as_str().unwrap()), (404, "no_such_webhook"));
    let after = json(&api(server.addr, "POST", "/hooks/chat_hook_nonsense", None, Some(r#"{"text": "x"}"#)).await);
    assert_eq!(after["code"], "no_such_webhook");
    server.shut_down().await;
}

#[tokio::test]
async fn guessing_secrets_is_limited_per_address() {
    let policy = server::policy::Policy { guess_burst: 3, guesses_per_second: 0.01, ..Default::default() };
    let server = TestServer::start_with_policy(policy).await;
    let ada = person(&server, "Ada").await;
    let secret = token(server.addr, &ada, true, false).await;
    let guess = |n: usize| format!("chat_pat_{n:064}");
    for n in 0..3 {
        assert_eq!(api(server.addr, "GET", "/api/v1/rooms", Some(&guess(n)), None).await.status, 401);
    }
    let limited = api(server.addr, "GET", "/api/v1/rooms", Some(&guess(3)), None).await;
    assert_eq!((limited.status, json(&limited)["code"].as_str().unwrap()), (429, "too_many_attempts"));
    assert!(!limited.header("retry-after").is_empty());
    let hook = api(server.addr, "POST", "/hooks/chat_hook_guess", None, Some(r#"{"text": "x"}"#)).await;
    assert_eq!(hook.status, 429, "webhook addresses count too");
    // While the address's guesses are spent, it is refused before any look-up,
    // whatever it sends (as sign-in attempts are); elsewhere the token works.
    assert_eq!(api(server.addr, "GET", "/api/v1/rooms", Some(&secret), None).await.status, 429);
    assert!(server.state.api.guessing("10.0.0.1".parse().unwrap()).is_ok(), "another address is not limited");
    server.shut_down().await;
}

#[tokio::test]
async fn the_openapi_document_describes_the_api() {
    let server = TestServer::start().await;
    let got = support::get(server.addr, "/api/v1/openapi.json", None).await;
    assert_eq!(got.status, 200);
    let doc: Value = serde_json::from_str(&got.body).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in ["/api/v1/rooms", "/api/v1/rooms/{room}/messages", "/hooks/{secret}"] {
        assert!(doc["paths"].get(path).is_some(), "{path} in {doc}");
    }
    assert_eq!(doc["components"]["securitySchemes"]["token"]["scheme"], "bearer");
    server.shut_down().await;
}
