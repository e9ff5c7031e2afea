//! Search over the real server (`GET /api/search`): words in English and in
//! Japanese found, ranked and marked; never a direct conversation to anyone
//! but its two people; edits and deletes reflected; filters by room and
//! author; and whatever is typed, an answer, never a server error.

mod support;

use std::time::Duration;

use app::protocol::{ClientMsg, ClientMsgId, Seq};
use app::rooms::DirectRoom;
use app::search::SearchHit;
use support::{answer, call, person, raw_http, Client, Person, Reply, TestServer, PATIENCE};

/// Searches as a script would: `GET /api/search?q=…`, accepting anything.
async fn search(server: &TestServer, q: &str, room: &str, author: &str, who: Option<&Person>) -> Reply {
    let path = format!(
        "/api/search?q={}&room={}&author={}",
        app::url::encode(q),
        app::url::encode(room),
        app::url::encode(author)
    );
    let cookie = who.map(|p| format!("Cookie: {}\r\n", p.cookie)).unwrap_or_default();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: */*\r\n{cookie}Connection: close\r\n\r\n",
        addr = server.addr
    );
    raw_http(server.addr, &request).await
}

async fn hits(server: &TestServer, q: &str, who: Option<&Person>) -> Vec<SearchHit> {
    hits_in(server, q, "", "", who).await
}

async fn hits_in(server: &TestServer, q: &str, room: &str, author: &str, who: Option<&Person>) -> Vec<SearchHit> {
    let reply = search(server, q, room, author, who).await;
    assert_eq!(reply.status, 200, "{q:?}: {reply:?}");
    serde_json::from_str(&reply.body).unwrap_or_else(|e| panic!("{q:?}: {e}: {}", reply.body))
}

/// Waits until searching `q` finds exactly `expected` (by their text): the
/// index is filled in the background, a moment after the messages are stored.
async fn until_found(server: &TestServer, q: &str, who: Option<&Person>, expected: &[&str]) -> Vec<SearchHit> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let found = hits(server, q, who).await;
        let texts: Vec<String> = found.iter().map(text).collect();
        if texts == expected {
            return found;
        }
        assert!(tokio::time::Instant::now() < deadline, "{q:?} found {texts:?}, expected {expected:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Room for the tests' polling of the index.
fn patient() -> server::policy::Policy {
    server::policy::Policy { search_burst: 10_000, searches_per_second: 1_000.0, ..Default::default() }
}

fn text(hit: &SearchHit) -> String {
    hit.snippet.iter().map(|(t, _)| t.as_str()).collect()
}

fn marked(hit: &SearchHit) -> Vec<&str> {
    hit.snippet.iter().filter(|(_, m)| *m).map(|(t, _)| t.as_str()).collect()
}

#[tokio::test]
async fn words_in_english_and_japanese_are_found_ranked_marked_and_kept_in_step() {
    let server = TestServer::start_with_policy(patient()).await;
    let ada = person(&server, "Ada").await;
    let mut adas = Client::open(server.addr, "ops", Some(&ada.cookie), "Ada").await;
    adas.join(None).await;
    for body in
        ["The deploy failed again", "明日の会議は10時です", "Deploy, deploy, deploy: the deploy is back", "lunch?"]
    {
        adas.say(body).await;
    }
    let mut bobs = server.join("random", "Bob").await;
    bobs.say("a deploy in another room").await;

    // Best first: the message that is most about it.
    let found = until_found(
        &server,
        "DEPLOY",
        None,
        &["Deploy, deploy, deploy: the deploy is back", "The deploy failed again", "a deploy in another room"],
    )
    .await;
    assert_eq!(marked(&found[0]), ["Deploy", "deploy", "deploy", "deploy"]);
    assert_eq!((found[0].place.as_str(), found[0].link.as_str()), ("#ops", "/chat/ops/#m3"));
    assert_eq!(found[0].author, "Ada");
    // A word inside a Japanese sentence, with no spaces around it.
    let found = until_found(&server, "会議", None, &["明日の会議は10時です"]).await;
    assert_eq!(marked(&found[0]), ["会議"]);
    until_found(&server, "明日 10", None, &["明日の会議は10時です"]).await;
    until_found(&server, "会談", None, &[]).await;
    // Every word must be there; the filters narrow it.
    until_found(&server, "deploy failed", None, &["The deploy failed again"]).await;
    let in_random = hits_in(&server, "deploy", "random", "", None).await;
    assert_eq!(in_random.iter().map(text).collect::<Vec<_>>(), ["a deploy in another room"]);
    let by_ada = hits_in(&server, "deploy", "", &format!("@{}", ada.username), None).await;
    assert_eq!(by_ada.len(), 2);

    // An edit and a delete show in the results at once.
    adas.send(&ClientMsg::Edit { id: ClientMsgId("e1".into()), seq: Seq(1), body: "The rollout failed again".into() })
        .await;
    assert!(answer(&mut adas, "e1").await.is_ok());
    until_found(&server, "rollout", None, &["The rollout failed again"]).await;
    until_found(&server, "failed", None, &["The rollout failed again"]).await;
    adas.send(&ClientMsg::Delete { id: ClientMsgId("d1".into()), seq: Seq(2) }).await;
    assert!(answer(&mut adas, "d1").await.is_ok());
    until_found(&server, "会議", None, &[]).await;
    server.shut_down().await;
}

#[tokio::test]
async fn a_direct_conversation_is_found_only_by_its_two_people() {
    let server = TestServer::start_with_policy(patient()).await;
    let (ada, bob, cy) = (person(&server, "Ada").await, person(&server, "Bob").await, person(&server, "Cy").await);
    let reply = call(server.addr, "/api/open-direct", &[("username", &bob.username)], Some(&ada.cookie)).await;
    let direct: DirectRoom = serde_json::from_str(&reply.body).expect("a direct room");
    let mut adas = Client::open(server.addr, direct.room.as_str(), Some(&ada.cookie), "Ada").await;
    adas.join(None).await;
    adas.say("the secret password is swordfish").await;
    let mut public = server.join("open", "Dee").await;
    public.say("swordfish for dinner").await;

    // Bob and Ada find it, named after the other person, linked to their page
    // (after the shorter message: BM25 ranks a word in fewer words higher).
    let both = ["swordfish for dinner", "the secret password is swordfish"];
    let found = until_found(&server, "swordfish", Some(&bob), &both).await;
    assert_eq!(found[1].place, "Ada");
    assert_eq!(found[1].link, format!("/chat/@{}/#m1", ada.username));
    let found = until_found(&server, "swordfish", Some(&ada), &both).await;
    assert_eq!(found[1].place, "Bob");
    // Cy and a signed-out reader find only the open room's.
    for who in [Some(&cy), None] {
        let texts: Vec<String> = hits(&server, "swordfish", who).await.iter().map(text).collect();
        assert_eq!(texts, ["swordfish for dinner"]);
    }
    let named = hits_in(&server, "swordfish", direct.room.as_str(), "", Some(&cy)).await;
    assert!(named.is_empty(), "naming the conversation as a room does not open it: {named:?}");
    let within = hits_in(&server, "swordfish", direct.room.as_str(), "", Some(&bob)).await;
    assert_eq!(within.iter().map(text).collect::<Vec<_>>(), ["the secret password is swordfish"]);
    server.shut_down().await;
}

#[tokio::test]
async fn whatever_is_typed_gets_an_answer_not_an_error() {
    let policy = server::policy::Policy { search_burst: 40, ..Default::default() };
    let server = TestServer::start_with_policy(policy).await;
    let mut ada = server.join("syntax", "Ada").await;
    ada.say("quotes \"and\" stars * and NEAR things").await;
    until_found(&server, "stars", None, &["quotes \"and\" stars * and NEAR things"]).await;
    for q in [
        "\"",
        "\"\"\"",
        "*",
        "stars*",
        "NEAR(stars things)",
        "stars AND OR NOT",
        "body:stars",
        "^stars",
        "(((",
        "'; DROP TABLE messages; --",
        "\u{0}\u{202e}",
        &"x".repeat(5000),
        &"a ".repeat(500),
    ] {
        let reply = search(&server, q, "", "", None).await;
        assert_eq!(reply.status, 200, "{q:?}: {reply:?}");
        let _: Vec<SearchHit> = serde_json::from_str(&reply.body).unwrap_or_else(|e| panic!("{q:?}: {e}"));
    }
    let texts: Vec<String> = hits(&server, "stars NEAR", None).await.iter().map(text).collect();
    assert_eq!(texts, ["quotes \"and\" stars * and NEAR things"], "operators are words like any other");
    let bad_room = search(&server, "stars", "no/such room!", "", None).await;
    // Searching is limited: past the allowance, told to wait.
    let mut limited = false;
    for _ in 0..40 {
        let reply = search(&server, "stars", "", "", None).await;
        if reply.status == 429 {
            assert!(reply.body.contains("rate_limited"), "{reply:?}");
            limited = true;
            break;
        }
    }
    assert!(limited, "forty more searches at once are not all answered");
    assert_eq!(bad_room.status, 400, "{bad_room:?}");
    assert!(bad_room.body.contains("bad_room_name"), "{bad_room:?}");
    server.shut_down().await;
}
