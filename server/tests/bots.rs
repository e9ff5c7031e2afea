//! Outgoing webhooks (issue 15): a bot with an address is told by a POST when
//! a message mentions it or is sent to it directly, with retries, and its
//! answer's text is posted in the room as the bot, for everyone there. The
//! bot's end is a small HTTP server of the test's own.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use support::{call, person, Client, TestServer};

use app::protocol::ServerMsg;

/// What the bot's end was sent, how many of its first answers fail (503),
/// and the signing secret it checks each POST's signature with.
#[derive(Clone, Default)]
struct BotEnd {
    notices: Arc<Mutex<Vec<Value>>>,
    failures_left: Arc<Mutex<u32>>,
    secret: Arc<Mutex<Option<String>>>,
}

async fn receive(State(end): State<BotEnd>, headers: HeaderMap, body: Bytes) -> Result<Json<Value>, StatusCode> {
    let secret = end.secret.lock().unwrap().clone().expect("the test gives the bot's end its secret first");
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let expected = server::api::outgoing::signature(&secret, &header("x-chat-timestamp"), &body);
    if header("x-chat-signature") != expected {
        return Err(StatusCode::UNAUTHORIZED);
    }
    let notice: Value = serde_json::from_slice(&body).map_err(|_| StatusCode::BAD_REQUEST)?;
    end.notices.lock().unwrap().push(notice.clone());
    {
        let mut left = end.failures_left.lock().unwrap();
        if *left > 0 {
            *left -= 1;
            return Err(StatusCode::SERVICE_UNAVAILABLE);
        }
    }
    let text = notice["text"].as_str().unwrap_or_default();
    Ok(Json(json!({ "text": format!("pong to {}: {text}", notice["author"]["username"].as_str().unwrap_or("?")) })))
}

/// Starts the bot's end; returns its address and what it records.
async fn bot_end(failures: u32) -> (String, BotEnd) {
    let end = BotEnd { failures_left: Arc::new(Mutex::new(failures)), ..BotEnd::default() };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = Router::new().route("/hook", post(receive)).with_state(end.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("http://{addr}/hook"), end)
}

/// Hands the bot's end the signing secret its owner's account page shows.
async fn give_secret(server: &TestServer, owner: &support::Person, end: &BotEnd) {
    let list = call(server.addr, "/api/integrations", &[], Some(&owner.cookie)).await;
    let list: Value = serde_json::from_str(&list.body).unwrap();
    let secret = list["bots"][0]["signing_secret"].as_str().expect("a bot with an address has a signing secret");
    assert!(secret.starts_with("chat_sign_"), "{secret}");
    *end.secret.lock().unwrap() = Some(secret.to_owned());
}

async fn next_message(client: &mut Client) -> app::protocol::ChatMessage {
    match client.recv_chat().await {
        ServerMsg::Message(message) => message,
        other => panic!("{} expected a message, got {other:?}", client.name),
    }
}

#[tokio::test]
async fn a_mentioned_bot_is_told_and_its_reply_reaches_everyone() {
    let server = TestServer::start().await;
    let (url, end) = bot_end(1).await; // the first POST fails: it is tried again
    let owner = person(&server, "Owner").await;
    let bot = support::unique_username("pinger");
    let saved = call(
        server.addr,
        "/api/save-bot",
        &[("bot", &bot), ("bot_name", "Pinger"), ("url", &url)],
        Some(&owner.cookie),
    )
    .await;
    assert_eq!(saved.status, 200, "{saved:?}");
    give_secret(&server, &owner, &end).await;

    let mut ada = Client::connect_to(server.addr, "botroom", "Ada").await;
    let mut bob = Client::connect_to(server.addr, "botroom", "Bob").await;
    let asked = ada.say(&format!("hey @{bot} ping")).await;
    support::answer(&mut ada, &asked.0).await.unwrap();
    assert!(next_message(&mut bob).await.body.contains("ping"));

    for member in [&mut ada, &mut bob] {
        let reply = next_message(member).await;
        assert_eq!((reply.username.as_str(), reply.author.as_str()), (bot.as_str(), "Pinger"));
        assert!(
            reply.body.starts_with("pong to ") && reply.body.ends_with(&format!("hey @{bot} ping")),
            "{}",
            reply.body
        );
    }
    let notices = end.notices.lock().unwrap().clone();
    assert_eq!(notices.len(), 2, "one failure, then the retry: {notices:?}");
    assert_eq!(notices[0], notices[1], "the retry is the same notice");
    assert_eq!(notices[1]["type"], "mention");
    assert_eq!(notices[1]["room"], "botroom");
    assert_eq!(notices[1]["bot"], bot.as_str());
    assert_eq!(notices[1]["seq"], 1);
    server.shut_down().await;
}

