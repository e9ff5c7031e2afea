//! Files and images in messages: `POST /files?room=&name=` takes an upload
//! (the raw bytes as the body, so a page can show its progress), and
//! `GET /files/{id}/{name}` and `GET /files/{id}/thumb` serve it.
//!
//! An upload is its sender's, to one room: it is checked as a post is (signed
//! in, may read the room, not removed), limited in size (413 as soon as the
//! declared length says so, or once the bytes pass it), in number (per
//! account) and in what one account's files add up to. Its type is read
//! from its content; an image gets a thumbnail made here (see
//! [`thumbnail`]), and one too large to decode is refused; a JPEG's or PNG's
//! metadata is removed from the original too ([`strip`]). A message then
//! names it (`send` with `file`).
//!
//! Serving: only to whoever may read the room (a direct conversation's files
//! to its two people), with the type read from the content, `nosniff`, a
//! policy that runs nothing (`sandbox`), and as a download unless it is an
//! image a browser shows without running anything.

mod blobs;
mod kind;
mod strip;
mod thumbnail;

pub use blobs::Blobs;

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use app::error::ChatError;
use app::protocol::{Attachment, Timestamp};
use app::room_name::RoomName;

use crate::accounts::Accounts;
use crate::hub::SharedStore;
use crate::limits::KeyedBuckets;
use crate::policy::Policy;
use crate::state::AppState;
use crate::store::Upload;
use blobs::StageError;

/// Longest upload id a message may name (they are 22 characters).
pub const MAX_ID_LEN: usize = 32;

/// An upload never posted is forgotten after this long.
const UNSENT_FOR_MS: i64 = 24 * 3600 * 1000;

/// How many thumbnails are made at once (each may take a core and a few
/// hundred MB while it decodes).
const THUMBNAILERS: usize = 2;

/// Served files: what a file's page may do (nothing).
const FILE_CSP: &str = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox";

/// Kept by the reader's browser, and asked again on every use: a deleted
/// file is gone at the next look (and one still there costs a 304).
const CACHING: &str = "private, no-cache";

/// The uploads' limits and their contents' place.
#[derive(Clone)]
pub struct Files {
    blobs: Blobs,
    store: SharedStore,
    accounts: Accounts,
    max_bytes: u64,
    quota_bytes: u64,
    uploads: Arc<KeyedBuckets<i64>>,
    thumbnailers: Arc<tokio::sync::Semaphore>,
}

#[derive(Debug, Deserialize)]
pub struct UploadQuery {
    /// The room's key, as the page's socket names it.
    room: String,
    /// The name it was picked or dropped under.
    #[serde(default)]
    name: String,
}

impl Files {
    pub fn new(blobs: Blobs, store: SharedStore, accounts: Accounts, policy: &Policy) -> Self {
        Files {
            blobs,
            store,
            accounts,
            max_bytes: policy.max_upload_bytes,
            quota_bytes: policy.upload_quota_bytes,
            uploads: Arc::new(KeyedBuckets::new(policy.upload_burst, policy.uploads_per_second)),
            thumbnailers: Arc::new(tokio::sync::Semaphore::new(THUMBNAILERS)),
        }
    }

