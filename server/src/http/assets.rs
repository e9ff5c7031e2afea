//! The site's own files under `/pkg/` (the WASM, its JavaScript, the
//! stylesheet) sent gzipped to browsers that take it. The page's WASM is
//! 1.3 MB as built and under 0.5 MB gzipped: on a slow network (Chrome's
//! "Fast 3G") sending it raw took most of the room page's 10.4 s to
//! interactive. Each file is compressed once (level 9, on a blocking thread,
//! on its first request) and kept in memory with the file's modification time:
//! a rebuilt file is compressed again. Answered with an ETag and `no-cache`:
//! the names do not change between builds, so a browser asks each time and
//! is answered 304 while it has the current one. Anything else, or a browser
//! that does not take gzip, gets the plain file from Leptos' file handler.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use tokio::sync::OnceCell;

use crate::state::AppState;

/// The compressed files, by path.
#[derive(Clone, Default)]
pub struct Gzipped {
    files: Arc<Mutex<HashMap<PathBuf, Arc<Cached>>>>,
}

/// One file's compressed bytes, for the version modified at `modified`.
struct Cached {
    modified: SystemTime,
    gzip: OnceCell<Option<Bytes>>,
}

/// Smaller files are not worth it.
const FROM_BYTES: u64 = 1024;

pub async fn gzip_assets(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let wanted =
        matches!(*request.method(), Method::GET | Method::HEAD) && path.starts_with("/pkg/") && accepts_gzip(&request);
    let Some(kind) = wanted.then(|| content_type(path)).flatten() else { return next.run(request).await };
    let Some(file) = within(Path::new(state.leptos_options.site_root.as_ref()), path) else {
        return next.run(request).await;
    };
    let Ok(meta) = tokio::fs::metadata(&file).await else { return next.run(request).await };
    let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
    if meta.len() < FROM_BYTES {
        return next.run(request).await;
    }
    let cached = state.gzipped.entry(&file, modified);
    let gzip = cached
        .gzip
        .get_or_init(|| async {
            let source = file.clone();
            match tokio::task::spawn_blocking(move || compress(&source)).await {
                Ok(Ok(bytes)) => Some(bytes),
                Ok(Err(error)) => {
                    tracing::warn!(%error, path = %file.display(), "could not compress a file of the site");
                    None
                }
                Err(error) => {
                    tracing::error!(%error, "compressing a file of the site failed");
                    None
                }
            }
        })
        .await;
    let Some(gzip) = gzip.clone() else { return next.run(request).await };
    let stamp = modified.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let etag = format!("\"{stamp:x}-{:x}-gz\"", meta.len());
    let mut response = if request.headers().get(header::IF_NONE_MATCH).is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut response =
            if request.method() == Method::HEAD { Response::default() } else { gzip.clone().into_response() };
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(gzip.len()));
        response
    };
    let headers = response.headers_mut();
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    response
}

impl Gzipped {
    /// The entry for `file` as modified at `modified` (a new one if it changed).
    fn entry(&self, file: &Path, modified: SystemTime) -> Arc<Cached> {
        let mut files = self.files.lock().unwrap_or_else(PoisonError::into_inner);
        match files.get(file) {
            Some(cached) if cached.modified == modified => cached.clone(),
            _ => {
                let cached = Arc::new(Cached { modified, gzip: OnceCell::new() });
                files.insert(file.to_owned(), cached.clone());
                cached
            }
        }
    }
}

fn accepts_gzip(request: &Request) -> bool {
    request
        .headers()
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';');
            let name = parts.next().unwrap_or_default().trim();
            // `gzip;q=0` refuses it.
            let refused = parts.any(|p| matches!(p.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"));
            name.eq_ignore_ascii_case("gzip") && !refused
        })
}

fn content_type(path: &str) -> Option<&'static str> {
    match path.rsplit('.').next()? {
        "wasm" => Some("application/wasm"),
        "js" => Some("text/javascript"),
        "css" => Some("text/css"),
        _ => None,
    }
}

/// The file `path` names under `root`: plain names only (no `..`).
fn within(root: &Path, path: &str) -> Option<PathBuf> {
    let relative = Path::new(path.trim_start_matches('/'));
    relative.components().all(|c| matches!(c, Component::Normal(_))).then(|| root.join(relative))
}

fn compress(path: &Path) -> std::io::Result<Bytes> {
    let bytes = std::fs::read(path)?;
    let mut encoder = flate2::write::GzEncoder::new(Vec::with_capacity(bytes.len() / 3), flate2::Compression::best());
    encoder.write_all(&bytes)?;
    Ok(Bytes::from(encoder.finish()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_names_under_the_root() {
        let root = Path::new("/site");
        assert_eq!(within(root, "/pkg/chat.wasm"), Some(PathBuf::from("/site/pkg/chat.wasm")));
        assert_eq!(within(root, "/pkg/../../etc/passwd"), None);
        assert_eq!(content_type("/pkg/chat.wasm"), Some("application/wasm"));
        assert_eq!(content_type("/pkg/x.json"), None);
    }
}
