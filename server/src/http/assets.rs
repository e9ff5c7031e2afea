//! The site's own files under `/pkg/` (the WASM, its JavaScript, the
//! stylesheet) sent compressed to browsers that take it: brotli where they
//! take it (browsers offer it over HTTPS), else gzip. The page's WASM is
//! 1.3 MB as built, 500 KB gzipped, 417 KB in brotli: on a slow network
//! (Chrome's "Fast 3G") sending it raw took most of the room page's 10.4 s
//! to interactive. Each file is compressed once per encoding (gzip level 9,
//! brotli quality 9: quality 11 is another 10% smaller but takes 20 times as
//! long, 4.7 s for the WASM; on a blocking thread, on its first request) and
//! kept in memory with the file's modification time: a rebuilt file is
//! compressed again. Answered with an ETag and `no-cache`:
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
pub struct Compressed {
    files: Arc<Mutex<HashMap<PathBuf, Arc<Cached>>>>,
}

/// One file's compressed bytes, for the version modified at `modified`.
struct Cached {
    modified: SystemTime,
    gzip: OnceCell<Option<Bytes>>,
    brotli: OnceCell<Option<Bytes>>,
}

/// How a file is sent.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Coding {
    Gzip,
    Brotli,
}

impl Coding {
    fn name(self) -> &'static str {
        match self {
            Coding::Gzip => "gzip",
            Coding::Brotli => "br",
        }
    }
}

/// Smaller files are not worth it.
const FROM_BYTES: u64 = 1024;

pub async fn compressed_assets(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    // Every request passes here: the path first, the headers only for the site's files.
    let wanted = matches!(*request.method(), Method::GET | Method::HEAD) && path.starts_with("/pkg/");
    let Some(kind) = wanted.then(|| content_type(path)).flatten() else { return next.run(request).await };
    let coding = if accepts(&request, "br") {
        Coding::Brotli
    } else if accepts(&request, "gzip") {
        Coding::Gzip
    } else {
        return next.run(request).await;
    };
    let Some(file) = within(Path::new(state.leptos_options.site_root.as_ref()), path) else {
        return next.run(request).await;
    };
    let Ok(meta) = tokio::fs::metadata(&file).await else { return next.run(request).await };
    let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
    if meta.len() < FROM_BYTES {
        return next.run(request).await;
    }
    let cached = state.compressed.entry(&file, modified);
    let cell = match coding {
        Coding::Gzip => &cached.gzip,
        Coding::Brotli => &cached.brotli,
    };
    let compressed = cell
        .get_or_init(|| async {
            let source = file.clone();
            match tokio::task::spawn_blocking(move || compress(&source, coding)).await {
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
    let Some(compressed) = compressed.clone() else { return next.run(request).await };
    let stamp = modified.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let etag = format!("\"{stamp:x}-{:x}-{}\"", meta.len(), coding.name());
    let mut response = if request.headers().get(header::IF_NONE_MATCH).is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let length = compressed.len();
        let mut response =
            if request.method() == Method::HEAD { Response::default() } else { compressed.into_response() };
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(coding.name()));
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
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

impl Compressed {
    /// The entry for `file` as modified at `modified` (a new one if it changed).
    fn entry(&self, file: &Path, modified: SystemTime) -> Arc<Cached> {
        let mut files = self.files.lock().unwrap_or_else(PoisonError::into_inner);
        match files.get(file) {
            Some(cached) if cached.modified == modified => cached.clone(),
            _ => {
                let cached = Arc::new(Cached { modified, gzip: OnceCell::new(), brotli: OnceCell::new() });
                files.insert(file.to_owned(), cached.clone());
                cached
            }
        }
    }
}

/// Whether the request accepts the content coding `wanted`.
fn accepts(request: &Request, wanted: &str) -> bool {
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
            name.eq_ignore_ascii_case(wanted) && !refused
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

fn compress(path: &Path, coding: Coding) -> std::io::Result<Bytes> {
    let bytes = std::fs::read(path)?;
    let out = Vec::with_capacity(bytes.len() / 3);
    match coding {
        Coding::Gzip => {
            let mut encoder = flate2::write::GzEncoder::new(out, flate2::Compression::best());
            encoder.write_all(&bytes)?;
            Ok(Bytes::from(encoder.finish()?))
        }
        Coding::Brotli => {
            // Quality 9, a 4 MiB window (lgwin 22).
            let mut encoder = brotli::CompressorWriter::new(out, 64 * 1024, 9, 22);
            encoder.write_all(&bytes)?;
            encoder.flush()?;
            Ok(Bytes::from(encoder.into_inner()))
        }
    }
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
