//! Files and images over the real server: uploaded (`POST /files`), posted in
//! a message, served to the room's readers (a direct conversation's to its two
//! people) with their type read from their content and as a download unless
//! they are a plain image, thumbnailed without their metadata, refused when
//! too large, lying, over quota or encoded, and gone with their message.

mod support;

use std::io::Cursor;

use app::error::ChatError;
use app::protocol::{Attachment, ClientMsg, ClientMsgId, Seq, ServerMsg};
use app::rooms::DirectRoom;
use sha2::Digest;
use support::{answer, call, exchange, person, Client, Got, Person, TestServer};

/// What a files test reads from a reply.
trait Answers {
    fn refusal(&self) -> ChatError;
    fn attachment(&self) -> Attachment;
}

impl Answers for Got {
    fn refusal(&self) -> ChatError {
        ChatError::from_json(std::str::from_utf8(&self.body).unwrap()).unwrap_or_else(|| panic!("{self:?}"))
    }

    fn attachment(&self) -> Attachment {
        assert_eq!(self.status, 200, "{:?}", String::from_utf8_lossy(&self.body));
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// Uploads `bytes` to `room` as `name`, as the page does.
async fn upload(server: &TestServer, who: Option<&Person>, room: &str, name: &str, bytes: &[u8]) -> Got {
    let cookie = who.map(|p| format!("\r\nCookie: {}", p.cookie)).unwrap_or_default();
    let head = format!(
        "POST /files?room={}&name={} HTTP/1.1\r\nHost: {addr}\r\nOrigin: http://{addr}\r\n\
         Content-Type: application/octet-stream\r\nContent-Length: {}{cookie}",
        app::url::encode(room),
        app::url::encode(name),
        bytes.len(),
        addr = server.addr,
    );
    exchange(server.addr, &head, bytes).await
}

async fn fetch(server: &TestServer, path: &str, who: Option<&Person>) -> Got {
    let cookie = who.map(|p| format!("\r\nCookie: {}", p.cookie)).unwrap_or_default();
    exchange(server.addr, &format!("GET {path} HTTP/1.1\r\nHost: {}{cookie}", server.addr), b"").await
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 90]));
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// A JPEG carrying an EXIF block (with a made-up GPS tag's text in it).
fn jpeg_with_exif(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_pixel(width, height, image::Rgb([10, 120, 200]));
    let mut plain = Cursor::new(Vec::new());
    image.write_to(&mut plain, image::ImageFormat::Jpeg).unwrap();
    let plain = plain.into_inner();
    let exif = b"Exif\0\0MM\0*\0\0\0\x08\0\0GPS 48.8584N 2.2945E secret place";
    let mut out = plain[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((exif.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(exif);
    out.extend_from_slice(&plain[2..]);
    out
}

async fn post_file(client: &mut Client, id: &str, body: &str, file: &str) -> Result<Seq, String> {
    let send =
        ClientMsg::Send { id: ClientMsgId(id.into()), body: body.into(), reply_to: None, file: Some(file.into()) };
    client.send(&send).await;
    answer(client, id).await
}

async fn joined(server: &TestServer, room: &str, who: &Person, name: &str) -> Client {
    let mut client = Client::open(server.addr, room, Some(&who.cookie), name).await;
    client.join(None).await;
    client
}

#[tokio::test]
async fn an_image_is_posted_with_its_thumbnail_and_read_by_the_room() {
    let server = TestServer::start().await;
    let (ada, bob) = (person(&server, "Ada").await, person(&server, "Bob").await);
    let mut adas = joined(&server, "lounge", &ada, "Ada").await;
    let mut bobs = joined(&server, "lounge", &bob, "Bob").await;

    let bytes = png(1000, 500);
    let file = upload(&server, Some(&ada), "lounge", "../holiday photo.png", &bytes).await.attachment();
    assert_eq!(
        (file.name.as_str(), file.mime.as_str(), file.size),
        ("holiday photo.png", "image/png", bytes.len() as u64)
    );
    assert_eq!(file.thumb, Some((480, 240)), "the thumbnail fits 480 x 360 and keeps the shape");

    // Posted with no words: an empty body is fine with a file.
    let seq = post_file(&mut adas, "f1", "", &file.id).await.expect("posted");
    let ServerMsg::Message(told) = bobs.recv_chat().await else { panic!("expected the message") };
    assert_eq!((told.seq, told.file.as_deref()), (seq, Some(&file)));

    // Anyone who reads the room reads the file: here, a signed-out reader.
    let got = fetch(&server, &file.url(), None).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body, bytes);
    assert_eq!(got.header("content-type"), "image/png");
    assert_eq!(got.header("x-content-type-options"), "nosniff");
    assert!(got.header("content-disposition").starts_with("inline"), "{got:?}");
    assert!(got.header("content-security-policy").contains("sandbox"), "{got:?}");
    // Kept by the browser, asked again each time: a 304 while it is there.
    let etag = got.header("etag").to_owned();
    assert!(etag.len() > 60 && got.header("cache-control").contains("no-cache"), "{got:?}");
    let head = format!("GET {} HTTP/1.1\r\nHost: {}\r\nIf-None-Match: {etag}", file.url(), server.addr);
    let again = exchange(server.addr, &head, b"").await;
    assert_eq!((again.status, again.body.len()), (304, 0));
    let thumb = fetch(&server, &file.thumb_url(), None).await;
    assert_eq!((thumb.status, thumb.header("content-type")), (200, "image/jpeg"));
    let decoded = image::load_from_memory(&thumb.body).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (480, 240));

    // A reply quotes it by its name (it has no words).
    let reply = ClientMsg::Send { id: ClientMsgId("r1".into()), body: "nice".into(), reply_to: Some(seq), file: None };
    bobs.send(&reply).await;
    let replied = answer(&mut bobs, "r1").await.expect("replied");
    let mut late = Client::open(server.addr, "lounge", None, "late").await;
    late.join(Some(seq)).await;
    let ServerMsg::Message(answered) = late.recv_chat().await else { panic!("expected the reply") };
    assert_eq!(answered.seq, replied);
    assert_eq!(answered.reply.expect("a quote").excerpt, "📎 holiday photo.png");

    // A client that resumes gets it once, file and all; so do history pages.
    let mut late = Client::open(server.addr, "lounge", None, "late").await;
    late.join(Some(Seq(0))).await;
    let ServerMsg::Message(replayed) = late.recv_chat().await else { panic!("expected the replay") };
    assert_eq!((replayed.seq, replayed.file.as_deref()), (seq, Some(&file)));
    let page = call(server.addr, "/api/history", &[("room", "lounge"), ("limit", "10")], None).await;
    assert!(page.body.contains(&file.id), "{page:?}");
}

#[tokio::test]
async fn an_image_thumbnail_carries_none_of_its_metadata() {
    let server = TestServer::start().await;
    let ada = person(&server, "Ada").await;
    let bytes = jpeg_with_exif(64, 48);
    let file = upload(&server, Some(&ada), "lounge", "where.jpg", &bytes).await.attachment();
    assert_eq!((file.mime.as_str(), file.thumb), ("image/jpeg", Some((64, 48))));
    let thumb = fetch(&server, &file.thumb_url(), Some(&ada)).await;
    assert_eq!(thumb.status, 200, "the uploader sees it before posting it");
    let has = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
    assert!(has(&bytes, b"secret place"));
    assert!(!has(&thumb.body, b"Exif") && !has(&thumb.body, b"secret place"), "the thumbnail is made afresh");
    // The original too: the same picture, without where it was taken.
    let original = fetch(&server, &file.url(), Some(&ada)).await;
    assert_eq!(original.status, 200);
    assert!(!has(&original.body, b"secret place"), "the original keeps no metadata");
    assert_eq!(image::load_from_memory(&original.body).unwrap().width(), 64);
    assert_eq!(file.size, original.body.len() as u64, "its size is what is kept");
}

#[tokio::test]
async fn html_named_png_is_served_as_a_download_with_nosniff_and_a_zip_is_never_opened() {
    let server = TestServer::start().await;
    let ada = person(&server, "Ada").await;
    let mut adas = joined(&server, "lounge", &ada, "Ada").await;
    let html = b"<!DOCTYPE html><html><body><script>fetch('/api/sign-out')</script></body></html>";
    let file = upload(&server, Some(&ada), "lounge", "cute-cat.png", html).await.attachment();
    assert_eq!((file.mime.as_str(), file.thumb), ("text/html", None), "its content says what it is");
    post_file(&mut adas, "h1", "look", &file.id).await.unwrap();
    let got = fetch(&server, &file.url(), None).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body, html);
    assert_eq!(got.header("content-type"), "application/octet-stream", "never served as HTML");
    assert!(got.header("content-disposition").starts_with("attachment; filename*=UTF-8''cute-cat.png"), "{got:?}");
    assert_eq!(got.header("x-content-type-options"), "nosniff");
    assert!(got.header("content-security-policy").contains("sandbox"));

    // A zip (a bomb or not) is kept and served as sent: never opened here.
    let mut zip = b"PK\x03\x04\x14\0\0\0\x08\0".to_vec();
    zip.extend(std::iter::repeat_n(0u8, 4096));
    let file = upload(&server, Some(&ada), "lounge", "42.zip", &zip).await.attachment();
    assert_eq!((file.mime.as_str(), file.size), ("application/zip", zip.len() as u64));
    post_file(&mut adas, "z1", "", &file.id).await.unwrap();
    let got = fetch(&server, &file.url(), None).await;
    assert_eq!((got.header("content-type"), got.body.len()), ("application/zip", zip.len()));
    assert!(got.header("content-disposition").starts_with("attachment"));

    // An encoded upload is refused: inflating it is what a bomb wants.
    let head = format!(
        "POST /files?room=lounge&name=x.txt HTTP/1.1\r\nHost: {a}\r\nOrigin: http://{a}\r\nCookie: {}\r\n\
         Content-Encoding: gzip\r\nContent-Length: 4",
        ada.cookie,
        a = server.addr
    );
    let got = exchange(server.addr, &head, b"\x1f\x8b\x08\0").await;
    assert_eq!(got.status, 415);
    assert!(matches!(got.refusal(), ChatError::Malformed { .. }));
}

