//! Web Push over the real server, to a push service on this machine that
//! decrypts what it receives as a browser would (RFC 8291) and checks the
//! VAPID signature (RFC 8292): who is pushed, with what, and a subscription
//! its service calls gone is forgotten.

mod support;

use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use server::config::{PushSettings, Settings};
use server::store::AccountId;
use support::{eventually, person, post_form, Client, Person, TestServer};
use tokio::sync::mpsc;
use web_push_native::p256::elliptic_curve::sec1::ToEncodedPoint;
use web_push_native::{decrypt, Auth};

/// What the push service received.
#[derive(Debug)]
struct Received {
    subscription: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

#[derive(Clone)]
struct Service {
    received: mpsc::UnboundedSender<Received>,
    hits: Arc<Mutex<Vec<String>>>,
}

/// A push service on an ephemeral port: `/push/gone` answers 410 Gone, any
/// other subscription 201 Created.
async fn push_service() -> (String, mpsc::UnboundedReceiver<Received>, Arc<Mutex<Vec<String>>>) {
    let (received, incoming) = mpsc::unbounded_channel();
    let hits = Arc::new(Mutex::new(Vec::new()));
    let service = Service { received, hits: hits.clone() };
    let app =
        axum::Router::new().route(
            "/push/{id}",
            post(
                |State(service): State<Service>,
                 Path(id): Path<String>,
                 headers: HeaderMap,
                 body: axum::body::Bytes| async move {
                    service.hits.lock().unwrap().push(id.clone());
                    let gone = id == "gone";
                    // The test may have all it waits for and be gone: then nobody reads this.
                    if service.received.send(Received { subscription: id, headers, body: body.to_vec() }).is_err() {
                        tracing::debug!("a push arrived after the test stopped listening");
                    }
                    if gone {
                        StatusCode::GONE
                    } else {
                        StatusCode::CREATED
                    }
                },
            ),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app.with_state(service)).await.unwrap() });
    (base, incoming, hits)
}

/// A browser's push keys.
struct Browser {
    secret: web_push_native::p256::SecretKey,
    auth: [u8; 16],
}

impl Browser {
    fn new() -> Self {
        let mut bytes = [0u8; 32];
        let secret = loop {
            getrandom::fill(&mut bytes).unwrap();
            if let Ok(secret) = web_push_native::p256::SecretKey::from_slice(&bytes) {
                break secret;
            }
        };
        let mut auth = [0u8; 16];
        getrandom::fill(&mut auth).unwrap();
        Browser { secret, auth }
    }

    fn p256dh(&self) -> String {
        B64.encode(self.secret.public_key().to_encoded_point(false).as_bytes())
    }

    async fn subscribe(&self, server: &TestServer, who: &Person, endpoint: &str) {
        let fields = [("endpoint", endpoint), ("p256dh", &self.p256dh()), ("auth", &B64.encode(self.auth))];
        let reply = post_form(server.addr, "/api/push-subscribe", &fields, Some(&who.cookie)).await;
        assert_eq!(reply.body, "null", "subscribe: {reply:?}");
    }

    /// The push's JSON, decrypted with this browser's keys.
    fn read(&self, received: &Received) -> serde_json::Value {
        assert_eq!(received.headers["content-encoding"], "aes128gcm");
        assert!(received.headers.contains_key("ttl"));
        let plain = decrypt(received.body.clone(), &self.secret, &Auth::clone_from_slice(&self.auth))
            .expect("the push decrypts with the browser's keys");
        serde_json::from_slice(&plain).unwrap()
    }
}

/// Checks the VAPID header against the server's public key.
fn check_vapid(received: &Received, public_key: &str, audience: &str) {
    let header = received.headers["authorization"].to_str().unwrap();
    let (token, key) = header.strip_prefix("vapid t=").unwrap().split_once(", k=").unwrap();
    assert_eq!(key, public_key, "the key browsers subscribed with");
    let (signed, signature) = token.rsplit_once('.').unwrap();
    let verifying = VerifyingKey::from_sec1_bytes(&B64.decode(key).unwrap()).unwrap();
    verifying.verify(signed.as_bytes(), &Signature::from_slice(&B64.decode(signature).unwrap()).unwrap()).unwrap();
    let claims: serde_json::Value =
        serde_json::from_slice(&B64.decode(signed.split_once('.').unwrap().1).unwrap()).unwrap();
    assert_eq!(claims["aud"], audience);
    assert_eq!(claims["sub"], "mailto:ops@example.com");
}

async fn next(incoming: &mut mpsc::UnboundedReceiver<Received>) -> Received {
    tokio::time::timeout(support::PATIENCE, incoming.recv()).await.expect("a push arrives in time").unwrap()
}

