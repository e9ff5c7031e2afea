//! The site's WASM, JavaScript and CSS are sent in brotli or gzip to browsers
//! that take it (and plain to those that do not), revalidated by ETag,
//! compressed again when the file is rebuilt.

mod support;

use std::io::Read;
use std::time::{Duration, SystemTime};

use server::config::Settings;
use server::AppState;
use support::{exchange, Got};
use tokio_util::sync::CancellationToken;

async fn get(addr: std::net::SocketAddr, path: &str, extra: &str) -> Got {
    exchange(addr, &format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}"), b"").await
}

fn gunzip(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(body).read_to_end(&mut out).expect("gzip");
    out
}

#[tokio::test]
async fn the_sites_files_go_compressed_to_browsers_that_take_it() {
    let site = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(site.path().join("pkg")).unwrap();
    // Code-like text where brotli's best quality gains (on very regular text
    // it may not): 157 KB, about 18 KB at quality 9, 14 KB at 11.
    let mut x = 1u64;
    let script: String = (0..3_000)
        .map(|i| {
            x = (x * 1_103_515_245 + 12_345) % (1 << 31);
            format!("export function f{i}(a) {{ return a * {} + \"w{}\"; }}\n", x % 1000, x % 97)
        })
        .collect();
    let file = site.path().join("pkg/chat.js");
    std::fs::write(&file, &script).unwrap();
    let options = leptos::prelude::LeptosOptions::builder()
        .output_name("chat")
        .site_root(site.path().to_string_lossy().into_owned())
        .build();
    let server = Running::start(&options).await;
    let addr = server.addr;

    let zipped = get(addr, "/pkg/chat.js", "Accept-Encoding: gzip, deflate\r\n").await;
    assert_eq!(zipped.status, 200);
    assert_eq!(zipped.header("content-encoding"), "gzip");
    assert_eq!(zipped.header("content-type"), "text/javascript");
    assert_eq!(zipped.header("vary"), "accept-encoding");
    let length: usize = zipped.header("content-length").parse().unwrap();
    assert!(length * 5 < script.len(), "{length} bytes for {}", script.len());
    assert_eq!(gunzip(&zipped.body), script.as_bytes());

    // In brotli, where the browser takes it.
    let brotli = get(addr, "/pkg/chat.js", "Accept-Encoding: gzip, deflate, br, zstd\r\n").await;
    assert_eq!((brotli.status, brotli.header("content-encoding")), (200, "br"));
    let mut unpacked = Vec::new();
    brotli::Decompressor::new(brotli.body.as_slice(), 4096).read_to_end(&mut unpacked).unwrap();
    assert_eq!(unpacked, script.as_bytes());
    assert!(brotli.body.len() < zipped.body.len());
    assert_ne!(brotli.header("etag"), zipped.header("etag"));

    // Brotli's best quality, made in the background after that first answer,
    // is sent from then on: smaller, the same file.
    let best = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let later = get(addr, "/pkg/chat.js", "Accept-Encoding: br\r\n").await;
            if later.body != brotli.body {
                break later;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("brotli's best within a minute");
    assert_eq!((best.status, best.header("content-encoding")), (200, "br"));
    assert!(best.body.len() < brotli.body.len(), "{} bytes at best, {} at first", best.body.len(), brotli.body.len());
    let mut unpacked = Vec::new();
    brotli::Decompressor::new(best.body.as_slice(), 4096).read_to_end(&mut unpacked).unwrap();
    assert_eq!(unpacked, script.as_bytes());
    // Kept beside the file: a server started next on this site sends it from
    // its first answer.
    let kept = site.path().join("pkg/chat.js.br");
    assert_eq!(std::fs::read(&kept).unwrap(), best.body);
    let next = Running::start(&options).await;
    let first = get(next.addr, "/pkg/chat.js", "Accept-Encoding: br\r\n").await;
    assert_eq!(first.body, best.body);
    next.stop().await;

    // Asked again with its ETag: not sent again.
    let etag = zipped.header("etag").to_owned();
    let again = get(addr, "/pkg/chat.js", &format!("Accept-Encoding: gzip\r\nIf-None-Match: {etag}\r\n")).await;
    assert_eq!(again.status, 304);

    // A browser that takes no gzip (or refuses it) gets the file as it is.
    for extra in ["", "Accept-Encoding: gzip;q=0, br;q=0, identity\r\n"] {
        let plain = get(addr, "/pkg/chat.js", extra).await;
        assert_eq!((plain.status, plain.header("content-encoding")), (200, ""), "{extra:?}");
        assert_eq!(plain.body, script.as_bytes());
    }
    // Nothing outside the site.
    let out = get(addr, "/pkg/../../etc/passwd", "Accept-Encoding: gzip\r\n").await;
    assert!(!out.body.windows(5).any(|w| w == b"root:"));

    // Rebuilt: compressed anew, under another ETag.
    let rebuilt = script.replace("return", "return 1 +");
    assert_ne!(rebuilt, script);
    std::fs::write(&file, &rebuilt).unwrap();
    let later = SystemTime::now() + Duration::from_secs(5);
    std::fs::File::options().write(true).open(&file).unwrap().set_modified(later).unwrap();
    let fresh = get(addr, "/pkg/chat.js", &format!("Accept-Encoding: gzip\r\nIf-None-Match: {etag}\r\n")).await;
    assert_eq!(fresh.status, 200);
    assert_ne!(fresh.header("etag"), etag);
    assert_eq!(gunzip(&fresh.body), rebuilt.as_bytes());
    // Not the brotli kept for the file before.
    let fresh = get(addr, "/pkg/chat.js", "Accept-Encoding: br\r\n").await;
    let mut unpacked = Vec::new();
    brotli::Decompressor::new(fresh.body.as_slice(), 4096).read_to_end(&mut unpacked).unwrap();
    assert_eq!(unpacked, rebuilt.as_bytes());

    server.stop().await;
}

/// A server of the site `options` names, on a database of its own.
struct Running {
    addr: std::net::SocketAddr,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    _data: tempfile::TempDir,
}

impl Running {
    async fn start(options: &leptos::prelude::LeptosOptions) -> Running {
        let (store, data) = support::temp_store().await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = AppState::build(options.clone(), store, &Settings::default());
        let stop = CancellationToken::new();
        let task = tokio::spawn(server::serve(listener, state, stop.clone().cancelled_owned()));
        Running { addr, stop, task, _data: data }
    }

    async fn stop(self) {
        self.stop.cancel();
        self.task.await.unwrap().unwrap();
    }
}
