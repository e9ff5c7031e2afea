//! Boots the real server on an ephemeral port and speaks to it with real
//! WebSocket clients.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use app::protocol::{ClientMsg, ClientMsgId, Seq, ServerMsg, Timestamp, PROTOCOL_VERSION};
use app::room_name::RoomName;
use futures::{SinkExt, StreamExt};
use server::config::Settings;
use server::policy::Policy;
use server::store::{AccountId, NewMessage, SqliteStore, SqliteWriter};
use server::AppState;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

/// How long a test waits for something it expects before failing.
pub const PATIENCE: Duration = Duration::from_secs(5);

pub struct TestServer {
    pub addr: SocketAddr,
    pub state: AppState,
    stop: CancellationToken,
    task: JoinHandle<std::io::Result<()>>,
    _data: Option<tempfile::TempDir>,
}

pub fn leptos_options() -> leptos::prelude::LeptosOptions {
    leptos::prelude::LeptosOptions::builder().output_name("chat").site_root("target/site").build()
}

/// A store as opened: its reading half and its one writer.
pub type Opened = (SqliteStore, SqliteWriter);

/// A fresh SQLite store in a temporary directory (removed when dropped).
pub async fn temp_store() -> (Opened, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let opened = SqliteStore::open(&dir.path().join("chat.db")).await.unwrap();
    (opened, dir)
}

/// A fresh store of the kind the run asks for: SQLite, or with
/// `CHAT_TEST_STORE=postgres` a new database on the machine's PostgreSQL (the
/// test command runs the server's tests both ways), files in a temporary
/// directory (removed when dropped).
pub async fn fresh_store() -> (server::store::Opened, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let database = match std::env::var("CHAT_TEST_STORE").as_deref() {
        Ok("postgres") => server::store::Database::Postgres {
            url: server::store::fresh_postgres_database().await,
            files: dir.path().join("files"),
        },
        Ok("sqlite") | Err(_) => server::store::Database::Sqlite(dir.path().join("chat.db")),
        Ok(other) => panic!("CHAT_TEST_STORE={other}: sqlite or postgres"),
    };
    (database.open().await.unwrap(), dir)
}

/// The password every test account has.
pub const PASSWORD: &str = "correct horse battery staple";

impl TestServer {
    /// A server with a fresh database of its own.
    pub async fn start() -> Self {
        let (store, dir) = fresh_store().await;
        let mut server = Self::start_inner(store, Settings::default()).await;
        server._data = Some(dir);
        server
    }

    /// A server with a fresh database and these settings.
    pub async fn start_with_settings(settings: Settings) -> Self {
        let (store, dir) = fresh_store().await;
        let mut server = Self::start_inner(store, settings).await;
        server._data = Some(dir);
        server
    }

    /// A server with a fresh database and other limits.
    pub async fn start_with_policy(policy: Policy) -> Self {
        Self::start_with_settings(Settings { policy, ..Settings::default() }).await
    }

    pub async fn start_with(store: Opened) -> Self {
        Self::start_inner(store, Settings::default()).await
    }

    /// A server on a store the test opened itself, with these settings.
    pub async fn start_with_store_and_settings(store: Opened, settings: Settings) -> Self {
        Self::start_inner(store, settings).await
    }

    async fn start_inner(store: impl Into<server::store::Opened>, settings: Settings) -> Self {
        Self::start_node(store.into(), settings, None).await
    }

    /// One of several servers on one database, with the bus between them
    /// (`None`: the only one).
    pub async fn start_node(
        store: server::store::Opened,
        settings: Settings,
        bus: Option<(server::bus::Bus, tokio::sync::mpsc::Receiver<server::bus::BusEvent>)>,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = AppState::build_on_bus(leptos_options(), store, &settings, bus);
        let stop = CancellationToken::new();
        let signal = stop.clone().cancelled_owned();
        let task = tokio::spawn(server::serve(listener, state.clone(), signal));
        TestServer { addr, state, stop, task, _data: None }
    }

    /// Opens a WebSocket to `room` without a session and without joining.
    pub async fn connect(&self, room: &str) -> Client {
        Client::open(self.addr, room, None, "reader").await
    }

    /// Joins `room` signed out; returns once welcomed.
    pub async fn reader(&self, room: &str) -> Client {
        let mut client = self.connect(room).await;
        client.join(None).await;
        client
    }

