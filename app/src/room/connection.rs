//! The room page's WebSocket: join (resuming after the last message the page has),
//! apply what the server sends, send the person's pending messages, and reconnect
//! with backoff and jitter when the connection drops.
//!
//! Browser only: [`connect`] is called from an Effect, which never runs during the
//! server render. The task it spawns is owned by the returned [`Connection`] and
//! ends when that is dropped (the page leaves the room).

use crate::protocol::{ClientMsg, ClientMsgId, Seq};
use crate::room::state::RoomState;
use crate::room_list::RoomList;
use crate::room_name::RoomName;
use crate::rooms::NotifyLevel;

pub struct Connection {
    #[cfg(feature = "hydrate")]
    nudge: futures::channel::mpsc::UnboundedSender<()>,
    /// Read positions, away, typing and requests for people, for the server.
    #[cfg(feature = "hydrate")]
    outgoing: futures::channel::mpsc::UnboundedSender<Outgoing>,
    #[cfg(feature = "hydrate")]
    task: futures::future::AbortHandle,
    /// The browser's `online` and `offline` events, feeding the task.
    #[cfg(feature = "hydrate")]
    network: Vec<leptos::prelude::WindowListenerHandle>,
}

impl Connection {
    /// Tells the connection there are pending messages to send.
    pub fn nudge(&self) {
        #[cfg(feature = "hydrate")]
        if self.nudge.unbounded_send(()).is_err() {
            leptos::logging::warn!("the room connection has ended");
        }
    }

    /// Tells the server this page has read the room up to `seq`.
    pub fn report_read(&self, seq: Seq) {
        self.tell(Outgoing::Read(seq));
    }

    /// Tells the server this tab is hidden or idle (`true`), or back.
    pub fn report_away(&self, away: bool) {
        self.tell(Outgoing::Away(away));
    }

    /// Tells the room this person is typing (the caller paces it).
    pub fn report_typing(&self) {
        self.tell(Outgoing::Typing);
    }

    /// Asks for the page of people after `after`.
    pub fn ask_people(&self, after: Option<String>) {
        self.tell(Outgoing::People(after));
    }

    /// Sets when the room notifies this person (sent when connected).
    pub fn set_notify(&self, level: NotifyLevel) {
        self.tell(Outgoing::Notify(level));
    }

    /// Replaces the body of this person's message `seq` (`Some`), or deletes it.
    pub fn change(&self, seq: Seq, body: Option<String>) {
        let id = new_client_id();
        self.tell(Outgoing::Change(match body {
            Some(body) => ClientMsg::Edit { id, seq, body },
            None => ClientMsg::Delete { id, seq },
        }));
    }

    /// Adds (`on`) or takes back this person's reaction `emoji` to message
    /// `seq`, as the request `id`.
    pub fn react(&self, id: ClientMsgId, seq: Seq, emoji: String, on: bool) {
        self.tell(Outgoing::Change(ClientMsg::React { id, seq, emoji, on }));
    }

    fn tell(&self, what: Outgoing) {
        #[cfg(feature = "hydrate")]
        if self.outgoing.unbounded_send(what).is_err() {
            leptos::logging::warn!("the room connection has ended");
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = what;
    }
}

/// What the page tells the server besides its messages.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub enum Outgoing {
    Read(Seq),
    Away(bool),
    Typing,
    People(Option<String>),
    Notify(NotifyLevel),
    /// An edit, a delete or a reaction (sent only while connected).
    Change(ClientMsg),
}

impl Drop for Connection {
    fn drop(&mut self) {
        #[cfg(feature = "hydrate")]
        {
            self.task.abort();
            for listener in self.network.drain(..) {
                listener.remove();
            }
        }
    }
}

/// A fresh id for a message this page sends.
pub fn new_client_id() -> ClientMsgId {
    #[cfg(feature = "hydrate")]
    let (time, random) = (js_sys::Date::now() as u64, (js_sys::Math::random() * 2f64.powi(48)) as u64);
    // On the server (the id of a page's form): the time makes ids of different
    // runs differ, the counter those of one millisecond.
    #[cfg(not(feature = "hydrate"))]
    let (time, random) = {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        (now.as_millis() as u64, NEXT.fetch_add(1, Ordering::Relaxed) ^ u64::from(now.subsec_nanos()) << 16)
    };
    ClientMsgId(format!("{time:x}-{random:012x}"))
}