/// A PNG whose header says `width` x `height` (and nothing of the pixels).
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let crc = crc32(&ihdr);
    let mut out = b"\x89PNG\r\n\x1a\n\0\0\0\x0d".to_vec();
    out.extend_from_slice(&ihdr);
    out.extend_from_slice(&crc.to_be_bytes());
    // A little of a zlib stream of zeros: what a bomb's few kilobytes begin with.
    out.extend_from_slice(&[
        0, 0, 0, 11, b'I', b'D', b'A', b'T', 0x78, 0x9c, 0xed, 0xc1, 0x01, 0x0d, 0, 0, 0, 0xc2, 0xa0,
    ]);
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = flate2::Crc::new();
    crc.update(bytes);
    crc.sum()
}

fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    statm.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 4096
}

#[tokio::test]
async fn a_huge_image_is_refused_without_decoding_it_and_a_broken_one_too() {
    let server = TestServer::start().await;
    let ada = person(&server, "Ada").await;
    let before = resident_bytes();
    let got = upload(&server, Some(&ada), "lounge", "bomb.png", &png_claiming(50_000, 50_000)).await;
    assert_eq!(got.status, 422);
    assert_eq!(got.refusal(), ChatError::ImageTooLarge { width: 50_000, height: 50_000 });
    let grew = resident_bytes().saturating_sub(before);
    assert!(grew < 64 << 20, "refused from its header: the process grew {grew} bytes (decoded: 7.5 GB)");

    let mut broken = png(40, 40);
    broken.truncate(60);
    let got = upload(&server, Some(&ada), "lounge", "broken.png", &broken).await;
    assert_eq!((got.status, got.refusal()), (422, ChatError::BadImage));
    // The connection and the room are fine: a good one goes through.
    upload(&server, Some(&ada), "lounge", "fine.png", &png(10, 10)).await.attachment();
}

