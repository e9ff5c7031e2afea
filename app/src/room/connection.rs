//! The room page's WebSocket: join, apply what the server sends, send what the
//! person writes, and reconnect with backoff when the connection drops.
//!
//! Browser only: [`connect`] is called from an Effect, which never runs during the
//! server render. The task it spawns is owned by the returned [`Connection`] and
//! ends when that is dropped (the page leaves the room or the name changes).

use crate::protocol::ClientMsg;
use crate::room::state::RoomState;
use crate::room_name::RoomName;

pub struct Connection {
    #[cfg(feature = "hydrate")]
    outgoing: futures::channel::mpsc::UnboundedSender<ClientMsg>,
    #[cfg(feature = "hydrate")]
    task: futures::future::AbortHandle,
}

impl Connection {
    /// Queues `msg` for the server; false when the connection task has ended.
    #[cfg_attr(not(feature = "hydrate"), allow(unused_variables))]
    pub fn send(&self, msg: ClientMsg) -> bool {
        #[cfg(feature = "hydrate")]
        return self.outgoing.unbounded_send(msg).is_ok();
        #[cfg(not(feature = "hydrate"))]
        false
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        #[cfg(feature = "hydrate")]
        self.task.abort();
    }
}

#[cfg(feature = "hydrate")]
pub fn connect(room: RoomName, display_name: String, state: RoomState) -> Connection {
    use futures::future::{AbortHandle, Abortable};
    use futures::FutureExt;

    let (outgoing, queue) = futures::channel::mpsc::unbounded();
    let (task, registration) = AbortHandle::new_pair();
    leptos::task::spawn_local(
        Abortable::new(browser::run(room, display_name, state, queue), registration).map(|_| ()),
    );
    Connection { outgoing, task }
}

#[cfg(not(feature = "hydrate"))]
pub fn connect(_room: RoomName, _display_name: String, _state: RoomState) -> Connection {
    unreachable!("the room connects from an Effect, which runs only in the browser")
}

#[cfg(feature = "hydrate")]
mod browser {
    use futures::channel::mpsc::UnboundedReceiver;
    use futures::{select, FutureExt, SinkExt, StreamExt};
    use gloo_net::websocket::{futures::WebSocket, Message};
    use leptos::prelude::*;

    use crate::protocol::{ClientMsg, ServerMsg, PROTOCOL_VERSION};
    use crate::room::backoff::retry_delay;
    use crate::room::state::{Applied, ConnectionStatus, RoomState};
    use crate::room_name::RoomName;

    /// How one connection ended.
    enum Ended {
        /// It never got to the welcome: the server is down or refused us.
        Failed,
        /// It was live, then dropped.
        Dropped,
        /// Do not come back.
        Stop,
    }

    pub async fn run(
        room: RoomName,
        display_name: String,
        state: RoomState,
        mut queue: UnboundedReceiver<ClientMsg>,
    ) {
        let url = socket_url(&room);
        let mut attempt = 0u32;
        state.status.set(ConnectionStatus::Connecting);
        loop {
            match session(&url, &display_name, state, &mut queue).await {
                Ended::Stop => return,
                Ended::Dropped => attempt = 1,
                Ended::Failed => attempt += 1,
            }
            state.status.set(ConnectionStatus::Reconnecting { attempt });
            let delay = retry_delay(attempt, js_sys::Math::random());
            gloo_timers::future::sleep(delay).await;
        }
    }

    async fn session(
        url: &str,
        display_name: &str,
        state: RoomState,
        queue: &mut UnboundedReceiver<ClientMsg>,
    ) -> Ended {
        let Ok(socket) = WebSocket::open(url) else {
            return Ended::Failed;
        };
        let (mut sink, stream) = socket.split();
        let mut stream = stream.fuse();
        let join = ClientMsg::Join {
            version: PROTOCOL_VERSION,
            display_name: display_name.to_owned(),
        };
        // Waits until the socket is open; fails if it never opens.
        if sink.send(Message::Text(join.to_json())).await.is_err() {
            return Ended::Failed;
        }
        let mut live = false;
        loop {
            select! {
                frame = stream.next() => {
                    let text = match frame {
                        Some(Ok(Message::Text(text))) => text,
                        Some(Ok(Message::Bytes(_))) => continue,
                        Some(Err(_)) | None => break,
                    };
                    let msg = match serde_json::from_str::<ServerMsg>(&text) {
                        Ok(msg) => msg,
                        Err(err) => {
                            leptos::logging::warn!("unreadable frame from the server: {err}");
                            continue;
                        }
                    };
                    live |= matches!(msg, ServerMsg::Welcome { .. });
                    match state.apply(msg) {
                        Applied::Continue => {}
                        Applied::ServerLeaving => break,
                        Applied::Stop => return Ended::Stop,
                    }
                }
                msg = queue.next().fuse() => match msg {
                    Some(msg) => {
                        if sink.send(Message::Text(msg.to_json())).await.is_err() {
                            break;
                        }
                    }
                    // The page dropped its Connection.
                    None => return Ended::Stop,
                },
            }
        }
        if live { Ended::Dropped } else { Ended::Failed }
    }

    fn socket_url(room: &RoomName) -> String {
        let location = window().location();
        let scheme = match location.protocol().as_deref() {
            Ok("https:") => "wss",
            _ => "ws",
        };
        let host = location.host().unwrap_or_else(|_| "localhost".into());
        format!("{scheme}://{host}/ws/chat/{room}")
    }
}