    /// Signs up an account named after `name`, connects to `room` with its session
    /// and joins; returns once welcomed.
    pub async fn join(&self, room: &str, name: &str) -> Client {
        self.join_since(room, name, None).await
    }

    /// Joins having seen everything up to `since`.
    pub async fn join_since(&self, room: &str, name: &str, since: Option<Seq>) -> Client {
        Client::connect_to_since(self.addr, room, name, since).await
    }

    /// Starts a graceful shutdown and waits for the server to finish.
    pub async fn shut_down(self) {
        self.stop.cancel();
        tokio::time::timeout(PATIENCE * 2, self.task)
            .await
            .expect("the server stops in time")
            .expect("the server task does not panic")
            .expect("the server stops cleanly");
    }
}

pub struct Client {
    pub socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub name: String,
    /// The session cookie (`chat_session=…`) the socket was opened with.
    pub cookie: Option<String>,
}

impl Client {
    /// Joins `room` on a server at `addr` (one this test did not start itself).
    pub async fn connect_to(addr: SocketAddr, room: &str, name: &str) -> Client {
        Self::connect_to_since(addr, room, name, None).await
    }

    pub async fn connect_to_since(addr: SocketAddr, room: &str, name: &str, since: Option<Seq>) -> Client {
        let cookie = sign_up(addr, &unique_username(name), name).await;
        let mut client = Client::open(addr, room, Some(&cookie), name).await;
        client.cookie = Some(cookie);
        client.join(since).await;
        client
    }

    /// Opens a WebSocket to `room`, with the session `cookie` if given.
    pub async fn open(addr: SocketAddr, room: &str, cookie: Option<&str>, name: &str) -> Client {
        let mut request = format!("ws://{addr}/ws/chat/{room}").into_client_request().unwrap();
        if let Some(cookie) = cookie {
            request.headers_mut().insert("cookie", cookie.parse().unwrap());
        }
        let (socket, _) = tokio_tungstenite::connect_async(request).await.expect("websocket connects");
        Client { socket, name: name.to_owned(), cookie: cookie.map(str::to_owned) }
    }

    /// Sends the join and waits for the welcome.
    pub async fn join(&mut self, since: Option<Seq>) {
        self.send(&ClientMsg::Join { version: PROTOCOL_VERSION, since }).await;
        match self.recv().await {
            ServerMsg::Welcome { .. } => {}
            other => panic!("{} expected a welcome, got {other:?}", self.name),
        }
    }

    pub async fn send(&mut self, msg: &ClientMsg) {
        self.send_raw(Message::text(msg.to_json())).await;
    }

    /// Sends `body` under a new message id; returns the id.
    pub async fn say(&mut self, body: &str) -> ClientMsgId {
        // Unique across connections, as a real client's ids are: a reconnecting
        // client must not reuse the id of a different message.
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let id = ClientMsgId(format!("{}-{n}", self.name.replace(' ', "_")));
        self.say_as(id.clone(), body).await;
        id
    }

    /// Sends `body` under the given message id (a retry, when it was used before).
    pub async fn say_as(&mut self, id: ClientMsgId, body: &str) {
        self.send(&ClientMsg::Send { id, body: body.to_owned(), reply_to: None, file: None }).await;
    }

    pub async fn send_raw(&mut self, frame: Message) {
        self.socket.send(frame).await.expect("send to server");
    }

