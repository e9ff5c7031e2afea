//! `POST /hooks/{secret}`: a room's incoming webhook. Whoever holds the address
//! posts in the room as the webhook's bot: `{"text": "…"}`, or what Slack's
//! incoming webhooks take (`text`, else the text of `blocks` and
//! `attachments`; also as a form with a `payload` field), Slack's link and
//! escape syntax turned into Markdown. An `Idempotency-Key` header makes a
//! retried request one message. The bot's own send limit applies, and the
//! room's moderation, as to any member.

use app::protocol::ClientMsgId;
use app::room_name::RoomName;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap};
use axum::Json;
use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::secret::{hash_of, request_id, WEBHOOK_PREFIX};
use super::types::Posted;
use crate::http::ClientIp;
use crate::hub::Author;
use crate::state::AppState;

/// What a webhook takes: `{"text": "…"}`, with Slack's `blocks` and
/// `attachments` allowed beside it. (Slack's messages with blocks or
/// attachments and no text are taken too, their text posted; the document
/// describes the plain shape, which is what a request must have to be sure
/// of being posted.)
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct Incoming {
    /// Markdown (Slack's `<url|label>` links and `&lt;` escapes are understood).
    #[serde(default)]
    #[schema(required = true, min_length = 1, max_length = 4000, pattern = "\\S")]
    pub text: String,
    /// Slack's blocks: the text of `section`, `header` and `context` blocks is posted.
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>)]
    pub blocks: Option<Vec<Map<String, Value>>>,
    /// Slack's attachments: their `pretext`, `title` and `text` (or `fallback`).
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>)]
    pub attachments: Option<Vec<Map<String, Value>>>,
}

/// Posts in the webhook's room as its bot.
#[utoipa::path(post, path = "/hooks/{secret}", tag = "webhooks",
    params(("secret" = String, Path, description = "The webhook's secret, the last part of its address")),
    request_body(content = Incoming, content_type = "application/json"),
    responses(
        (status = 200, description = "Stored", body = Posted),
        (status = 400, description = "Nothing to post, or bad JSON", body = ErrorBody),
        (status = 404, description = "No such webhook", body = ErrorBody),
        (status = 413, description = "Too long", body = ErrorBody),
        (status = 429, description = "Too fast, or too many bad addresses", body = ErrorBody),
        (status = 503, description = "Unavailable", body = ErrorBody),
    ))]
pub async fn incoming(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(secret): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Posted>, ApiError> {
    state.api.guessing(ip)?;
    let Some(hash) = hash_of(&secret, WEBHOOK_PREFIX) else {
        return Err(state.api.bad_secret(ip, ApiError::NoSuchWebhook));
    };
    let Some(hook) = state.api.store().webhook(&hash).await? else {
        return Err(state.api.bad_secret(ip, ApiError::NoSuchWebhook));
    };
    state.api.touch(hook.id, true, hook.last_used_at).await;
    let text = message_text(&read(&headers, &body)?)
        .ok_or_else(|| ApiError::bad_request("empty_message", "Send some text: {\"text\": \"…\"}."))?;
    let room = RoomName::parse(&hook.room).map_err(|_| ApiError::Unavailable)?;
    let id = match headers.get("idempotency-key").and_then(|v| v.to_str().ok()) {
        Some(key) => ClientMsgId(key.to_owned()),
        None => ClientMsgId(request_id().map_err(|_| ApiError::Unavailable)?),
    };
    let appended = state.hub.submit(&Author::of(&hook.bot), &room, text, id).await?;
    crate::metrics::METRICS.api_posts.with_label_values(&["webhook"]).inc();
    Ok(Json(Posted { room: hook.room, duplicate: appended.duplicate, message: appended.message.into() }))
}

/// The request's message: JSON, or a form whose `payload` is JSON (Slack's other way).
fn read(headers: &HeaderMap, body: &[u8]) -> Result<Incoming, ApiError> {
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let json = if form {
        let payload = url::form_urlencoded::parse(body).find(|(name, _)| name == "payload").map(|(_, value)| value);
        payload.ok_or_else(|| ApiError::bad_request("bad_json", "A form needs a payload field of JSON."))?.into_owned()
    } else {
        String::from_utf8(body.to_vec()).map_err(|_| ApiError::bad_request("bad_json", "The body is not UTF-8."))?
    };
    serde_json::from_str(&json).map_err(|error| ApiError::bad_request("bad_json", format!("Bad JSON: {error}.")))
}

/// What to post: the text, else the blocks' and attachments' text, in Markdown.
fn message_text(incoming: &Incoming) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    if !incoming.text.trim().is_empty() {
        parts.push(incoming.text.clone());
    } else {
        for block in incoming.blocks.iter().flatten() {
            let kind = block.get("type").and_then(Value::as_str).unwrap_or_default();
            match kind {
                "section" | "header" => parts.extend(text_of(block.get("text"))),
                "context" => {
                    let elements = block.get("elements").and_then(Value::as_array).into_iter().flatten();
                    parts.extend(elements.filter_map(|element| text_of(Some(element))));
                }
                _ => {}
            }
        }
    }
    if parts.is_empty() {
        for attachment in incoming.attachments.iter().flatten() {
            let field = |name: &str| attachment.get(name).and_then(Value::as_str).filter(|t| !t.trim().is_empty());
            parts.extend(field("pretext").map(str::to_owned));
            parts.extend(field("title").map(|t| format!("**{t}**")));
            parts.extend(field("text").or_else(|| field("fallback")).map(str::to_owned));
        }
    }
    let text = slack_to_markdown(&parts.join("\n\n"));
    (!text.trim().is_empty()).then_some(text)
}

