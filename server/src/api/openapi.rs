//! The API's OpenAPI 3.1 document, made from the handlers' own annotations
//! (utoipa), so it cannot drift from what they do: served at
//! `/api/v1/openapi.json` and fuzzed against the running server by the test
//! command (schemathesis).

use axum::Json;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::error::ErrorBody;
use super::types::{File, Message, MessagePage, NewMessage, Posted, Reaction, Room, RoomList};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Chat HTTP API",
        description = "Post messages, read rooms' history and list your rooms with a personal API token \
                       (made on your account page, /account). Send it as `Authorization: Bearer chat_pat_…`.",
        version = "1"
    ),
    paths(super::messages::rooms, super::messages::history, super::messages::post, super::hooks::incoming),
    components(schemas(ErrorBody, File, Message, MessagePage, NewMessage, Posted, Reaction, Room, RoomList, super::hooks::Incoming)),
    modifiers(&TokenAuth),
    tags((name = "rooms"), (name = "messages"), (name = "webhooks"))
)]
pub struct ApiDoc;

/// The bearer token scheme the paths name.
struct TokenAuth;

impl Modify for TokenAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.description = Some("A personal API token: chat_pat_ and 64 hex digits.".to_owned());
        components.add_security_scheme("token", SecurityScheme::Http(scheme));
    }
}

/// `GET /api/v1/openapi.json`.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