    /// The next frame the server sends, decoded.
    #[track_caller]
    pub fn recv(&mut self) -> impl std::future::Future<Output = ServerMsg> + '_ {
        self.recv_within(PATIENCE)
    }

    /// The next frame, waiting up to `patience` for it.
    #[track_caller]
    pub fn recv_within(&mut self, patience: Duration) -> impl std::future::Future<Output = ServerMsg> + '_ {
        self.recv_some(patience, Want::Room)
    }

    /// The next room-list frame (`rooms`, `activity`, `room_read`, …),
    /// skipping the room's own.
    #[track_caller]
    pub fn recv_list(&mut self) -> impl std::future::Future<Output = ServerMsg> + '_ {
        self.recv_some(PATIENCE, Want::List)
    }

    #[track_caller]
    fn recv_some(&mut self, patience: Duration, want: Want) -> impl std::future::Future<Output = ServerMsg> + '_ {
        let caller = std::panic::Location::caller();
        async move {
            loop {
                let frame = tokio::time::timeout(patience, self.socket.next())
                    .await
                    .unwrap_or_else(|_| panic!("{} heard nothing within {patience:?} ({caller})", self.name))
                    .unwrap_or_else(|| panic!("{}'s connection ended ({caller})", self.name))
                    .expect("a readable frame");
                match frame {
                    Message::Text(text) => {
                        let msg: ServerMsg =
                            serde_json::from_str(text.as_str()).unwrap_or_else(|e| panic!("server sent {text:?}: {e}"));
                        if want.takes(&msg) {
                            return msg;
                        }
                    }
                    Message::Ping(_) | Message::Pong(_) => continue,
                    other => panic!("{} got an unexpected frame {other:?} ({caller})", self.name),
                }
            }
        }
    }

    /// Reads list frames until one satisfies `done`; returns it.
    pub async fn list_until(&mut self, mut done: impl FnMut(&ServerMsg) -> bool) -> ServerMsg {
        loop {
            let msg = self.recv_list().await;
            if done(&msg) {
                return msg;
            }
        }
    }

    /// Skips presence notices and acks; returns the next message or error.
    pub async fn recv_chat(&mut self) -> ServerMsg {
        loop {
            match self.recv().await {
                ServerMsg::Presence { .. } | ServerMsg::Typing { .. } | ServerMsg::Ack { .. } => continue,
                other => return other,
            }
        }
    }

    /// Skips presence notices; returns the next message, ack or error.
    pub async fn recv_delivery(&mut self) -> ServerMsg {
        loop {
            match self.recv().await {
                ServerMsg::Presence { .. } | ServerMsg::Typing { .. } => continue,
                other => return other,
            }
        }
    }

    /// The body of the next chat message; panics on anything else.
    pub async fn recv_body(&mut self) -> String {
        match self.recv_chat().await {
            ServerMsg::Message(message) => message.body,
            other => panic!("{} expected a message, got {other:?}", self.name),
        }
    }

    /// Reads until someone leaves the room; fails on anything but presence
    /// notices before that.
    pub async fn until_someone_leaves(&mut self) {
        loop {
            match self.recv().await {
                ServerMsg::Presence { left, .. } if !left.is_empty() => return,
                ServerMsg::Presence { .. } => continue,
                other => panic!("{} expected someone to leave, got {other:?}", self.name),
            }
        }
    }

    /// Reads until the connection ends; returns the close code, if any.
    pub async fn closed(&mut self) -> Option<u16> {
        loop {
            let frame =
                tokio::time::timeout(PATIENCE, self.socket.next()).await.expect("the connection closes in time");
            match frame {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| f.code.into()),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return None,
            }
        }
    }
}

/// The `i`th message of a bulk load into `room`, as the store takes it.
pub fn bulk_message(room: &RoomName, i: u64) -> NewMessage {
    NewMessage {
        room: room.clone(),
        author_id: AccountId(1),
        author: "Bot".into(),
        author_username: "bot".into(),
        mentioned: Vec::new(),
        body: format!("message number {i}"),
        client_id: ClientMsgId(format!("c{i}")),
        sent_at: Timestamp(1_795_000_000_000),
        reply: None,
        file: None,
    }
}

/// Waits until `condition` holds, polling; fails after [`PATIENCE`].
pub async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !condition() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A username for `name` no other test account has.
pub fn unique_username(name: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let base: String = name.to_lowercase().chars().filter(char::is_ascii_alphanumeric).take(20).collect();
    format!("{base}-{n}")
}

/// Signs up through the sign-up form's endpoint, as a browser without JavaScript
/// does; returns the session cookie (`chat_session=…`).
pub async fn sign_up(addr: SocketAddr, username: &str, display_name: &str) -> String {
    let reply = post_form(
        addr,
        "/api/sign-up",
        &[("username", username), ("display_name", display_name), ("password", PASSWORD), ("next", "/chat/")],
        None,
    )
    .await;
    reply.session_cookie().unwrap_or_else(|| panic!("sign-up of {username} set no session: {reply:?}"))
}

pub use loadgen::http::Reply;

/// A person with an account: their username and session cookie.
pub struct Person {
    pub username: String,
    pub cookie: String,
}

/// Signs up an account named after `name` (a unique username).
pub async fn person(server: &TestServer, name: &str) -> Person {
    let username = unique_username(name);
    let cookie = sign_up(server.addr, &username, name).await;
    Person { username, cookie }
}