#[cfg(feature = "hydrate")]
pub fn connect(room: RoomName, state: RoomState, list: RoomList) -> Connection {
    use futures::future::{AbortHandle, Abortable};
    use futures::FutureExt;

    let (nudge, nudges) = futures::channel::mpsc::unbounded();
    let (outgoing, outgoing_rx) = futures::channel::mpsc::unbounded();
    let (network_tx, network_rx) = futures::channel::mpsc::unbounded();
    let on_network = |online: bool| {
        let network_tx = network_tx.clone();
        move |_| {
            if network_tx.unbounded_send(online).is_err() {
                leptos::logging::warn!("network event after the room connection ended");
            }
        }
    };
    let network = vec![
        leptos::prelude::window_event_listener(leptos::ev::online, on_network(true)),
        leptos::prelude::window_event_listener(leptos::ev::offline, on_network(false)),
    ];
    let (task, registration) = AbortHandle::new_pair();
    let channels = browser::Channels {
        nudges,
        network: network_rx,
        outgoing: outgoing_rx,
        last_read: None,
        away: false,
        notify: None,
        changes: Vec::new(),
    };
    leptos::task::spawn_local(Abortable::new(browser::run(room, state, list, channels), registration).map(|_| ()));
    Connection { nudge, outgoing, task, network }
}

#[cfg(not(feature = "hydrate"))]
pub fn connect(_room: RoomName, _state: RoomState, _list: RoomList) -> Connection {
    unreachable!("the room connects from an Effect, which runs only in the browser")
}

#[cfg(feature = "hydrate")]
mod browser {
    use futures::channel::mpsc::UnboundedReceiver;
    use futures::future::FusedFuture;
    use futures::{select, FutureExt, SinkExt, StreamExt};
    use gloo_net::websocket::{futures::WebSocket, Message, WebSocketError};
    use gloo_timers::future::IntervalStream;
    use leptos::prelude::*;

    /// A message that got no answer within this time is shown as failed, with a retry.
    const ACK_TIMEOUT_MS: f64 = 10_000.0;
    use crate::history::history;
    use crate::protocol::Seq;
    use crate::protocol::{ClientMsg, ServerMsg};
    use crate::room::backoff::retry_delay;
    use crate::room::connection::Outgoing;
    use crate::room::socket_start;
    use crate::room::state::{Applied, ConnectionStatus, PendingState, RoomState};
    use crate::room_list::RoomList;
    use crate::room_name::RoomName;
    use crate::rooms::NotifyLevel;

    /// How one connection ended.
    enum Ended {
        /// It never got to the welcome: the server is down or refused us.
        Failed,
        /// It was live, then dropped.
        Dropped,
        /// Do not come back.
        Stop,
        /// Messages were missed: join again at once, resuming before the hole.
        Resync,
    }

    pub struct Channels {
        /// The page has pending messages to send.
        pub nudges: UnboundedReceiver<()>,
        /// The browser went online (true) or offline (false).
        pub network: UnboundedReceiver<bool>,
        /// Read positions, away, typing, requests for people.
        pub outgoing: UnboundedReceiver<Outgoing>,
        /// The furthest read position reported, sent again on every new
        /// connection (the last one may have dropped before it was stored).
        pub last_read: Option<Seq>,
        /// The tab is away: said again on every new connection.
        pub away: bool,
        /// A notification level chosen while not connected: sent on joining.
        pub notify: Option<NotifyLevel>,
        /// Edits, deletes and reactions made while not connected: sent on
        /// joining, in order (each names its message, so each is still right).
        pub changes: Vec<ClientMsg>,
    }

    pub async fn run(room: RoomName, state: RoomState, list: RoomList, mut channels: Channels) {
        let url = socket_url(&room);
        let mut attempt = 0u32;
        // The last connection ended to fill a hole: the next one goes at once,
        // but a second in a row waits as a failure does (no tight loop).
        let mut resyncing = false;
        state.status.set(ConnectionStatus::Connecting);
        loop {
            if !is_online() {
                // No network: nothing to try until the browser says it is back.
                state.status.set(ConnectionStatus::Offline);
                wait_until_online(&mut channels.network).await;
                attempt = 0;
            }
            match session(&url, &room, state, list, &mut channels).await {
                Ended::Stop => return,
                Ended::Resync if !resyncing => {
                    resyncing = true;
                    attempt = 0;
                    continue;
                }
                Ended::Resync | Ended::Dropped => attempt = 1,
                Ended::Failed => attempt += 1,
            }
            resyncing = false;
            if !is_online() {
                continue;
            }
            state.status.set(ConnectionStatus::Reconnecting { attempt });
            let delay = retry_delay(attempt, js_sys::Math::random());
            // Back online during the pause: try at once.
            select! {
                _ = gloo_timers::future::sleep(delay).fuse() => {}
                _ = wait_until_online(&mut channels.network).fuse() => {}
            }
        }
    }

