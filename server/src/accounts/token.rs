//! Session tokens and the cookie that carries them. A token is 32 random bytes in
//! hex; the database keeps only its SHA-256, so a copy of the database signs
//! nobody in.

use http::header::COOKIE;
use http::HeaderMap;
use sha2::{Digest, Sha256};

pub const COOKIE_NAME: &str = "chat_session";

#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken(String);

/// What the database and the socket registry know a session by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionKey(pub String);

impl SessionToken {
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)?;
        Ok(SessionToken(hex::encode(bytes)))
    }

    pub fn key(&self) -> SessionKey {
        SessionKey(hex::encode(Sha256::digest(self.0.as_bytes())))
    }

    /// The token from a request's `Cookie` headers, if it has exactly one of the
    /// right form. Two session cookies mean one was planted (say, by a sibling
    /// subdomain): neither is trusted.
    pub fn from_headers(headers: &HeaderMap) -> Option<Self> {
        let mut values = headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .filter(|(name, _)| *name == COOKIE_NAME)
            .map(|(_, value)| value.trim_matches('"'));
        let value = values.next()?;
        if values.next().is_some() {
            return None;
        }
        (value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| SessionToken(value.to_ascii_lowercase()))
    }

    /// `Set-Cookie` for this token: script cannot read it, other sites' pages do
    /// not send it along (except plain top-level links), `Secure` over HTTPS.
    pub fn cookie(&self, max_age_secs: u64, secure: bool) -> String {
        let secure = if secure { "; Secure" } else { "" };
        format!("{COOKIE_NAME}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}", self.0)
    }
}

impl std::fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionToken(…)")
    }
}

/// `Set-Cookie` that removes the session cookie.
pub fn clearing_cookie(secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE_NAME}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}")
}

/// Whether the browser reached us over HTTPS: directly, or through a proxy that
/// says so. (A client can only make its own cookie stricter by faking this.)
pub fn is_https(headers: &HeaderMap) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_ascii_lowercase);
    header("x-forwarded-proto").is_some_and(|p| p.split(',').next().map(str::trim) == Some("https"))
        || header("forwarded").is_some_and(|f| f.contains("proto=https"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn tokens_are_random_and_keys_are_hashes() {
        let a = SessionToken::generate().unwrap();
        let b = SessionToken::generate().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.key(), a.key());
        assert_eq!(a.key().0.len(), 64);
        assert!(!a.key().0.contains(&a.0), "the key is not the token");
    }

    #[test]
    fn the_cookie_has_the_flags_and_reads_back() {
        let token = SessionToken::generate().unwrap();
        let cookie = token.cookie(3600, false);
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/"));
        assert!(!cookie.contains("Secure"));
        assert!(token.cookie(3600, true).ends_with("; Secure"));
        let pair = cookie.split(';').next().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, HeaderValue::from_str(&format!("theme=dark; {pair}; x=y")).unwrap());
        assert_eq!(SessionToken::from_headers(&headers), Some(token));
    }

    #[test]
    fn malformed_cookies_are_no_session() {
        for value in ["chat_session=short", "chat_session=", "other=1", "chat_session=zz".to_string().as_str()] {
            let mut headers = HeaderMap::new();
            headers.insert(COOKIE, HeaderValue::from_str(value).unwrap());
            assert_eq!(SessionToken::from_headers(&headers), None, "{value}");
        }
    }

    #[test]
    fn two_session_cookies_are_no_session() {
        let (a, b) = (SessionToken::generate().unwrap(), SessionToken::generate().unwrap());
        let mut headers = HeaderMap::new();
        let value = format!("{COOKIE_NAME}={}; {COOKIE_NAME}={}", a.0, b.0);
        headers.insert(COOKIE, HeaderValue::from_str(&value).unwrap());
        assert_eq!(SessionToken::from_headers(&headers), None);
    }

    #[test]
    fn https_is_seen_through_a_proxy() {
        let mut headers = HeaderMap::new();
        assert!(!is_https(&headers));
        headers.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert!(is_https(&headers));
    }
}