#[tokio::test]
async fn people_with_no_tab_open_are_pushed_what_their_level_asks_for_and_gone_browsers_are_forgotten() {
    let (service, mut incoming, hits) = push_service().await;
    let settings = Settings {
        push: PushSettings { contact: "mailto:ops@example.com".into(), allow_http: true },
        ..Settings::default()
    };
    let server = TestServer::start_with_settings(settings).await;
    let (ada, bob) = (person(&server, "Ada").await, person(&server, "Bob").await);
    let ada_id: AccountId = server.state.accounts.find(&ada.username).await.unwrap().unwrap().id;

    let key = post_form(server.addr, "/api/push-key", &[], None).await;
    let public_key: String = serde_json::from_str(&key.body).unwrap();
    let reply = post_form(server.addr, "/api/join-room", &[("room", "lounge")], Some(&ada.cookie)).await;
    assert!(matches!(reply.status, 302 | 303), "{reply:?}");
    let browser = Browser::new();
    browser.subscribe(&server, &ada, &format!("{service}/push/laptop")).await;

    // Ada has no tab open: Bob's mention reaches her laptop.
    let mut bob_tab = Client::open(server.addr, "lounge", Some(&bob.cookie), "bob").await;
    bob_tab.join(None).await;
    bob_tab.say(&format!("@{} lunch?", ada.username)).await;
    let push = next(&mut incoming).await;
    assert_eq!(push.subscription, "laptop");
    check_vapid(&push, &public_key, &service);
    let shown = browser.read(&push);
    assert_eq!(shown["title"], "Bob mentioned you in #lounge");
    assert_eq!(shown["body"], format!("@{} lunch?", ada.username));
    assert_eq!(shown["url"], "/chat/lounge/#m1");
    assert_eq!(shown["tag"], "room:lounge");

    // Not pushed: what her level (mentions, a room's default) leaves out, and
    // anything while she has a tab open.
    bob_tab.say("just chatting").await;
    let mut ada_tab = Client::open(server.addr, "office", Some(&ada.cookie), "ada").await;
    ada_tab.join(None).await;
    eventually("Ada is online", || server.state.hub.is_online(ada_id)).await;
    // Cy, offline, is mentioned too: his push says the message has been dealt with.
    let cy = person(&server, "Cy").await;
    let reply = post_form(server.addr, "/api/join-room", &[("room", "lounge")], Some(&cy.cookie)).await;
    assert!(matches!(reply.status, 302 | 303), "{reply:?}");
    let cy_phone = Browser::new();
    cy_phone.subscribe(&server, &cy, &format!("{service}/push/cy-phone")).await;
    bob_tab.say(&format!("@{} are you there? @{}", ada.username, cy.username)).await;
    let push = next(&mut incoming).await;
    assert_eq!(push.subscription, "cy-phone", "Ada, online, is not pushed");
    assert_eq!(cy_phone.read(&push)["title"], "Bob mentioned you in #lounge");
    drop(ada_tab);
    eventually("Ada is offline", || !server.state.hub.is_online(ada_id)).await;

    // A second browser whose service says it is gone: pushed once, then forgotten.
    let old = Browser::new();
    old.subscribe(&server, &ada, &format!("{service}/push/gone")).await;
    bob_tab.say(&format!("@{} third", ada.username)).await;
    let mut pushed = [next(&mut incoming).await, next(&mut incoming).await];
    pushed.sort_by(|a, b| a.subscription.cmp(&b.subscription));
    assert_eq!(pushed[0].subscription, "gone");
    assert_eq!(old.read(&pushed[0])["body"], format!("@{} third", ada.username));
    assert_eq!(browser.read(&pushed[1])["body"], format!("@{} third", ada.username), "nothing pushed in between");
    for body in ["fourth", "fifth"] {
        bob_tab.say(&format!("@{} {body}", ada.username)).await;
        let push = next(&mut incoming).await;
        assert_eq!(
            (push.subscription.as_str(), browser.read(&push)["body"].clone()),
            ("laptop", format!("@{} {body}", ada.username).into())
        );
    }
    assert_eq!(hits.lock().unwrap().iter().filter(|h| *h == "gone").count(), 1, "the gone browser is forgotten");
    server.shut_down().await;
}

#[tokio::test]
async fn subscriptions_need_an_account_and_an_https_push_service() {
    let server = TestServer::start().await;
    let ada = person(&server, "Ada").await;
    let browser = Browser::new();
    let fields = |endpoint: &'static str| {
        [("endpoint", endpoint.to_owned()), ("p256dh", browser.p256dh()), ("auth", B64.encode(browser.auth))]
    };
    let send = |fields: [(&'static str, String); 3], cookie: Option<String>| async move {
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        post_form(server.addr, "/api/push-subscribe", &fields, cookie.as_deref()).await
    };
    assert!(send(fields("https://push.example/1"), None).await.body.contains("sign_in_required"));
    for endpoint in ["http://127.0.0.1:9/push", "https://10.0.0.1/push", "javascript:alert(1)"] {
        let reply = send(fields(endpoint), Some(ada.cookie.clone())).await;
        assert!(reply.body.contains("bad_subscription"), "{endpoint}: {reply:?}");
    }
    let mut bad_key = fields("https://push.example/1");
    bad_key[1].1 = "AAAA".into();
    assert!(send(bad_key, Some(ada.cookie.clone())).await.body.contains("bad_subscription"));
    assert_eq!(send(fields("https://push.example/1"), Some(ada.cookie.clone())).await.body, "null", "kept");
    server.shut_down().await;
}
