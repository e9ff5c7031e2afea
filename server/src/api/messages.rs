//! `/api/v1/rooms…`: the rooms of the token's account, a room's history by
//! pages, and posting a message, with the same rules as a member's post.

use app::protocol::{ClientMsgId, Seq};
use app::room_name::RoomName;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;

use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use super::types::{MessagePage, NewMessage, PageQuery, Posted, RoomList, DEFAULT_PAGE, MAX_PAGE};
use crate::hub::Author;
use crate::state::AppState;

/// The rooms in the account's list, newest activity first.
#[utoipa::path(get, path = "/api/v1/rooms", tag = "rooms",
    security(("token" = ["read"])),
    responses(
        (status = 200, description = "The account's rooms", body = RoomList),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token may not read", body = ErrorBody),
        (status = 429, description = "Too many bad tokens", body = ErrorBody),
        (status = 503, description = "Unavailable", body = ErrorBody),
    ))]
pub async fn rooms(State(state): State<AppState>, caller: Caller) -> Result<Json<RoomList>, ApiError> {
    caller.may_read()?;
    let entries = state.hub.store().room_list(caller.account.id).await?;
    Ok(Json(RoomList { rooms: entries.into_iter().map(Into::into).collect() }))
}

/// A page of a room's messages, oldest first: the newest, or those before `before`.
#[utoipa::path(get, path = "/api/v1/rooms/{room}/messages", tag = "messages",
    security(("token" = ["read"])),
    params(("room" = String, Path, description = "A room's name (capitals read as small letters), or @username for a direct conversation", pattern = "^(@[a-z0-9_-]{1,64}|[A-Za-z0-9][A-Za-z0-9_-]{0,39})$"), PageQuery),
    responses(
        (status = 200, description = "The page", body = MessagePage),
        (status = 400, description = "A bad room name or parameter", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token may not read", body = ErrorBody),
        (status = 404, description = "No such person", body = ErrorBody),
        (status = 429, description = "Too many bad tokens", body = ErrorBody),
        (status = 503, description = "Unavailable", body = ErrorBody),
    ))]
pub async fn history(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<MessagePage>, ApiError> {
    caller.may_read()?;
    let Query(query) = query.map_err(|rejection| ApiError::bad_request("bad_query", rejection.body_text()))?;
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::bad_request("bad_query", format!("limit is 1 to {MAX_PAGE}.")));
    }
    if query.before == Some(0) {
        return Err(ApiError::bad_request("bad_query", "before is a seq, 1 or more."));
    }
    let room = room_at(&state, &caller, &raw).await?;
    let messages = state.hub.store().page(&room, query.before.map(Seq), limit).await?;
    let older = messages.first().map(|m| m.seq.0).filter(|&seq| seq > 1);
    Ok(Json(MessagePage { room: raw, messages: messages.into_iter().map(Into::into).collect(), older }))
}

/// Posts a message as the token's account. Stored before it is answered, and
/// seen at once by everyone in the room.
#[utoipa::path(post, path = "/api/v1/rooms/{room}/messages", tag = "messages",
    security(("token" = ["post"])),
    params(("room" = String, Path, description = "A room's name (capitals read as small letters), or @username for a direct conversation", pattern = "^(@[a-z0-9_-]{1,64}|[A-Za-z0-9][A-Za-z0-9_-]{0,39})$")),
    request_body = NewMessage,
    responses(
        (status = 201, description = "Stored", body = Posted),
        (status = 200, description = "A repeat of an id already stored: the first post", body = Posted),
        (status = 400, description = "A bad room name, body or id", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token may not post, or the account is removed from the room", body = ErrorBody),
        (status = 404, description = "No such person", body = ErrorBody),
        (status = 413, description = "The request body is over 64 KiB", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 429, description = "Too fast (rate limit, slow mode, bad tokens)", body = ErrorBody),
        (status = 503, description = "Unavailable", body = ErrorBody),
    ))]
pub async fn post(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
    body: Result<Json<NewMessage>, JsonRejection>,
) -> Result<(StatusCode, Json<Posted>), ApiError> {
    caller.may_post()?;
    let Json(new) = body.map_err(json_refusal)?;
    let room = room_at(&state, &caller, &raw).await?;
    let id = match new.id {
        Some(id) => ClientMsgId(id),
        None => ClientMsgId(super::secret::request_id().map_err(|_| ApiError::Unavailable)?),
    };
    let author = Author::of(&caller.account);
    let appended = state.hub.submit(&author, &room, new.text, id).await?;
    crate::metrics::METRICS.api_posts.with_label_values(&["api"]).inc();
    let status = if appended.duplicate { StatusCode::OK } else { StatusCode::CREATED };
    Ok((status, Json(Posted { room: raw, duplicate: appended.duplicate, message: appended.message.into() })))
}

/// A JSON body that could not be read, as the API's error.
pub fn json_refusal(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => ApiError::NotJson,
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge,
        other => ApiError::bad_request("bad_json", other.body_text()),
    }
}

/// The room a path names: a room's name, or `@username` (the caller's
/// conversation with that person).
async fn room_at(state: &AppState, caller: &Caller, raw: &str) -> Result<RoomName, ApiError> {
    match raw.strip_prefix('@') {
        Some(username) => match state.accounts.find(username).await {
            Ok(Some(other)) => Ok(RoomName::direct(caller.account.id.0, other.id.0)),
            Ok(None) => Err(ApiError::NoSuchPerson),
            Err(_) => Err(ApiError::Unavailable),
        },
        None => {
            // The pages forgive spaces typed around a name; an address is not
            // typed, and its document says a name has none (a space kept out
            // here is one the answer would otherwise echo).
            if let Some(bad) = raw.chars().find(|c| c.is_whitespace()) {
                let error = app::room_name::RoomNameError::InvalidCharacter { name: raw.to_owned(), bad };
                return Err(ApiError::bad_request("bad_room_name", error.to_string()));
            }
            RoomName::parse(raw).map_err(|error| ApiError::bad_request("bad_room_name", error.to_string()))
        }
    }
}
