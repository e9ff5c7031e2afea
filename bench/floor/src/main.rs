//! COMPARISON CODE: the bare floor. Every text frame a client sends to
//! `/ws/{room}` goes, as is, to everyone connected to that room.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use futures::{SinkExt, StreamExt};
use tokio::sync::broadcast;

type Rooms = Arc<Mutex<HashMap<String, broadcast::Sender<Message>>>>;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args().nth(1).and_then(|p| p.parse().ok()).unwrap_or(3200);
    let rooms = Rooms::default();
    let app = Router::new().route("/ws/{room}", get(upgrade)).with_state(rooms);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(error) = tcp.set_nodelay(true) {
            eprintln!("TCP_NODELAY: {error}");
        }
    });
    println!("floor listening on {port}");
    axum::serve(listener, app).await
}

async fn upgrade(ws: WebSocketUpgrade, Path(room): Path<String>, State(rooms): State<Rooms>) -> Response {
    let sender = rooms
        .lock()
        .expect("rooms lock")
        .entry(room)
        .or_insert_with(|| broadcast::channel(1024).0)
        .clone();
    // The same WebSocket buffers as the chat's (server/src/ws/limits.rs): the
    // floor measures the layer, not the library's 128 KiB default read buffer.
    ws.read_buffer_size(1024)
        .write_buffer_size(8 * 1024)
        .on_upgrade(move |socket| session(socket, sender))
}

async fn session(socket: WebSocket, room: broadcast::Sender<Message>) {
    let (mut sink, mut stream) = socket.split();
    let mut events = room.subscribe();
    let forward = tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(message) => {
                    if sink.send(message).await.is_err() {
                        return;
                    }
                }
                // The floor drops what a slow reader missed.
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    });
    while let Some(Ok(message)) = stream.next().await {
        if let Message::Text(_) = message {
            // Err only when nobody is subscribed, this session included: impossible here.
            room.send(message).ok();
        }
    }
    forward.abort();
}