    async fn accept(&self, headers: &HeaderMap, query: UploadQuery, body: Body) -> Result<Attachment, Refusal> {
        let signed_in = self.accounts.session_of(headers).await.map_err(Refusal::unavailable)?;
        let me = signed_in.ok_or(Refusal(StatusCode::UNAUTHORIZED, ChatError::SignInRequired))?.account;
        let room = RoomName::parse_key(&query.room)
            .map_err(|e| Refusal(StatusCode::BAD_REQUEST, ChatError::Malformed { detail: e.to_string() }))?;
        if !room.readable_by(Some(me.id.0)) {
            return Err(Refusal(StatusCode::FORBIDDEN, ChatError::NoSuchFile));
        }
        let now = crate::clock::now();
        if self.store.standing(&room, me.id, now).await.map_err(Refusal::unavailable)?.removed.is_some() {
            return Err(Refusal(StatusCode::FORBIDDEN, ChatError::Removed));
        }
        // The body is taken as it is sent: an encoded one would be a bomb to
        // inflate, and is refused.
        if headers.get(header::CONTENT_ENCODING).is_some_and(|e| e.as_bytes() != b"identity") {
            let detail = "uploads are sent without a Content-Encoding".to_owned();
            return Err(Refusal(StatusCode::UNSUPPORTED_MEDIA_TYPE, ChatError::Malformed { detail }));
        }
        let too_large = Refusal(StatusCode::PAYLOAD_TOO_LARGE, ChatError::FileTooLarge { max_bytes: self.max_bytes });
        let declared =
            headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > self.max_bytes) {
            return Err(too_large);
        }
        if let Err(wait) = self.uploads.take(&me.id.0, Instant::now()) {
            let retry_after_ms = wait.as_millis().max(1) as u64;
            return Err(Refusal(StatusCode::TOO_MANY_REQUESTS, ChatError::RateLimited { retry_after_ms }));
        }
        let used =
            self.store.uploads_used(me.id, Timestamp(now.0 - UNSENT_FOR_MS)).await.map_err(Refusal::unavailable)?;
        let over_quota =
            Refusal(StatusCode::PAYLOAD_TOO_LARGE, ChatError::QuotaExceeded { quota_bytes: self.quota_bytes });
        if used + declared.unwrap_or(0) > self.quota_bytes {
            return Err(over_quota);
        }
        let mut staged = match self.blobs.stage(body.into_data_stream(), self.max_bytes).await {
            Ok(staged) => staged,
            Err(StageError::TooLarge(_)) => return Err(too_large),
            Err(StageError::Body(reason)) => {
                tracing::debug!(%reason, "an upload was cut off");
                return Err(Refusal(StatusCode::BAD_REQUEST, ChatError::Malformed { detail: reason }));
            }
            Err(StageError::Io(error)) => {
                tracing::error!(%error, "an upload could not be written");
                return Err(Refusal(StatusCode::SERVICE_UNAVAILABLE, ChatError::StoreUnavailable));
            }
        };
        if used + staged.size > self.quota_bytes {
            return Err(over_quota);
        }
        let mime = kind::sniff(&staged.head);
        let mut thumb = None;
        if let Some(format) = kind::image_format(&mime) {
            let _permit = self.thumbnailers.acquire().await.map_err(|_| Refusal::closing())?;
            let (path, kind) = (staged.temp.clone(), mime.clone());
            // The thumbnail, and the original without its metadata (kept
            // upright): both on a blocking thread.
            let made = tokio::task::spawn_blocking(move || {
                let thumb = thumbnail::make(&path, format)?;
                let bytes = std::fs::read(&path).map_err(|_| ChatError::BadImage)?;
                Ok::<_, ChatError>((strip::strip(&bytes, &kind, thumb.orientation), thumb))
            })
            .await
            .map_err(|error| {
                tracing::error!(%error, "making a thumbnail failed");
                Refusal(StatusCode::UNPROCESSABLE_ENTITY, ChatError::BadImage)
            })?
            .map_err(|refusal| Refusal(StatusCode::UNPROCESSABLE_ENTITY, refusal))?;
            let (stripped, made) = made;
            if let Some(bytes) = stripped {
                self.blobs.restage(&mut staged, bytes).await.map_err(Refusal::io)?;
            }
            thumb = Some(made);
        }
        // From the thumbnail's bytes to the original's: no removal of a
        // content nobody named a moment ago takes them away meanwhile.
        let _naming = self.blobs.naming().await;
        let thumb_hash = match &thumb {
            Some(made) => Some(self.blobs.put(&made.bytes).await.map_err(Refusal::io)?),
            None => None,
        };
        let upload = Upload {
            account: me.id,
            room: room.as_str().to_owned(),
            seq: None,
            hash: staged.hash.clone(),
            thumb_hash,
            file: Attachment {
                id: new_id(),
                name: kind::clean_name(&query.name),
                size: staged.size,
                mime,
                thumb: thumb.map(|t| (t.width, t.height)),
            },
            created_at: now,
        };
        // The record first, then the content in its place: a content is never
        // there without an upload naming it (but for a crash between the two).
        self.store.add_upload(&upload).await.map_err(Refusal::unavailable)?;
        self.blobs.keep(staged).await.map_err(Refusal::io)?;
        tracing::debug!(id = upload.file.id, size = upload.file.size, mime = upload.file.mime, "file uploaded");
        Ok(upload.file)
    }

    /// The upload `id` for whoever sent `headers`, if they may read it.
    async fn readable(&self, headers: &HeaderMap, id: &str) -> Result<Upload, Refusal> {
        let missing = Refusal(StatusCode::NOT_FOUND, ChatError::NoSuchFile);
        if id.len() > MAX_ID_LEN {
            return Err(missing);
        }
        let upload = self.store.upload(id).await.map_err(Refusal::unavailable)?.ok_or(missing.clone())?;
        let viewer = self.accounts.session_of(headers).await.map_err(Refusal::unavailable)?.map(|s| s.account.id);
        // Not posted yet: its uploader's alone.
        if upload.seq.is_none() && viewer != Some(upload.account) {
            return Err(missing);
        }
        let room = RoomName::parse_key(&upload.room).map_err(|_| missing.clone())?;
        if !room.readable_by(viewer.map(|v| v.0)) {
            return Err(missing);
        }
        if let Some(viewer) = viewer {
            let standing = self.store.standing(&room, viewer, crate::clock::now()).await;
            if standing.map_err(Refusal::unavailable)?.removed.is_some() {
                return Err(Refusal(StatusCode::FORBIDDEN, ChatError::Removed));
            }
        }
        Ok(upload)
    }

    /// The response carrying the content `hash`, of type `mime` (a thumbnail,
    /// `None`: a PNG or a JPEG, told by its first bytes), or 304 when the
    /// asker has it (its ETag is the hash).
    async fn send(
        &self,
        hash: &str,
        mime: Option<&str>,
        name: Option<&str>,
        asked: &HeaderMap,
    ) -> Result<Response, Refusal> {
        let etag = format!("\"{hash}\"");
        if asked.get(header::IF_NONE_MATCH).is_some_and(|v| v.as_bytes() == etag.as_bytes()) {
            let mut response = StatusCode::NOT_MODIFIED.into_response();
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(CACHING));
            if let Ok(value) = HeaderValue::from_str(&etag) {
                response.headers_mut().insert(header::ETAG, value);
            }
            return Ok(response);
        }
        let mut file = tokio::fs::File::open(self.blobs.path(hash)).await.map_err(|error| {
            tracing::error!(%error, hash, "a file's content is missing");
            Refusal(StatusCode::NOT_FOUND, ChatError::NoSuchFile)
        })?;
        let len = file.metadata().await.map_err(Refusal::io)?.len();
        let mime = match mime {
            Some(mime) => mime,
            None => thumb_type(&mut file).await.map_err(Refusal::io)?,
        };
        let disposition = match name {
            Some(name) if !kind::is_inline(mime) => format!("attachment; filename*=UTF-8''{}", app::url::encode(name)),
            Some(name) => format!("inline; filename*=UTF-8''{}", app::url::encode(name)),
            None => "inline".to_owned(),
        };
        let mut response = Body::from_stream(tokio_util::io::ReaderStream::new(file)).into_response();
        let headers = response.headers_mut();
        let served = kind::served_type(mime);
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_str(served).unwrap_or(HeaderValue::from_static("application/octet-stream")),
        );
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
        if let Ok(value) = HeaderValue::from_str(&disposition) {
            headers.insert(header::CONTENT_DISPOSITION, value);
        }
        headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(FILE_CSP));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(CACHING));
        if let Ok(value) = HeaderValue::from_str(&etag) {
            headers.insert(header::ETAG, value);
        }
        Ok(response)
    }
}