/// Posts a form as a browser without JavaScript does (`Accept: text/html`).
pub async fn post_form(addr: SocketAddr, path: &str, fields: &[(&str, &str)], cookie: Option<&str>) -> Reply {
    loadgen::http::post_form(addr, path, fields, cookie).await.expect("an HTTP reply")
}

/// A GET, as a browser asks for a page.
pub async fn get(addr: SocketAddr, path: &str, cookie: Option<&str>) -> Reply {
    loadgen::http::get(addr, path, cookie).await.expect("an HTTP reply")
}

/// Calls a server function as the hydrated page does: a form-encoded POST
/// asking for JSON (a plain form's `Accept: text/html` is answered with a
/// redirect instead).
pub async fn call(addr: SocketAddr, path: &str, fields: &[(&str, &str)], cookie: Option<&str>) -> Reply {
    let body: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={}", app::url::encode(v))).collect();
    let body = body.join("&");
    let cookie = cookie.map(|c| format!("Cookie: {c}\r\n")).unwrap_or_default();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: application/json\r\nOrigin: http://{addr}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n{cookie}Connection: close\r\n\r\n{body}",
        body.len(),
    );
    raw_http(addr, &request).await
}

/// The next change (edit, delete, reaction) a client is told; panics on
/// any other message.
pub async fn next_change(client: &mut Client) -> (Seq, app::protocol::ChatMessage) {
    match client.recv_chat().await {
        ServerMsg::Changed { seq, message } => (seq, message),
        other => panic!("{} expected a change, got {other:?}", client.name),
    }
}

/// The answer to the request whose id is `expected` (messages, changes and
/// other answers on the way are skipped): its ack's seq, or the refusal's code.
pub async fn answer(client: &mut Client, expected: &str) -> Result<Seq, String> {
    loop {
        match client.recv_delivery().await {
            ServerMsg::Ack { id, seq } if id.0 == expected => return Ok(seq),
            ServerMsg::Error { error, id: Some(id) } if id.0 == expected => return Err(error.code().to_owned()),
            ServerMsg::Error { error, id: None } => return Err(error.code().to_owned()),
            ServerMsg::Message(_) | ServerMsg::Changed { .. } | ServerMsg::Ack { .. } => continue,
            other => panic!("{} expected an answer, got {other:?}", client.name),
        }
    }
}

/// Sends `request` as written and reads the whole reply.
pub async fn raw_http(addr: SocketAddr, request: &str) -> Reply {
    loadgen::http::exchange(addr, request).await.expect("an HTTP reply")
}

/// Which frames a read returns: the room's (the list's skipped, as most tests
/// are about the room), or the list's.
#[derive(Clone, Copy)]
enum Want {
    Room,
    List,
}

impl Want {
    fn takes(self, msg: &ServerMsg) -> bool {
        let list = matches!(
            msg,
            ServerMsg::Rooms { .. }
                | ServerMsg::Activity { .. }
                | ServerMsg::RoomRead { .. }
                | ServerMsg::RoomJoined { .. }
                | ServerMsg::RoomLeft { .. }
                | ServerMsg::RoomNotify { .. }
        );
        match self {
            Want::Room => !list,
            Want::List => list,
        }
    }
}

/// A reply with its body as bytes (files and compressed bodies are not text).
#[derive(Debug)]
pub struct Got {
    pub status: u16,
    /// Names lowercased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Got {
    /// The header's value; empty when there is none.
    pub fn header(&self, name: &str) -> &str {
        self.headers.iter().find(|(n, _)| n == name).map_or("", |(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 exchange: `head` (request line and headers, without the
/// blank line), then `body`; the reply read to its end.
pub async fn exchange(addr: SocketAddr, head: &str, body: &[u8]) -> Got {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(format!("{}\r\nConnection: close\r\n\r\n", head.trim_end()).as_bytes()).await.unwrap();
    // A refusal may come before the whole body is sent (413): the server then
    // reads no more, and the rest of the body meets a closed socket.
    let unsent = stream.write_all(body).await.err();
    let mut raw = Vec::new();
    let read = tokio::time::timeout(PATIENCE * 2, stream.read_to_end(&mut raw)).await.expect("a reply in time");
    if let Err(error) = read {
        assert!(!raw.is_empty(), "no reply ({error}; sending the body: {unsent:?})");
    }
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a whole head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Got { status, headers, body: raw[split + 4..].to_vec() }
}
