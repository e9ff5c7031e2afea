//! One push to one subscription: the payload encrypted for the browser
//! (RFC 8291, aes128gcm, by `web-push-native`), signed with the server's VAPID
//! key, posted to the push service over HTTPS (hyper with rustls on ring and
//! the Mozilla roots), and the reply read as RFC 8030 says.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use web_push_native::{Auth, WebPushBuilder};

use super::vapid::Vapid;

/// How long a push service has to answer.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a push service keeps a message for a browser that is offline.
const TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// Longest endpoint URL accepted.
pub const MAX_ENDPOINT_LEN: usize = 1024;

pub type HttpClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

pub fn http_client() -> HttpClient {
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
        .expect("ring supports the default protocol versions")
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .build();
    Client::builder(TokioExecutor::new()).build(https)
}

/// A browser's subscription, as checked when it was saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub id: i64,
    pub endpoint: String,
    /// The browser's P-256 public key, base64url (65 bytes).
    pub p256dh: String,
    /// Its 16-byte authentication secret, base64url.
    pub auth: String,
}

/// Why a subscription is refused when a browser hands it in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadSubscription {
    #[error("the endpoint is not an https URL of a push service")]
    Endpoint,
    #[error("the browser's key is not a P-256 public key")]
    Key,
    #[error("the authentication secret is not 16 bytes")]
    Auth,
}

/// Checks what a browser handed in. `allow_http`: plain `http://` endpoints
/// too (a local push service in tests); otherwise `https://` and a host name
/// (not an address), so a client cannot make the server post into a network
/// of its choosing.
pub fn check(endpoint: &str, p256dh: &str, auth: &str, allow_http: bool) -> Result<(), BadSubscription> {
    let uri: http::Uri = endpoint.parse().map_err(|_| BadSubscription::Endpoint)?;
    let host = uri.host().ok_or(BadSubscription::Endpoint)?;
    let fine = endpoint.len() <= MAX_ENDPOINT_LEN
        && match uri.scheme_str() {
            Some("https") => allow_http || (host.parse::<std::net::IpAddr>().is_err() && !host.starts_with('[')),
            Some("http") => allow_http,
            _ => false,
        };
    if !fine {
        return Err(BadSubscription::Endpoint);
    }
    keys(p256dh, auth).map(|_| ())
}

/// The browser's public key and authentication secret, from their base64url.
fn keys(p256dh: &str, auth: &str) -> Result<(web_push_native::p256::PublicKey, Auth), BadSubscription> {
    let key = B64.decode(p256dh.trim_end_matches('=')).map_err(|_| BadSubscription::Key)?;
    let key = web_push_native::p256::PublicKey::from_sec1_bytes(&key).map_err(|_| BadSubscription::Key)?;
    let secret = B64.decode(auth.trim_end_matches('=')).map_err(|_| BadSubscription::Auth)?;
    if secret.len() != 16 {
        return Err(BadSubscription::Auth);
    }
    Ok((key, Auth::clone_from_slice(&secret)))
}

/// What became of a push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// The subscription is over (unsubscribed, expired): forget it.
    Gone,
    /// Not delivered this time (too large, throttled, the service failing, no
    /// answer); the reason, for the log.
    Failed(String),
}

/// Sends `payload` (JSON, well under 4 KB) to `subscription`, collapsing with
/// earlier pushes of the same `topic`.
pub async fn send(
    client: &HttpClient,
    vapid: &Vapid,
    subscription: &Subscription,
    topic: &str,
    payload: Vec<u8>,
) -> Outcome {
    let request = match build(vapid, subscription, topic, payload) {
        Ok(request) => request,
        // Checked when saved: only a subscription stored before a rule changed.
        Err(reason) => return Outcome::Failed(reason),
    };
    let reply = tokio::time::timeout(SEND_TIMEOUT, client.request(request.map(|body| Full::new(Bytes::from(body)))));
    let response = match reply.await {
        Ok(Ok(response)) => response,
        Ok(Err(error)) => return Outcome::Failed(format!("the push service could not be reached: {error}")),
        Err(_) => return Outcome::Failed("the push service did not answer in time".into()),
    };
    let status = response.status();
    match status.as_u16() {
        200..=299 => Outcome::Delivered,
        404 | 410 => Outcome::Gone,
        _ => {
            let body = match tokio::time::timeout(SEND_TIMEOUT, response.into_body().collect()).await {
                Ok(Ok(body)) => String::from_utf8_lossy(&body.to_bytes()).chars().take(200).collect(),
                _ => String::new(),
            };
            Outcome::Failed(format!("the push service answered {status}: {body}"))
        }
    }
}

fn build(
    vapid: &Vapid,
    subscription: &Subscription,
    topic: &str,
    payload: Vec<u8>,
) -> Result<http::Request<Vec<u8>>, String> {
    let endpoint: http::Uri = subscription.endpoint.parse().map_err(|_| "a bad endpoint".to_owned())?;
    let (key, auth) = keys(&subscription.p256dh, &subscription.auth).map_err(|refusal| refusal.to_string())?;
    let mut request = WebPushBuilder::new(endpoint.clone(), key, auth)
        .with_valid_duration(TTL)
        .build(payload)
        .map_err(|error| format!("could not encrypt: {error}"))?;
    let now_s = crate::clock::now().0 / 1000;
    let authorization = vapid.authorization(&endpoint, now_s).map_err(|error| error.to_string())?;
    let headers = request.headers_mut();
    headers.insert(http::header::AUTHORIZATION, authorization.parse().map_err(|_| "a bad token".to_owned())?);
    headers.insert("urgency", http::HeaderValue::from_static("high"));
    // A newer push of the same room replaces one the browser has not had yet.
    if let Ok(topic) = http::HeaderValue::from_str(topic) {
        headers.insert("topic", topic);
    }
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
    const AUTH: &str = "BTBZMqHH6r4Tts7J_aSIgg";

    #[test]
    fn subscriptions_are_checked_before_they_are_kept() {
        assert_eq!(check("https://fcm.googleapis.com/fcm/send/x", KEY, AUTH, false), Ok(()));
        for endpoint in ["http://push.example/x", "https://127.0.0.1/x", "https://[::1]/x", "ftp://a/x", "nonsense"] {
            assert_eq!(check(endpoint, KEY, AUTH, false), Err(BadSubscription::Endpoint), "{endpoint}");
        }
        assert_eq!(check("http://127.0.0.1:9/x", KEY, AUTH, true), Ok(()), "a local service, when allowed");
        let long = format!("https://push.example/{}", "x".repeat(MAX_ENDPOINT_LEN));
        assert_eq!(check(&long, KEY, AUTH, false), Err(BadSubscription::Endpoint));
        assert_eq!(check("https://push.example/x", "AAAA", AUTH, false), Err(BadSubscription::Key));
        assert_eq!(check("https://push.example/x", KEY, "AAAA", false), Err(BadSubscription::Auth));
        assert_eq!(check("https://push.example/x", KEY, "!!", false), Err(BadSubscription::Auth));
    }
}
