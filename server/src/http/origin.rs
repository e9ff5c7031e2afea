//! Which pages may open the chat's WebSocket or post its forms: the site's own
//! (the request's `Host`), and any origin the operator allows explicitly. A request
//! without an `Origin` header does not come from a browser page, so it carries no
//! one's cookies by surprise; it is let through. The HTTP API and the webhooks
//! (`crate::api`) carry their own secrets, never a cookie: they are not checked.

use axum::extract::{Request, State};
use axum::http::header::{HOST, ORIGIN};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum OriginRefusal {
    #[error("Requests from pages of {0} are not allowed.")]
    Foreign(String),
    #[error("The Origin header is not readable.")]
    Unreadable,
}

pub fn check(headers: &HeaderMap, allowed: &[String]) -> Result<(), OriginRefusal> {
    let Some(origin) = headers.get(ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().map_err(|_| OriginRefusal::Unreadable)?;
    if allowed.iter().any(|a| a.eq_ignore_ascii_case(origin)) {
        return Ok(());
    }
    let same_site = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|host| {
            let rest = origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://"))?;
            Some(rest.eq_ignore_ascii_case(host))
        })
        .unwrap_or(false);
    if same_site {
        Ok(())
    } else {
        Err(OriginRefusal::Foreign(origin.to_owned()))
    }
}

/// A form post from another site's page is refused: it could otherwise post a
/// message as the visitor, sign them out, or sign them into an account of the
/// other site's choosing (login CSRF).
pub async fn same_origin_writes(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let reads = matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !reads && !crate::api::is_api_path(request.uri().path()) {
        if let Err(refusal) = check(request.headers(), &state.allowed_origins) {
            tracing::info!(%refusal, path = %request.uri().path(), "cross-site post refused");
            return (StatusCode::FORBIDDEN, refusal.to_string()).into_response();
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(HOST, host.parse().unwrap());
        if let Some(origin) = origin {
            h.insert(ORIGIN, origin.parse().unwrap());
        }
        h
    }

    #[test]
    fn the_site_itself_is_allowed() {
        assert_eq!(check(&headers(Some("http://chat.example:3000"), "chat.example:3000"), &[]), Ok(()));
        assert_eq!(check(&headers(Some("https://Chat.Example"), "chat.example"), &[]), Ok(()));
    }

    #[test]
    fn other_sites_are_refused_unless_allowed() {
        let evil = headers(Some("https://evil.example"), "chat.example");
        assert_eq!(check(&evil, &[]), Err(OriginRefusal::Foreign("https://evil.example".into())));
        assert_eq!(check(&evil, &["https://evil.example".into()]), Ok(()));
        // A look-alike is not the site.
        let prefix = headers(Some("http://chat.example.evil.example"), "chat.example");
        assert!(check(&prefix, &[]).is_err());
        let port = headers(Some("http://chat.example:4000"), "chat.example:3000");
        assert!(check(&port, &[]).is_err());
        assert!(check(&headers(Some("null"), "chat.example"), &[]).is_err());
    }

    #[test]
    fn clients_that_are_not_browsers_send_no_origin() {
        assert_eq!(check(&headers(None, "chat.example"), &[]), Ok(()));
    }
}
