//! `GET /ws/chat/{room}`: the WebSocket a room page opens.

mod limits;
mod origin;
mod rate;
mod session;

use axum::extract::{Path, State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;

use app::room_name::RoomName;

use crate::state::AppState;
pub use rate::{SENDS_PER_SECOND, SEND_BURST};
pub use session::{run_session, SessionContext, JOIN_TIMEOUT, MAX_REPLAY, WRITE_TIMEOUT};

pub async fn upgrade(
    ws: WebSocketUpgrade,
    Path(raw): Path<String>,
    headers: HeaderMap,
    State(state): State<AppState>,
) -> Response {
    // Cross-site WebSocket hijacking: a page on another site must not open a
    // socket with this site's cookies. Refused before anything is joined.
    if let Err(refusal) = origin::check(&headers, &state.allowed_origins) {
        tracing::info!(%refusal, "websocket upgrade refused");
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
    let context = SessionContext {
        room,
        hub: state.hub.clone(),
        shutdown: state.shutdown.clone(),
    };
    let sessions = state.sessions.clone();
    limits::apply(ws)
        .on_failed_upgrade(|error| tracing::debug!(%error, "websocket upgrade failed"))
        .on_upgrade(move |socket| {
            sessions.track_future(async move {
                let (sink, stream) = socket.split();
                run_session(sink, stream, context).await;
            })
        })
}
