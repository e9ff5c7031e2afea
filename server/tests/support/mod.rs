//! Boots the real server on an ephemeral port and speaks to it with real
//! WebSocket clients.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use app::protocol::{ClientMsg, ClientMsgId, Seq, ServerMsg, Timestamp, PROTOCOL_VERSION};
use app::room_name::RoomName;
use server::store::NewMessage;
use server::hub::SharedStore;
use server::store::SqliteStore;
use futures::{SinkExt, StreamExt};
use server::AppState;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
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
    leptos::prelude::LeptosOptions::builder()
        .output_name("chat")
        .site_root("target/site")
        .build()
}

/// A fresh SQLite store in a temporary directory (removed when dropped).
pub async fn temp_store() -> (SharedStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("chat.db")).await.unwrap();
    (Arc::new(store), dir)
}

impl TestServer {
    /// A server with a fresh database of its own.
    pub async fn start() -> Self {
        let (store, dir) = temp_store().await;
        let mut server = Self::start_with(store).await;
        server._data = Some(dir);
        server
    }

    /// A server with a fresh database, its state adjusted by `configure` first.
    pub async fn start_configured(configure: impl FnOnce(&mut AppState)) -> Self {
        let (store, dir) = temp_store().await;
        let mut server = Self::start_inner(store, configure).await;
        server._data = Some(dir);
        server
    }

    pub async fn start_with(store: SharedStore) -> Self {
        Self::start_inner(store, |_| {}).await
    }

    async fn start_inner(store: SharedStore, configure: impl FnOnce(&mut AppState)) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut state = AppState::new(leptos_options(), store);
        configure(&mut state);
        let stop = CancellationToken::new();
        let signal = stop.clone().cancelled_owned();
        let task = tokio::spawn(server::serve(listener, state.clone(), signal));
        TestServer { addr, state, stop, task, _data: None }
    }

    /// Opens a WebSocket to `room` without joining.
    pub async fn connect(&self, room: &str) -> Client {
        let url = format!("ws://{}/ws/chat/{room}", self.addr);
        let (socket, _) = tokio_tungstenite::connect_async(url).await.expect("websocket connects");
        Client { socket, name: String::new() }
    }

    /// Connects to `room` and joins as `name`; returns once welcomed.
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
}

impl Client {
    /// Joins `room` on a server at `addr` (one this test did not start itself).
    pub async fn connect_to(addr: SocketAddr, room: &str, name: &str) -> Client {
        Self::connect_to_since(addr, room, name, None).await
    }

    pub async fn connect_to_since(addr: SocketAddr, room: &str, name: &str, since: Option<Seq>) -> Client {
        let url = format!("ws://{addr}/ws/chat/{room}");
        let (socket, _) = tokio_tungstenite::connect_async(url).await.expect("websocket connects");
        let mut client = Client { socket, name: name.to_owned() };
        client
            .send(&ClientMsg::Join { version: PROTOCOL_VERSION, display_name: name.to_owned(), since })
            .await;
        match client.recv().await {
            ServerMsg::Welcome { .. } => client,
            other => panic!("{name} expected a welcome, got {other:?}"),
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
        self.send(&ClientMsg::Send { id, body: body.to_owned() }).await;
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
                        return serde_json::from_str(text.as_str())
                            .unwrap_or_else(|e| panic!("server sent {text:?}: {e}"))
                    }
                    Message::Ping(_) | Message::Pong(_) => continue,
                    other => panic!("{} got an unexpected frame {other:?} ({caller})", self.name),
                }
            }
        }
    }

    /// Skips member joins and leaves and acks; returns the next message or error.
    pub async fn recv_chat(&mut self) -> ServerMsg {
        loop {
            match self.recv().await {
                ServerMsg::MemberJoined { .. } | ServerMsg::MemberLeft { .. } | ServerMsg::Ack { .. } => continue,
                other => return other,
            }
        }
    }

    /// Skips member joins and leaves; returns the next message, ack or error.
    pub async fn recv_delivery(&mut self) -> ServerMsg {
        loop {
            match self.recv().await {
                ServerMsg::MemberJoined { .. } | ServerMsg::MemberLeft { .. } => continue,
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

    /// Reads until someone leaves the room; fails on anything but joins before that.
    pub async fn until_someone_leaves(&mut self) {
        loop {
            match self.recv().await {
                ServerMsg::MemberLeft { .. } => return,
                ServerMsg::MemberJoined { .. } => continue,
                other => panic!("{} expected someone to leave, got {other:?}", self.name),
            }
        }
    }

    /// Reads until the connection ends; returns the close code, if any.
    pub async fn closed(&mut self) -> Option<u16> {
        loop {
            let frame = tokio::time::timeout(PATIENCE, self.socket.next())
                .await
                .expect("the connection closes in time");
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
        author: "Bot".into(),
        body: format!("message number {i}"),
        client_id: ClientMsgId(format!("c{i}")),
        sent_at: Timestamp(1_795_000_000_000),
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