#[tokio::test]
async fn uploads_are_limited_in_size_and_by_quota() {
    let policy =
        server::policy::Policy { max_upload_bytes: 100_000, upload_quota_bytes: 250_000, ..Default::default() };
    let server = TestServer::start_with_policy(policy).await;
    let ada = person(&server, "Ada").await;
    let big = vec![7u8; 100_001];
    let got = upload(&server, Some(&ada), "lounge", "big.bin", &big).await;
    assert_eq!((got.status, got.refusal()), (413, ChatError::FileTooLarge { max_bytes: 100_000 }));
    // Without a declared length, it is counted as it comes, and cut off.
    let head = format!(
        "POST /files?room=lounge&name=big.bin HTTP/1.1\r\nHost: {a}\r\nOrigin: http://{a}\r\nCookie: {}\r\n\
         Transfer-Encoding: chunked",
        ada.cookie,
        a = server.addr
    );
    let mut chunked = Vec::new();
    for _ in 0..4 {
        chunked.extend_from_slice(format!("{:x}\r\n", 40_000).as_bytes());
        chunked.extend(std::iter::repeat_n(b'x', 40_000));
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let got = exchange(server.addr, &head, &chunked).await;
    assert_eq!((got.status, got.refusal()), (413, ChatError::FileTooLarge { max_bytes: 100_000 }));

    for i in 0..2 {
        upload(&server, Some(&ada), "lounge", &format!("{i}.bin"), &vec![i as u8; 100_000]).await.attachment();
    }
    let got = upload(&server, Some(&ada), "lounge", "third.bin", &vec![3u8; 60_000]).await;
    assert_eq!((got.status, got.refusal()), (413, ChatError::QuotaExceeded { quota_bytes: 250_000 }));
    // Another account's allowance is its own.
    let bob = person(&server, "Bob").await;
    upload(&server, Some(&bob), "lounge", "bobs.bin", &vec![3u8; 60_000]).await.attachment();
}

async fn open_direct(server: &TestServer, who: &Person, with: &str) -> DirectRoom {
    let reply = call(server.addr, "/api/open-direct", &[("username", with)], Some(&who.cookie)).await;
    serde_json::from_str(&reply.body).expect("a direct room")
}

#[tokio::test]
async fn who_may_upload_post_and_read_a_file() {
    let server = TestServer::start().await;
    let (ada, bob, cy) = (person(&server, "Ada").await, person(&server, "Bob").await, person(&server, "Cy").await);

    let got = upload(&server, None, "lounge", "a.txt", b"hello").await;
    assert_eq!((got.status, got.refusal()), (401, ChatError::SignInRequired));

    // A direct conversation's file: its two people only.
    let direct = open_direct(&server, &ada, &bob.username).await.room;
    let got = upload(&server, Some(&cy), direct.as_str(), "a.txt", b"hello").await;
    assert_eq!(got.status, 403, "nobody uploads into someone else's conversation");
    let file = upload(&server, Some(&ada), direct.as_str(), "plan.txt", b"the plan").await.attachment();
    assert_eq!(file.mime, "text/plain");
    // Not posted yet: its uploader's alone.
    assert_eq!(fetch(&server, &file.url(), Some(&ada)).await.status, 200);
    assert_eq!(fetch(&server, &file.url(), Some(&bob)).await.status, 404);
    let mut adas = joined(&server, direct.as_str(), &ada, "Ada").await;
    // Bob cannot post Ada's upload; nor Ada post it in another room.
    let mut bobs = joined(&server, direct.as_str(), &bob, "Bob").await;
    assert_eq!(post_file(&mut bobs, "b1", "mine now", &file.id).await, Err("no_such_file".into()));
    let mut adas_lounge = joined(&server, "lounge", &ada, "Ada").await;
    assert_eq!(post_file(&mut adas_lounge, "a0", "", &file.id).await, Err("no_such_file".into()));
    assert_eq!(post_file(&mut adas, "a1", "", "no-such-upload").await, Err("no_such_file".into()));
    // Without words or a file, still nothing.
    adas.send(&ClientMsg::Send { id: ClientMsgId("a2".into()), body: " ".into(), reply_to: None, file: None }).await;
    assert_eq!(answer(&mut adas, "a2").await, Err("empty_message".into()));

    post_file(&mut adas, "a3", "here", &file.id).await.expect("posted");
    let got = fetch(&server, &file.url(), Some(&bob)).await;
    assert_eq!((got.status, got.body.as_slice()), (200, &b"the plan"[..]));
    assert_eq!(got.header("content-type"), "text/plain; charset=utf-8");
    assert!(got.header("content-disposition").starts_with("attachment"));
    assert_eq!(fetch(&server, &file.url(), Some(&cy)).await.status, 404, "a third person");
    assert_eq!(fetch(&server, &file.url(), None).await.status, 404, "a signed-out reader");
    assert_eq!(fetch(&server, "/files/guess/x", Some(&ada)).await.status, 404);
}

#[tokio::test]
async fn deleting_the_message_deletes_its_file_but_not_another_upload_of_the_same() {
    let ((store, writer), dir) = support::temp_store().await;
    let server = TestServer::start_with((store, writer)).await;
    let ada = person(&server, "Ada").await;
    let mut adas = joined(&server, "lounge", &ada, "Ada").await;
    let bytes = png(300, 200);
    let first = upload(&server, Some(&ada), "lounge", "one.png", &bytes).await.attachment();
    let second = upload(&server, Some(&ada), "lounge", "two.png", &bytes).await.attachment();
    let seq = post_file(&mut adas, "p1", "", &first.id).await.unwrap();
    post_file(&mut adas, "p2", "again", &second.id).await.unwrap();
    let hash = format!("{:x}", sha2::Sha256::digest(&bytes));
    let kept = dir.path().join("chat-files").join(&hash[..2]).join(&hash);
    assert_eq!(std::fs::read(&kept).unwrap(), bytes, "kept once, under its hash");

    let before = fetch(&server, &first.url(), Some(&ada)).await;
    adas.send(&ClientMsg::Delete { id: ClientMsgId("d1".into()), seq }).await;
    answer(&mut adas, "d1").await.expect("deleted");
    assert_eq!(fetch(&server, &first.url(), Some(&ada)).await.status, 404);
    // A browser that kept it asks again, and hears it is gone.
    let head = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nCookie: {}\r\nIf-None-Match: {}",
        first.url(),
        server.addr,
        ada.cookie,
        before.header("etag")
    );
    assert_eq!(exchange(server.addr, &head, b"").await.status, 404);
    assert_eq!(fetch(&server, &first.thumb_url(), Some(&ada)).await.status, 404);
    assert!(kept.exists(), "the other message's upload of the same content stays");
    assert_eq!(fetch(&server, &second.url(), Some(&ada)).await.status, 200);

    let seq2 = Seq(seq.0 + 1);
    adas.send(&ClientMsg::Delete { id: ClientMsgId("d2".into()), seq: seq2 }).await;
    answer(&mut adas, "d2").await.expect("deleted");
    assert!(!kept.exists(), "the last upload of it gone: its bytes are gone from the disk");
    let entries = std::fs::read_dir(dir.path().join("chat-files")).unwrap().count();
    assert!(entries <= 3, "only empty shards and tmp are left");
    let page = call(server.addr, "/api/history", &[("room", "lounge"), ("limit", "10")], None).await;
    assert!(!page.body.contains(&first.id) && !page.body.contains(&second.id), "{page:?}");
}
