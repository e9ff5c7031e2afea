//! `GET /ws/chat/{room}`: the WebSocket a room page opens.

mod incoming;
mod limits;
mod list;
mod minor;
mod posting;
mod replay;
mod session;
#[cfg(test)]
mod tests;
mod writer;

use std::net::IpAddr;

use axum::extract::{Path, State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::{FutureExt, StreamExt};

use app::error::ChatError;
use app::room_name::RoomName;

use crate::accounts::SessionToken;
use crate::http::{origin, ClientIp};
use crate::hub::Author;
use crate::limits::CapError;
use crate::state::AppState;
pub use replay::MAX_REPLAY;
pub use session::{run_session, SessionContext, JOIN_TIMEOUT};
pub use writer::WRITE_TIMEOUT;

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
    // A typed room name, or a direct conversation (`@<id>.<id>`), checked
    // against the session below.
    let room = match RoomName::parse_key(&raw) {
        Ok(room) => room,
        Err(error) => return (StatusCode::BAD_REQUEST, error.to_string()).into_response(),
    };
    if state.shutdown.is_cancelled() {
        return (StatusCode::SERVICE_UNAVAILABLE, "The server is restarting; try again shortly.").into_response();
    }
    // The address's cap first: a flood of upgrades from one address costs no
    // database read.
    let mut slot = match state.caps.open(ip) {
        Ok(slot) => slot,
        Err(refusal) => return over_cap(refusal, ip),
    };
    // Who is posting comes from the session cookie, never from the frames. The
    // socket is registered under its session before the session is read, so a
    // sign-out at this very moment either ends it or leaves no session to find.
    let token = SessionToken::from_headers(&headers);
    let registration = token.as_ref().map(|t| state.accounts.sockets().register(t.key()));
    let signed_in = match &token {
        Some(token) => match state.accounts.session(token).await {
            Ok(signed_in) => signed_in,
            // Not "signed out": the page would show a reader's view to someone
            // signed in. It retries instead.
            Err(error) => {
                tracing::warn!(%error, %ip, "websocket upgrade refused: sessions unreadable");
                return (StatusCode::SERVICE_UNAVAILABLE, [("retry-after", "5")], error.to_string()).into_response();
            }
        },
        None => None,
    };
    let registration = registration.filter(|_| signed_in.is_some());
    if !room.readable_by(signed_in.as_ref().map(|s| s.account.id.0)) {
        let status = if signed_in.is_some() { StatusCode::FORBIDDEN } else { StatusCode::UNAUTHORIZED };
        tracing::info!(%ip, %room, "websocket upgrade refused: a conversation of others");
        return (status, "This conversation is private to its two people.").into_response();
    }
    let mut moderator = false;
    if let Some(signed_in) = &signed_in {
        // Removed from the room by a moderator: not back until the time is up.
        match state.hub.store().standing(&room, signed_in.account.id, crate::clock::now()).await {
            Ok(standing) if standing.removed.is_some() => {
                tracing::info!(%ip, %room, "websocket refused: removed from the room");
                return told_and_closed(ws, &state, ChatError::Removed);
            }
            Ok(standing) => {
                moderator = standing.moderator;
                state.hub.set_slow_mode(&room, standing.slow_mode_s);
            }
            Err(error) => {
                tracing::warn!(%error, %ip, "websocket upgrade refused: the store is not answering");
                return (StatusCode::SERVICE_UNAVAILABLE, [("retry-after", "5")], error.to_string()).into_response();
            }
        }
        if let Err(refusal) = slot.signed_in(signed_in.account.id) {
            return over_cap(refusal, ip);
        }
    }
    let session_expires = signed_in.as_ref().map(|s| {
        let left = s.expires_at.saturating_sub(crate::accounts::now_ms()).max(0) as u64;
        tokio::time::Instant::now() + std::time::Duration::from_millis(left)
    });
    let context = SessionContext {
        room,
        hub: state.hub.clone(),
        shutdown: state.shutdown.clone(),
        author: signed_in.as_ref().map(|s| Author::of(&s.account)),
        session_ended: registration.as_ref().map(|r| r.ended.clone()),
        session_expires,
        ping_after: state.policy.ping_after,
        idle_timeout: state.policy.idle_timeout,
        moderator,
    };
    let sessions = state.sessions.clone();
    // Seen now, and again when the socket closes.
    let seen = signed_in.as_ref().map(|s| {
        state.seen.mark(s.account.id);
        crate::admin::seen::SeenUntilDropped(state.seen.clone(), s.account.id)
    });
    // The upgrade keeps its callback for as long as the socket is open, after
    // the callback has run: one box, freed by the call, rather than the whole
    // context a second time per connection.
    let handover = Box::new((slot, registration, context, seen));
    limits::apply(ws).on_failed_upgrade(|error| tracing::debug!(%error, "websocket upgrade failed")).on_upgrade(
        move |socket| {
            let (slot, registration, context, seen) = *handover;
            // Held for as long as the socket is open.
            let held = (slot, registration, crate::memory::SocketMemory::track(), seen);
            let (sink, stream) = socket.split();
            sessions.track_future(run_session(sink, stream, context).map(move |()| drop(held)))
        },
    )
}

/// Opens the socket only to say why it closes: a page reads the reason from a
/// frame (a refused upgrade shows it nothing but a failure, and it retries).
fn told_and_closed(ws: WebSocketUpgrade, state: &AppState, refusal: ChatError) -> Response {
    use axum::extract::ws::{close_code, CloseFrame, Message};
    use futures::SinkExt;
    let sessions = state.sessions.clone();
    limits::apply(ws).on_upgrade(move |socket| {
        sessions.track_future(async move {
            let (mut sink, _) = socket.split();
            let told = Message::Text(app::protocol::ServerMsg::error(refusal).to_json().into());
            let close = Message::Close(Some(CloseFrame { code: close_code::POLICY, reason: "refused".into() }));
            if let Err(error) = sink.send(told).await.and(sink.send(close).await) {
                tracing::debug!(%error, "the refused socket went first");
            }
        })
    })
}

fn over_cap(refusal: CapError, ip: IpAddr) -> Response {
    tracing::warn!(%refusal, %ip, "websocket upgrade over the connection cap");
    let kind = match refusal {
        CapError::Account(_) => "account_cap",
        CapError::Ip(_) => "address_cap",
    };
    crate::metrics::METRICS.refusals.with_label_values(&[kind]).inc();
    (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "30")], refusal.to_string()).into_response()
}
