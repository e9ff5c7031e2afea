//! One simulated person: a WebSocket to a room, joined, reading every frame; a
//! sender also posts at a steady rate. Message bodies carry their sender, number
//! and send time (`<sender>:<n>:<micros>`), so each receiver measures the
//! end-to-end latency of each delivery and, per sender, what it missed or got twice.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::stats::{Latencies, SeqCheck};
use super::LoadError;
use app::protocol::{ClientMsg, ClientMsgId, Seq, PROTOCOL_VERSION};

pub type Socket = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// Which server the generator talks to, and so which protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stack {
    /// This chat: join, send with ids, stored messages with seqs, acks.
    Chat,
    /// socket.io 4 (Engine.IO 4 over a WebSocket): `42["chat message", …]`.
    SocketIo,
    /// The Django Channels tutorial: `{"message": …}` both ways.
    Channels,
    /// A bare broadcast: the body itself both ways.
    Bare,
}

impl std::str::FromStr for Stack {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "chat" => Ok(Stack::Chat),
            "socketio" => Ok(Stack::SocketIo),
            "channels" => Ok(Stack::Channels),
            "bare" => Ok(Stack::Bare),
            other => Err(format!("unknown stack `{other}` (chat, socketio, channels, bare)")),
        }
    }
}

impl Stack {
    fn url(self, addr: SocketAddr, room: &str) -> String {
        match self {
            Stack::Chat => format!("ws://{addr}/ws/chat/{room}"),
            Stack::SocketIo => format!("ws://{addr}/socket.io/?EIO=4&transport=websocket&room={room}"),
            Stack::Channels => format!("ws://{addr}/ws/chat/{room}/"),
            Stack::Bare => format!("ws://{addr}/ws/{room}"),
        }
    }

