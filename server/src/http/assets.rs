//! The site's own files under `/pkg/` (the WASM, its JavaScript, the
//! stylesheet) sent compressed to browsers that take it: brotli where they
//! take it (browsers offer it over HTTPS), else gzip. The page's WASM is
//! 1.3 MB as built, 500 KB gzipped, 417 KB in brotli: on a slow network
//! (Chrome's "Fast 3G") sending it raw took most of the room page's 10.4 s
//! to interactive. Each file is compressed once per encoding (gzip level 9,
//! brotli quality 9; on a blocking thread, on its first request) and kept in
//! memory with the file's modification time: a rebuilt file is compressed
//! again. Brotli's best quality (11) is another 10% smaller (the room page's
//! WASM: 366,882 → 329,213 B, 0.2 s less on "Fast 3G") but takes about 20
//! times as long, seconds for the WASM: it is made in the background after
//! the first answer and sent from then on (it ends early if the server shuts
//! down). It is also kept beside the file (`chat.wasm.br`), with the file's
//! modification time, so the next server started on the same build reads it
//! instead (a site that cannot be written to makes it once per start).
//! Answered with an ETag and `no-cache`:
//! the names do not change between builds, so a browser asks each time and
//! is answered 304 while it has the current one. Anything else, or a browser
//! that does not take gzip, gets the plain file from Leptos' file handler.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::SystemTime;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use tokio::sync::OnceCell;
use tokio_util::sync::CancellationToken;

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
    /// Brotli at its best, once made in the background (or read from beside
    /// the file).
    smallest: OnceLock<Bytes>,
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
    let smallest = (coding == Coding::Brotli).then(|| cached.smallest.get().cloned()).flatten();
    let compressed = match smallest {
        Some(smallest) => Some(smallest),
        None => compressed_now(&state, &cached, &file, coding).await,
    };
    let Some(compressed) = compressed else { return next.run(request).await };
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

/// The file in `coding` as the first request makes it: gzip, or brotli kept
/// at its best beside the file by an earlier server, else at the quality
/// made on request (and then at its best in the background).
async fn compressed_now(state: &AppState, cached: &Arc<Cached>, file: &Path, coding: Coding) -> Option<Bytes> {
    let cell = match coding {
        Coding::Gzip => &cached.gzip,
        Coding::Brotli => &cached.brotli,
    };
    cell.get_or_init(|| async {
        let (source, modified) = (file.to_owned(), cached.modified);
        let made = tokio::task::spawn_blocking(move || match coding {
            Coding::Gzip => compress(&source, coding, 9, None).map(|bytes| (bytes, false)),
            Coding::Brotli => match made_before(&beside(&source), modified) {
                Some(kept) => Ok((kept, true)),
                None => compress(&source, coding, BROTLI_NOW, None).map(|bytes| (bytes, false)),
            },
        })
        .await;
        match made {
            Ok(Ok((bytes, kept))) => {
                if kept {
                    cached.smallest.get_or_init(|| bytes.clone());
                } else if coding == Coding::Brotli {
                    make_smallest(cached.clone(), file.to_owned(), bytes.clone(), state.shutdown.clone());
                }
                Some(bytes)
            }
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
    .await
    .clone()
}

/// Makes brotli's best for `cached`, on a blocking thread, and keeps it if it
/// is smaller than `now` (on some regular inputs it is not), else `now`. Not
/// awaited: it ends by itself within seconds, or soon after `stop` (checked
/// between chunks of the file), and leaves its bytes in `cached`, which a
/// rebuilt file replaces.
fn make_smallest(cached: Arc<Cached>, file: PathBuf, now: Bytes, stop: CancellationToken) {
    drop(tokio::task::spawn_blocking(move || {
        let beside = beside(&file);
        match compress(&file, Coding::Brotli, BROTLI_BEST, Some(&stop)) {
            Ok(best) => {
                let smallest = if best.len() < now.len() { best } else { now };
                if let Err(error) = write_beside(&beside, &smallest, cached.modified) {
                    tracing::debug!(%error, path = %beside.display(), "could not keep a compressed file of the site");
                }
                // Only this task sets it.
                cached.smallest.get_or_init(|| smallest);
            }
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => {
                tracing::warn!(%error, path = %file.display(), "could not compress a file of the site at its best")
            }
        }
    }));
}

/// Where the file's brotli at its best is kept: `chat.wasm.br` for `chat.wasm`.
fn beside(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".br");
    PathBuf::from(name)
}

/// The kept brotli at `beside`, if it was made from this version of the file:
/// it carries the file's modification time, `modified`. (One made from an
/// earlier version, even if written later, carries that version's.)
fn made_before(beside: &Path, modified: SystemTime) -> Option<Bytes> {
    let made_from = std::fs::metadata(beside).and_then(|m| m.modified()).ok()?;
    (made_from == modified).then(|| std::fs::read(beside).ok().map(Bytes::from)).flatten()
}

/// Writes `bytes` to `beside` whole or not at all, stamped `modified`:
/// servers on the same site may race, and each renames its own complete file
/// into place.
fn write_beside(beside: &Path, bytes: &[u8], modified: SystemTime) -> std::io::Result<()> {
    let mut temp = beside.as_os_str().to_owned();
    temp.push(format!(".{}.tmp", std::process::id()));
    let temp = PathBuf::from(temp);
    let written = std::fs::File::create(&temp).and_then(|mut file| {
        file.write_all(bytes)?;
        file.set_modified(modified)
    });
    match written.and_then(|()| std::fs::rename(&temp, beside)) {
        Ok(()) => Ok(()),
        Err(error) => {
            if let Err(left) = std::fs::remove_file(&temp) {
                tracing::debug!(error = %left, path = %temp.display(), "no temporary file to remove");
            }
            Err(error)
        }
    }
}

impl Compressed {
    /// The entry for `file` as modified at `modified` (a new one if it changed).
    fn entry(&self, file: &Path, modified: SystemTime) -> Arc<Cached> {
        let mut files = self.files.lock().unwrap_or_else(PoisonError::into_inner);
        match files.get(file) {
            Some(cached) if cached.modified == modified => cached.clone(),
            _ => {
                let cached = Arc::new(Cached {
                    modified,
                    gzip: OnceCell::new(),
                    brotli: OnceCell::new(),
                    smallest: OnceLock::new(),
                });
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

/// Brotli's quality on request, and at its best (in the background).
const BROTLI_NOW: u32 = 9;
const BROTLI_BEST: u32 = 11;

/// The file at `path` in `coding` at `quality`; `Interrupted` once `stop` is
/// cancelled (looked at between chunks).
fn compress(path: &Path, coding: Coding, quality: u32, stop: Option<&CancellationToken>) -> std::io::Result<Bytes> {
    let bytes = std::fs::read(path)?;
    let out = Vec::with_capacity(bytes.len() / 3);
    let feed = |encoder: &mut dyn Write| -> std::io::Result<()> {
        for chunk in bytes.chunks(64 * 1024) {
            if stop.is_some_and(CancellationToken::is_cancelled) {
                return Err(std::io::ErrorKind::Interrupted.into());
            }
            encoder.write_all(chunk)?;
        }
        Ok(())
    };
    match coding {
        Coding::Gzip => {
            let mut encoder = flate2::write::GzEncoder::new(out, flate2::Compression::new(quality));
            feed(&mut encoder)?;
            Ok(Bytes::from(encoder.finish()?))
        }
        Coding::Brotli => {
            // A 4 MiB window (lgwin 22).
            let mut encoder = brotli::CompressorWriter::new(out, 64 * 1024, quality, 22);
            feed(&mut encoder)?;
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
