//! `POST /chat/{room}/`: a message posted by the room page's form, so the room
//! works in a browser with scripts off (a hydrated page posts over its
//! WebSocket instead). Same rules as the socket: the author from the session
//! cookie, the hub's checks (id, body, rate), the same idempotency by the
//! form's id, the same writer; the Origin check is the site-wide one for every
//! write. Answered with a redirect back to the room (303), at the message when
//! it is stored, or with the refusal (as `?error=` JSON, and the draft when it
//! fits an address) for the page to show.

use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use app::error::ChatError;
use app::protocol::ClientMsgId;
use app::room_name::RoomName;

use crate::hub::{Author, SubmitError};
use crate::state::AppState;

/// A refused draft longer than this (in bytes) is not put in the address.
const MAX_DRAFT_IN_URL: usize = 2_000;

#[derive(Debug, Deserialize)]
pub struct MessageForm {
    /// The page's id for this message: a second post of the same form (a
    /// double click, a reload) is acknowledged again, never stored twice.
    pub id: String,
    pub body: String,
}

pub async fn post_message(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    Form(form): Form<MessageForm>,
) -> Response {
    let signed_in = match state.accounts.session_of(&headers).await {
        Ok(signed_in) => signed_in,
        Err(error) => return unavailable(&error.to_string()),
    };
    let author = signed_in.map(|s| Author::of(&s.account));
    // `/chat/@<username>/`: the poster's conversation with that person.
    let (room, back) = match raw.strip_prefix('@') {
        Some(username) => {
            let Some(me) = &author else {
                return back_with_refusal(&format!("/chat/@{username}/"), &ChatError::SignInRequired, &form.body);
            };
            match state.accounts.find(username).await {
                Ok(Some(other)) => (RoomName::direct(me.id.0, other.id.0), format!("/chat/@{}/", other.username)),
                Ok(None) => return (StatusCode::NOT_FOUND, "There is nobody with that username.").into_response(),
                Err(error) => return unavailable(&error.to_string()),
            }
        }
        None => match RoomName::parse(&raw) {
            Ok(room) => {
                let back = room.path();
                (room, back)
            }
            Err(error) => return (StatusCode::BAD_REQUEST, error.to_string()).into_response(),
        },
    };
    let refused = |error: ChatError| {
        tracing::debug!(code = error.code(), %room, "a form post was refused");
        back_with_refusal(&back, &error, &form.body)
    };
    let Some(me) = &author else { return refused(ChatError::SignInRequired) };
    match state.hub.submit(me, &room, form.body.clone(), ClientMsgId(form.id.clone())).await {
        Ok(appended) => Redirect::to(&format!("{back}#m{}", appended.message.seq.0)).into_response(),
        Err(SubmitError::Refused(error)) => refused(error),
        Err(SubmitError::Unavailable(_)) => unavailable("The server is restarting; post again shortly."),
    }
}

/// Back to the page at `back`, with the refusal (and the draft, when it fits
/// an address) for the page to show.
fn back_with_refusal(back: &str, error: &ChatError, body: &str) -> Response {
    let mut to = format!("{back}?error={}", app::url::encode(&error.to_json()));
    if body.len() <= MAX_DRAFT_IN_URL && !body.trim().is_empty() {
        to.push_str(&format!("&draft={}", app::url::encode(body)));
    }
    Redirect::to(&to).into_response()
}

fn unavailable(reason: &str) -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, [("retry-after", "5")], reason.to_owned()).into_response()
}