    fn is_online() -> bool {
        window().navigator().on_line()
    }

    async fn wait_until_online(network: &mut UnboundedReceiver<bool>) {
        while let Some(online) = network.next().await {
            if online {
                return;
            }
        }
        std::future::pending::<()>().await
    }

    type Sink = futures::stream::SplitSink<WebSocket, Message>;

    async fn session(url: &str, room: &RoomName, state: RoomState, list: RoomList, channels: &mut Channels) -> Ended {
        let join = socket_start::join(&state);
        // The socket the page's script opened and joined before the WebAssembly
        // came (the first time only), with what the server said on it since.
        let early = socket_start::take_early(&socket_start::path(room), &join.to_json());
        let joined = early.is_some();
        let (socket, said) = match early {
            Some((socket, said)) => (WebSocket::try_from(socket), said),
            None => (WebSocket::open(url), Vec::new()),
        };
        let Ok(socket) = socket else {
            return Ended::Failed;
        };
        let (mut sink, stream) = socket.split();
        let said = futures::stream::iter(said.into_iter().map(|text| Ok(Message::Text(text))));
        let mut stream = said.chain(stream).fuse();
        let mut ticks = IntervalStream::new(1_000).fuse();
        // Waits until the socket is open; fails if it never opens. A socket
        // taken over is joined by the page's script (as it opens, if it was
        // still opening): what it says comes on the stream.
        if !joined && send(&mut sink, &join).await.is_err() {
            return Ended::Failed;
        }
        let mut live = false;
        // After a rate limit: messages go one at a time, the next when the last is
        // acknowledged or the pause the server asked for is over.
        let mut throttled = false;
        let mut pause: futures::future::Fuse<gloo_timers::future::TimeoutFuture> = futures::future::Fuse::terminated();
        loop {
            select! {
                frame = stream.next() => {
                    let text = match frame {
                        Some(Ok(Message::Text(text))) => text,
                        Some(Ok(Message::Bytes(_))) => continue,
                        Some(Err(_)) | None => break,
                    };
                    // From bytes, as the server functions' answers are read: one
                    // copy of each decoder in the WASM, not two.
                    let msg = match serde_json::from_slice::<ServerMsg>(text.as_bytes()) {
                        Ok(msg) => msg,
                        Err(err) => {
                            leptos::logging::warn!("unreadable frame from the server: {err}");
                            continue;
                        }
                    };
                    #[cfg(feature = "hydrate")]
                    if let Some(due) = list.notice(room, &msg) {
                        crate::room_list::notices::show(due);
                    }
                    if list.apply(&msg) {
                        continue;
                    }
                    match &msg {
                        ServerMsg::Message(message) => list.saw_message(room, message),
                        ServerMsg::Changed { seq, .. } => list.saw_change(room, *seq),
                        // Posting reads the room (the server moves it too).
                        ServerMsg::Ack { seq, .. } => {
                            list.read_up_to(room, *seq);
                        }
                        _ => {}
                    }
                    let welcomed = matches!(msg, ServerMsg::Welcome { .. });
                    let acked = matches!(msg, ServerMsg::Ack { .. });
                    match state.apply(msg) {
                        Applied::Continue => {}
                        Applied::Throttled { retry_after_ms } => {
                            throttled = true;
                            let wait = u32::try_from(retry_after_ms).unwrap_or(u32::MAX);
                            pause = gloo_timers::future::sleep(std::time::Duration::from_millis(wait.into())).fuse();
                        }
                        Applied::ReloadHistory => match history(room.to_string(), None, None).await {
                            Ok(page) => state.reset_to(page),
                            Err(error) => state.error.set(Some(format!("Could not reload the messages: {error}"))),
                        },
                        Applied::ServerLeaving => break,
                        Applied::Resync => return Ended::Resync,
                        Applied::Stop => return Ended::Stop,
                        Applied::SessionEnded => {
                            if let Err(error) = window().location().reload() {
                                leptos::logging::error!("could not reload after the session ended: {error:?}");
                            }
                            return Ended::Stop;
                        }
                    }
                    if welcomed {
                        live = true;
                        throttled = false;
                        // Everything unconfirmed goes (again): a retry of a stored
                        // message is acknowledged, never stored twice.
                        if send_pending(&mut sink, state, true).await.is_err() {
                            break;
                        }
                        if let Some(seq) = channels.last_read {
                            if send(&mut sink, &ClientMsg::Read { room: room.clone(), seq }).await.is_err() {
                                break;
                            }
                        }
                        if channels.away && send(&mut sink, &ClientMsg::Away { away: true }).await.is_err() {
                            break;
                        }
                        if let Some(level) = channels.notify.take() {
                            if send(&mut sink, &ClientMsg::Notify { level }).await.is_err() {
                                break;
                            }
                        }
                        let mut sent = true;
                        for change in std::mem::take(&mut channels.changes) {
                            sent = sent && send(&mut sink, &change).await.is_ok();
                        }
                        if !sent {
                            break;
                        }
                    } else if acked && throttled && pause.is_terminated() {
                        match send_next(&mut sink, state).await {
                            Ok(more) => throttled = more,
                            Err(_) => break,
                        }
                    }
                }
                () = pause => {
                    if live {
                        match send_next(&mut sink, state).await {
                            Ok(more) => throttled = more,
                            Err(_) => break,
                        }
                    }
                }
                online = channels.network.next() => {
                    // The browser lost its network: this connection is gone, even if
                    // the socket has not noticed yet.
                    if online == Some(false) {
                        break;
                    }
                }
                nudge = channels.nudges.next() => match nudge {
                    Some(()) if live && !throttled => {
                        if send_pending(&mut sink, state, false).await.is_err() {
                            break;
                        }
                    }
                    Some(()) => {}
                    // The page dropped its Connection.
                    None => return Ended::Stop,
                },
                what = channels.outgoing.next() => {
                    let Some(what) = what else { return Ended::Stop };
                    // Typing and pages matter only now; the rest is said again
                    // on the next connection.
                    let msg = match what {
                        Outgoing::Read(seq) => {
                            channels.last_read = channels.last_read.max(Some(seq));
                            ClientMsg::Read { room: room.clone(), seq }
                        }
                        Outgoing::Away(away) => {
                            channels.away = away;
                            ClientMsg::Away { away }
                        }
                        Outgoing::Typing => ClientMsg::Typing,
                        Outgoing::People(after) => ClientMsg::People { after },
                        Outgoing::Notify(level) if !live => {
                            channels.notify = Some(level);
                            continue;
                        }
                        Outgoing::Notify(level) => ClientMsg::Notify { level },
                        Outgoing::Change(change) if !live => {
                            channels.changes.push(change);
                            continue;
                        }
                        Outgoing::Change(msg) => msg,
                    };
                    if live && send(&mut sink, &msg).await.is_err() {
                        break;
                    }
                }
                _ = ticks.next() => {
                    if live {
                        state.fail_unanswered(js_sys::Date::now() - ACK_TIMEOUT_MS);
                    }
                }
            }
        }
        if live {
            Ended::Dropped
        } else {
            Ended::Failed
        }
    }

