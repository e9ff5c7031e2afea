//! `GET /ws/chat/{room}`: the WebSocket a room page opens.

mod caps;
mod limits;
mod session;

use std::net::IpAddr;

use axum::extract::{FromRequestParts, Path, State, WebSocketUpgrade};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use app::room_name::RoomName;

use crate::accounts::SessionToken;
use crate::hub::Author;
use crate::origin;
use crate::state::AppState;
pub use caps::{CapError, ConnectionCaps, ConnectionSlot};
pub use session::{run_session, SessionContext, JOIN_TIMEOUT, MAX_REPLAY, WRITE_TIMEOUT};

/// The address a request came from (unspecified when the server was not started
/// with connection info, as in some tests).
pub struct ClientIp(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(crate::accounts::client_ip(parts)))
    }
}

pub async fn upgrade(
    ws: WebSocketUpgrade,
    Path(raw): Path<String>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    State(state): State<AppState>,
) -> Response {
    // Cross-site WebSocket hijacking: a page on another site must not open a
    // socket with this site's cookies. Refused before anything is joined.
    if let Err(refusal) = origin::check(&headers, &state.allowed_origins) {
        tracing::info!(%refusal, %ip, "websocket upgrade refused");
        return (StatusCode::FORBIDDEN, refusal.to_string()).into_response();
    }
    let room = match RoomName::parse(&raw) {
        Ok(room) => room,
        Err(error) => return (StatusCode::BAD_REQUEST, error.to_string()).into_response(),
    };
    if state.shutdown.is_cancelled() {
        return (StatusCode::SERVICE_UNAVAILABLE, "The server is restarting; try again shortly.")
            .into_response();
    }
    // Who is posting comes from the session cookie, never from the frames. The
    // socket is registered under its session before the session is read, so a
    // sign-out at this very moment either ends it or leaves no session to find.
    let token = SessionToken::from_headers(&headers);
    let registration = token.as_ref().map(|t| state.accounts.sockets().register(t.key()));
    let signed_in = match &token {
        Some(token) => state.accounts.session(token).await,
        None => None,
    };
    let registration = registration.filter(|_| signed_in.is_some());
    let slot = match state.caps.open(signed_in.as_ref().map(|s| s.account.id), ip) {
        Ok(slot) => slot,
        Err(refusal) => {
            tracing::warn!(%refusal, %ip, "websocket upgrade over the connection cap");
            return (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "30")], refusal.to_string()).into_response();
        }
    };
    let session_expires = signed_in.as_ref().map(|s| {
        let left = s.expires_at.saturating_sub(crate::accounts::now_ms()).max(0) as u64;
        tokio::time::Instant::now() + std::time::Duration::from_millis(left)
    });
    let context = SessionContext {
        room,
        hub: state.hub.clone(),
        shutdown: state.shutdown.clone(),
        author: signed_in.map(|s| Author { id: s.account.id, display_name: s.account.display_name }),
        session_ended: registration.as_ref().map_or_else(CancellationToken::new, |r| r.ended.clone()),
        session_expires,
        sends: state.sends.clone(),
        ping_after: state.policy.ping_after,
        idle_timeout: state.policy.idle_timeout,
    };
    let sessions = state.sessions.clone();
    limits::apply(ws)
        .on_failed_upgrade(|error| tracing::debug!(%error, "websocket upgrade failed"))
        .on_upgrade(move |socket| {
            sessions.track_future(async move {
                // Held for as long as the socket is open.
                let _held = (slot, registration);
                let (sink, stream) = socket.split();
                run_session(sink, stream, context).await;
            })
        })
}