    fn send_frame(self, tag: &str, n: u64, body: String) -> String {
        match self {
            Stack::Chat => {
                ClientMsg::Send { id: ClientMsgId(format!("{tag}-{n}")), body, reply_to: None, file: None }.to_json()
            }
            Stack::SocketIo => format!(r#"42["chat message","{body}"]"#),
            Stack::Channels => format!(r#"{{"message":"{body}"}}"#),
            Stack::Bare => body,
        }
    }
}

/// Opens a socket to `room`, with a session cookie if given, and joins it;
/// returns the socket and (for the chat) the room's newest seq at the join.
pub async fn join(
    stack: Stack,
    addr: SocketAddr,
    room: &str,
    cookie: Option<&str>,
    since: Option<u64>,
) -> Result<(Socket, u64), LoadError> {
    let mut request = stack.url(addr, room).into_client_request()?;
    if let Some(cookie) = cookie {
        let value = cookie.parse().map_err(|_| LoadError::Protocol("bad cookie".into()))?;
        request.headers_mut().insert("cookie", value);
    }
    // No Nagle delay on the generator's side either (browsers send at once too).
    let (mut socket, _) = tokio_tungstenite::connect_async_with_config(request, Some(socket_config()), true).await?;
    match stack {
        Stack::Chat => {
            let join = ClientMsg::Join { version: PROTOCOL_VERSION, since: since.map(Seq) };
            socket.send(Message::text(join.to_json())).await?;
            let welcome = next_text(&mut socket, r#"{"welcome":{"#).await?;
            let latest = number_after(&welcome, r#""latest":"#)
                .ok_or_else(|| LoadError::Protocol(format!("welcome without latest: {welcome}")))?;
            Ok((socket, latest))
        }
        Stack::SocketIo => {
            next_text(&mut socket, "0").await?;
            socket.send(Message::text("40")).await?;
            next_text(&mut socket, "40").await?;
            Ok((socket, 0))
        }
        Stack::Channels | Stack::Bare => Ok((socket, 0)),
    }
}

/// A small read buffer: tungstenite zeroes the free part of it before every read,
/// and at its 128 KiB default that memset was a third of the generator's time.
fn socket_config() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(16 * 1024)
}

/// Reads until a text frame starting with `prefix`; an error frame fails.
async fn next_text(socket: &mut Socket, prefix: &str) -> Result<String, LoadError> {
    loop {
        match socket.next().await {
            Some(Ok(Message::Text(text))) if text.as_str().starts_with(prefix) => return Ok(text.as_str().to_owned()),
            Some(Ok(Message::Text(text))) if text.as_str().starts_with(r#"{"error":{"#) => {
                return Err(LoadError::Protocol(format!("refused: {text}")));
            }
            Some(Ok(_)) => continue,
            Some(Err(error)) => return Err(error.into()),
            None => return Err(LoadError::Protocol(format!("closed before `{prefix}`"))),
        }
    }
}

/// What one connection saw.
#[derive(Debug, Default)]
pub struct Seen {
    pub latencies: Latencies,
    /// The chat's room sequence (the chat only).
    pub seqs: SeqCheck,
    /// Per sender: the newest message number seen, and what was missed or repeated.
    pub by_sender: HashMap<String, u64>,
    pub received: u64,
    /// When the last delivery came, in microseconds since the run's epoch.
    pub last_delivery_us: u64,
    pub lost: u64,
    pub duplicated: u64,
    /// This connection as a sender: messages sent, and (the chat) acknowledged.
    pub sent: u64,
    pub acked: u64,
    pub last_acked_seq: u64,
    pub refused: u64,
}

impl Seen {
    /// Counts what never came from each sender, given how many each sent.
    pub fn finish(&mut self, sent_by: &HashMap<String, u64>) {
        for (tag, sent) in sent_by {
            let last = self.by_sender.get(tag).copied().unwrap_or(0);
            self.lost += sent.saturating_sub(last);
        }
    }
}

/// How a run's connections behave.
#[derive(Clone)]
pub struct Behaviour {
    pub stack: Stack,
    pub epoch: Instant,
    /// `(tag, messages per second)` for a sender.
    pub send: Option<(String, f64)>,
    /// Where in its period a sender's first message goes, as a fraction (0 to 1):
    /// senders spread over the period rather than all posting at the same instant,
    /// as people do.
    pub phase: f64,
    pub stop: tokio_util::sync::CancellationToken,
    /// After `stop`, reading goes on until nothing came for this long (a backlog
    /// still arriving is delivered late, not lost), up to [`MAX_DRAIN`].
    pub drain: Duration,
}

/// The longest reading goes on after `stop`.
pub const MAX_DRAIN: Duration = Duration::from_secs(30);

/// Reads until `stop` and the drain after it, recording every message; a sender
/// also posts at its rate until `stop`.
pub async fn run(mut socket: Socket, joined_at: u64, behaviour: Behaviour) -> Result<Seen, LoadError> {
    let Behaviour { stack, epoch, send, phase, stop, drain } = behaviour;
    let mut seen = Seen { seqs: SeqCheck::after(joined_at), ..Seen::default() };
    let period = send.as_ref().map(|(_, rate)| Duration::from_secs_f64(1.0 / rate.max(0.001)));
    let period_or_never = period.unwrap_or(Duration::from_secs(3600));
    let first = tokio::time::Instant::now() + period_or_never.mul_f64(phase.clamp(0.0, 1.0));
    let mut ticks = tokio::time::interval_at(first, period_or_never);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let stopped = stop.cancelled();
    tokio::pin!(stopped);
    let draining = tokio::time::sleep(Duration::MAX / 4);
    tokio::pin!(draining);
    let mut is_draining = false;
    let mut drain_ends = tokio::time::Instant::now() + MAX_DRAIN;
    loop {
        tokio::select! {
            biased;
            _ = &mut stopped, if !is_draining => {
                is_draining = true;
                drain_ends = tokio::time::Instant::now() + MAX_DRAIN;
                draining.as_mut().reset(tokio::time::Instant::now() + drain);
            }
            () = &mut draining, if is_draining => break,
            frame = socket.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    let received = seen.received;
                    if let Some(reply) = record(stack, text.as_str(), epoch, &mut seen) {
                        socket.send(Message::text(reply)).await?;
                    }
                    // Only deliveries keep a drain going, not acks or notices.
                    if is_draining && seen.received > received {
                        draining.as_mut().reset((tokio::time::Instant::now() + drain).min(drain_ends));
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => return Err(error.into()),
                None => return Err(LoadError::Protocol("the server closed the connection".into())),
            },
            _ = ticks.tick(), if period.is_some() && !is_draining => {
                let (tag, _) = send.as_ref().expect("a sender");
                seen.sent += 1;
                let body = format!("{tag}:{}:{}", seen.sent, epoch.elapsed().as_micros());
                socket.send(Message::text(stack.send_frame(tag, seen.sent, body))).await?;
            }
        }
    }
    // The run is over; an error here only means the server closed first.
    socket.close(None).await.ok();
    Ok(seen)
}

/// Reads one server frame cheaply (the generator must not be the bottleneck).
/// Returns a frame to answer with (socket.io's pong).
fn record(stack: Stack, frame: &str, epoch: Instant, seen: &mut Seen) -> Option<&'static str> {
    let body = match stack {
        Stack::Chat => {
            if frame.starts_with(r#"{"message":{"#) {
                if let Some(seq) = number_after(frame, r#""seq":"#) {
                    seen.seqs.saw(seq);
                }
                quoted_after(frame, r#""body":""#)
            } else {
                if frame.starts_with(r#"{"ack":{"#) {
                    seen.acked += 1;
                    let seq = number_after(frame, r#""seq":"#).unwrap_or(0);
                    seen.last_acked_seq = seen.last_acked_seq.max(seq);
                } else if frame.starts_with(r#"{"error":{"#) {
                    seen.refused += 1;
                }
                None
            }
        }
        Stack::SocketIo => {
            if frame == "2" {
                return Some("3");
            }
            frame.strip_prefix("42").and_then(|event| quoted_after(event, r#""chat message",""#))
        }
        Stack::Channels => quoted_after(frame, r#""message": ""#).or_else(|| quoted_after(frame, r#""message":""#)),
        Stack::Bare => Some(frame),
    };
    if let Some(body) = body {
        observe(body, epoch, seen);
    }
    None
}

/// One delivery of `<sender>:<n>:<micros>`.
fn observe(body: &str, epoch: Instant, seen: &mut Seen) {
    let mut parts = body.splitn(3, ':');
    let (Some(tag), Some(n), Some(sent)) = (parts.next(), parts.next(), parts.next()) else { return };
    let (Ok(n), Ok(sent)) = (n.parse::<u64>(), sent.parse::<u64>()) else { return };
    let now = epoch.elapsed().as_micros() as u64;
    seen.latencies.record(now.saturating_sub(sent));
    seen.received += 1;
    seen.last_delivery_us = now;
    // Looked up before inserting: no allocation per delivery, only per sender.
    let last = match seen.by_sender.get_mut(tag) {
        Some(last) => last,
        None => seen.by_sender.entry(tag.to_owned()).or_insert(0),
    };
    if n <= *last {
        seen.duplicated += 1;
    } else {
        seen.lost += n - *last - 1;
        *last = n;
    }
}

pub fn number_after(text: &str, key: &str) -> Option<u64> {
    let start = text.find(key)? + key.len();
    let digits: &str = &text[start..];
    let end = digits.find(|c: char| !c.is_ascii_digit()).unwrap_or(digits.len());
    digits[..end].parse().ok()
}

fn quoted_after<'a>(frame: &'a str, key: &str) -> Option<&'a str> {
    let start = frame.find(key)? + key.len();
    let end = frame[start..].find('"')?;
    Some(&frame[start..start + end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_each_stacks_frames_without_a_json_parser() {
        let epoch = Instant::now();
        let mut seen = Seen::default();
        let chat = r#"{"message":{"seq":42,"author":"Bot","body":"s1:1:0","sent_at":1,"client_id":"s1-1"}}"#;
        record(Stack::Chat, chat, epoch, &mut seen);
        record(Stack::SocketIo, r#"42["chat message","s1:2:0"]"#, epoch, &mut seen);
        record(Stack::Channels, r#"{"message": "s1:3:0"}"#, epoch, &mut seen);
        record(Stack::Bare, "s1:3:0", epoch, &mut seen);
        record(Stack::Bare, "s1:5:0", epoch, &mut seen);
        assert_eq!(seen.seqs.last(), 42);
        assert_eq!((seen.received, seen.duplicated, seen.lost), (5, 1, 1));
        assert_eq!(record(Stack::SocketIo, "2", epoch, &mut seen), Some("3"));
    }
}