/// A block's `text` object's (or a text element's) words.
fn text_of(value: Option<&Value>) -> Option<String> {
    let text = value?.get("text")?.as_str()?;
    (!text.trim().is_empty()).then(|| text.to_owned())
}

/// Slack's `<url|label>` and `<url>` as Markdown links, and its three escapes undone.
fn slack_to_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('>') {
            Some(close) if after[..close].starts_with("http") && !after[..close].contains('<') => {
                let inner = &after[..close];
                match inner.split_once('|') {
                    Some((url, label)) => out.push_str(&format!("[{label}]({url})")),
                    None => out.push_str(inner),
                }
                rest = &after[close + 1..];
            }
            _ => {
                out.push('<');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incoming(json: &str) -> Incoming {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn text_is_posted_as_it_is() {
        assert_eq!(message_text(&incoming(r#"{"text": "Build **passed**"}"#)).as_deref(), Some("Build **passed**"));
        assert_eq!(message_text(&incoming(r#"{"text": "  "}"#)), None);
        assert_eq!(message_text(&incoming("{}")), None);
    }

    #[test]
    fn slack_links_and_escapes_become_markdown() {
        let text = message_text(&incoming(
            r#"{"text": "Deploy <https://ci.example/1|#1> done &amp; <https://x.example> a &lt;b&gt; <@U1>"}"#,
        ));
        assert_eq!(text.as_deref(), Some("Deploy [#1](https://ci.example/1) done & https://x.example a <b> <@U1>"));
    }

    #[test]
    fn blocks_and_attachments_stand_in_for_text() {
        let blocks = r#"{"blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "Alert"}},
            {"type": "divider"},
            {"type": "section", "text": {"type": "mrkdwn", "text": "CPU *high*"}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "host-1"}]}]}"#;
        assert_eq!(message_text(&incoming(blocks)).as_deref(), Some("Alert\n\nCPU *high*\n\nhost-1"));
        let attachments = r#"{"attachments": [{"fallback": "Plain", "title": "Title", "pretext": "Before"}]}"#;
        assert_eq!(message_text(&incoming(attachments)).as_deref(), Some("Before\n\n**Title**\n\nPlain"));
    }

    #[test]
    fn a_form_payload_is_read_as_json() {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, "application/x-www-form-urlencoded".parse().unwrap());
        let read = read(&headers, b"payload=%7B%22text%22%3A%22hi%22%7D").unwrap();
        assert_eq!(read.text, "hi");
        assert!(read_err(&headers, b"other=1"));
        assert!(read_err(&HeaderMap::new(), b"not json"));
    }

    fn read_err(headers: &HeaderMap, body: &[u8]) -> bool {
        matches!(read(headers, body), Err(ApiError::BadRequest { code: "bad_json", .. }))
    }
}