    /// Sends the pending messages not sent on this connection yet (all of them when
    /// `all`, after a fresh join).
    async fn send_pending(sink: &mut Sink, state: RoomState, all: bool) -> Result<(), WebSocketError> {
        for pending in state.unconfirmed() {
            let unsent = matches!(pending.state, PendingState::Sending { sent_at: None });
            if all || unsent {
                let msg = ClientMsg::Send {
                    id: pending.id.clone(),
                    body: pending.body,
                    reply_to: pending.reply_to,
                    file: pending.file.map(|f| f.id),
                };
                send(sink, &msg).await?;
                state.mark_sent(&pending.id, js_sys::Date::now());
            }
        }
        Ok(())
    }

    /// Sends the oldest message not sent yet; says whether more are waiting.
    async fn send_next(sink: &mut Sink, state: RoomState) -> Result<bool, WebSocketError> {
        let unsent: Vec<_> = state
            .unconfirmed()
            .into_iter()
            .filter(|p| matches!(p.state, PendingState::Sending { sent_at: None }))
            .collect();
        let Some(first) = unsent.first() else {
            return Ok(false);
        };
        let msg = ClientMsg::Send {
            id: first.id.clone(),
            body: first.body.clone(),
            reply_to: first.reply_to,
            file: first.file.as_ref().map(|f| f.id.clone()),
        };
        send(sink, &msg).await?;
        state.mark_sent(&first.id, js_sys::Date::now());
        Ok(unsent.len() > 1)
    }

    async fn send(sink: &mut Sink, msg: &ClientMsg) -> Result<(), WebSocketError> {
        sink.send(Message::Text(msg.to_json())).await
    }

    fn socket_url(room: &RoomName) -> String {
        let location = window().location();
        let scheme = match location.protocol().as_deref() {
            Ok("https:") => "wss",
            _ => "ws",
        };
        let host = location.host().unwrap_or_else(|_| "localhost".into());
        format!("{scheme}://{host}{}", socket_start::path(room))
    }
}