/// A refused request: its status and why, as JSON the page reads.
#[derive(Debug, Clone)]
struct Refusal(StatusCode, ChatError);

impl Refusal {
    fn unavailable(error: impl std::fmt::Display) -> Self {
        tracing::warn!(%error, "a file request found the store unavailable");
        Refusal(StatusCode::SERVICE_UNAVAILABLE, ChatError::StoreUnavailable)
    }

    fn io(error: std::io::Error) -> Self {
        tracing::error!(%error, "a file could not be kept or read");
        Refusal(StatusCode::SERVICE_UNAVAILABLE, ChatError::StoreUnavailable)
    }

    fn closing() -> Self {
        Refusal(StatusCode::SERVICE_UNAVAILABLE, ChatError::StoreUnavailable)
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (self.0, [(header::CONTENT_TYPE, "application/json")], self.1.to_json()).into_response()
    }
}

/// 128 random bits, base64url: an address nobody guesses.
fn new_id() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the system's randomness is there");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// `POST /files?room=&name=`: answers the attachment as JSON, or the refusal.
pub async fn upload(
    State(state): State<AppState>,
    Query(query): Query<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match state.files.accept(&headers, query, body).await {
        Ok(file) => axum::Json(file).into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

/// `GET /files/{id}/{name}`: the file itself (`name` is only for the reader).
pub async fn download(
    State(state): State<AppState>,
    Path((id, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let files = &state.files;
    let served = async {
        let upload = files.readable(&headers, &id).await?;
        if name == "thumb" {
            let hash = upload.thumb_hash.ok_or(Refusal(StatusCode::NOT_FOUND, ChatError::NoSuchFile))?;
            files.send(&hash, None, None, &headers).await
        } else {
            files.send(&upload.hash, Some(&upload.file.mime), Some(&upload.file.name), &headers).await
        }
    };
    served.await.unwrap_or_else(IntoResponse::into_response)
}

/// A thumbnail is a PNG or a JPEG: which, by its first bytes (the file is
/// left at its start, to be sent).
async fn thumb_type(file: &mut tokio::fs::File) -> std::io::Result<&'static str> {
    use tokio::io::{AsyncReadExt, AsyncSeekExt};
    let mut head = [0u8; 4];
    let read = file.read(&mut head).await?;
    file.seek(std::io::SeekFrom::Start(0)).await?;
    Ok(if head[..read].starts_with(b"\x89PNG") { "image/png" } else { "image/jpeg" })
}