#[tokio::test]
async fn a_direct_message_to_a_bot_is_answered_in_the_conversation() {
    let server = TestServer::start().await;
    let (url, end) = bot_end(0).await;
    let owner = person(&server, "Owner").await;
    let bot = support::unique_username("helper");
    let saved = call(server.addr, "/api/save-bot", &[("bot", &bot), ("url", &url)], Some(&owner.cookie)).await;
    assert_eq!(saved.status, 200, "{saved:?}");
    give_secret(&server, &owner, &end).await;

    // Ada writes to the bot through the API, as a script would.
    let ada = person(&server, "Ada").await;
    let made =
        call(server.addr, "/api/create-token", &[("name", "t"), ("read", "on"), ("post", "on")], Some(&ada.cookie))
            .await;
    let token = serde_json::from_str::<Value>(&made.body).unwrap()["secret"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/rooms/@{bot}/messages");
    let body = r#"{"text": "help me"}"#;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}",
        body.len()
    );
    assert_eq!(support::exchange(server.addr, &head, body.as_bytes()).await.status, 201);

    // The reply is in the conversation, as the bot.
    let read_head = format!("GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}");
    let mut texts = Vec::new();
    for _ in 0..100 {
        let page: Value = serde_json::from_slice(&support::exchange(server.addr, &read_head, b"").await.body).unwrap();
        texts =
            page["messages"].as_array().unwrap().iter().map(|m| (m["username"].clone(), m["text"].clone())).collect();
        if texts.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(texts.len(), 2, "the question and the bot's answer: {texts:?}");
    assert_eq!(texts[1].0, bot.as_str());
    assert_eq!(texts[1].1, format!("pong to {}: help me", ada.username));
    let notices = end.notices.lock().unwrap().clone();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(notices[0]["type"], "direct_message");
    assert_eq!(notices[0]["room"], format!("@{}", ada.username));
    server.shut_down().await;
}

#[tokio::test]
async fn a_bots_secret_is_replaced_and_a_deleted_bot_is_told_nothing_more() {
    let server = TestServer::start().await;
    let (url, end) = bot_end(0).await;
    let owner = person(&server, "Owner").await;
    let bot = support::unique_username("rotor");
    let saved = call(server.addr, "/api/save-bot", &[("bot", &bot), ("url", &url)], Some(&owner.cookie)).await;
    assert_eq!(saved.status, 200, "{saved:?}");
    give_secret(&server, &owner, &end).await;
    let first = end.secret.lock().unwrap().clone().unwrap();

    let renewed = call(server.addr, "/api/new-bot-secret", &[("bot", &bot)], Some(&owner.cookie)).await;
    assert_eq!(renewed.status, 200, "{renewed:?}");
    give_secret(&server, &owner, &end).await;
    assert_ne!(end.secret.lock().unwrap().clone().unwrap(), first, "a new secret");
    // Someone else cannot touch the bot.
    let eve = person(&server, "Eve").await;
    let refused = call(server.addr, "/api/delete-bot", &[("bot", &bot)], Some(&eve.cookie)).await;
    assert_eq!(refused.status, 404, "{refused:?}");

    // Signed with the new secret: answered.
    let mut ada = Client::connect_to(server.addr, "rotating", "Ada").await;
    let asked = ada.say(&format!("@{bot} still there?")).await;
    support::answer(&mut ada, &asked.0).await.unwrap();
    // (Her own message may have come before her answer or after it.)
    let reply = loop {
        let message = next_message(&mut ada).await;
        if message.username == bot {
            break message;
        }
    };
    assert!(reply.body.ends_with("still there?"), "{}", reply.body);

    let deleted = call(server.addr, "/api/delete-bot", &[("bot", &bot)], Some(&owner.cookie)).await;
    assert_eq!(deleted.status, 200, "{deleted:?}");
    let list = call(server.addr, "/api/integrations", &[], Some(&owner.cookie)).await;
    assert_eq!(serde_json::from_str::<Value>(&list.body).unwrap()["bots"], json!([]));
    let told = server.state.api.store().bots_named(std::slice::from_ref(&bot)).await.unwrap();
    assert!(told.is_empty(), "a deleted bot is told nothing: {told:?}");
    server.shut_down().await;
}
