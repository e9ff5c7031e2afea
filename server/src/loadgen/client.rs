//! One simulated person: a WebSocket to a room, joined, reading every frame; a
//! sender also posts at a steady rate. Message bodies carry their send time, so
//! each receiver measures the end-to-end latency of each delivery.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::stats::{Latencies, SeqCheck};
use super::LoadError;
use app::protocol::{ClientMsg, ClientMsgId, Seq, PROTOCOL_VERSION};

pub type Socket = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens a socket to `room`, with a session cookie if given, and joins it;
/// returns the socket and the room's newest seq at the join.
pub async fn join(addr: SocketAddr, room: &str, cookie: Option<&str>, since: Option<u64>) -> Result<(Socket, u64), LoadError> {
    let mut request = format!("ws://{addr}/ws/chat/{room}").into_client_request()?;
    if let Some(cookie) = cookie {
        request.headers_mut().insert("cookie", cookie.parse().map_err(|_| LoadError::Protocol("bad cookie".into()))?);
    }
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;
    let join = ClientMsg::Join { version: PROTOCOL_VERSION, since: since.map(Seq) };
    socket.send(Message::text(join.to_json())).await?;
    loop {
        match socket.next().await {
            Some(Ok(Message::Text(text))) if text.as_str().starts_with(r#"{"type":"welcome""#) => {
                let latest = number_after(text.as_str(), r#""latest":"#)
                    .ok_or_else(|| LoadError::Protocol(format!("welcome without latest: {text}")))?;
                return Ok((socket, latest));
            }
            Some(Ok(Message::Text(text))) if text.as_str().starts_with(r#"{"type":"error""#) => {
                return Err(LoadError::Protocol(format!("join refused: {text}")));
            }
            Some(Ok(_)) => continue,
            Some(Err(error)) => return Err(error.into()),
            None => return Err(LoadError::Protocol("closed before the welcome".into())),
        }
    }
}

/// What one connection saw.
#[derive(Debug, Default)]
pub struct Seen {
    pub latencies: Latencies,
    pub seqs: SeqCheck,
    /// Messages this connection sent and had acknowledged, and the newest seq acked.
    pub acked: u64,
    pub last_acked_seq: u64,
    pub refused: u64,
}

/// Reads until `stop`, recording every message; a sender (with `rate`) also posts
/// `rate` messages a second, each body `"<tag>:<n>:<micros since epoch>"`.
pub async fn run(
    mut socket: Socket,
    joined_at: u64,
    epoch: Instant,
    send: Option<(String, f64)>,
    stop: tokio_util::sync::CancellationToken,
    drain: Duration,
) -> Result<Seen, LoadError> {
    let mut seen = Seen { seqs: SeqCheck::after(joined_at), ..Seen::default() };
    let period = send.as_ref().map(|(_, rate)| Duration::from_secs_f64(1.0 / rate.max(0.001)));
    let mut ticks = tokio::time::interval(period.unwrap_or(Duration::from_secs(3600)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut n = 0u64;
    let stopped = stop.cancelled();
    tokio::pin!(stopped);
    let mut draining: Option<std::pin::Pin<Box<tokio::time::Sleep>>> = None;
    loop {
        tokio::select! {
            biased;
            _ = &mut stopped, if draining.is_none() => {
                draining = Some(Box::pin(tokio::time::sleep(drain)));
            }
            () = async { draining.as_mut().expect("guarded").await }, if draining.is_some() => break,
            frame = socket.next() => match frame {
                Some(Ok(Message::Text(text))) => record(text.as_str(), epoch, &mut seen),
                Some(Ok(_)) => {}
                Some(Err(error)) => return Err(error.into()),
                None => return Err(LoadError::Protocol("the server closed the connection".into())),
            },
            _ = ticks.tick(), if period.is_some() && draining.is_none() => {
                let (tag, _) = send.as_ref().expect("a sender");
                n += 1;
                let body = format!("{tag}:{n}:{}", epoch.elapsed().as_micros());
                let msg = ClientMsg::Send { id: ClientMsgId(format!("{tag}-{n}")), body };
                socket.feed(Message::text(msg.to_json())).await?;
                // Batch what is due now into one flush.
                socket.flush().await?;
            }
        }
    }
    let _ = socket.close(None).await;
    Ok(seen)
}

/// Reads one server frame cheaply (the generator must not be the bottleneck):
/// messages by their seq and body, acks and refusals by their type.
fn record(frame: &str, epoch: Instant, seen: &mut Seen) {
    if frame.starts_with(r#"{"type":"message""#) {
        if let Some(seq) = number_after(frame, r#""seq":"#) {
            seen.seqs.saw(seq);
        }
        if let Some(sent) = body_of(frame).and_then(|body| body.rsplit(':').next()).and_then(|t| t.parse::<u64>().ok()) {
            let now = epoch.elapsed().as_micros() as u64;
            seen.latencies.record(now.saturating_sub(sent));
        }
    } else if frame.starts_with(r#"{"type":"ack""#) {
        seen.acked += 1;
        if let Some(seq) = number_after(frame, r#""seq":"#) {
            seen.last_acked_seq = seen.last_acked_seq.max(seq);
        }
    } else if frame.starts_with(r#"{"type":"error""#) {
        seen.refused += 1;
    }
}

pub fn number_after(text: &str, key: &str) -> Option<u64> {
    let start = text.find(key)? + key.len();
    let digits: &str = &text[start..];
    let end = digits.find(|c: char| !c.is_ascii_digit()).unwrap_or(digits.len());
    digits[..end].parse().ok()
}

fn body_of(frame: &str) -> Option<&str> {
    let start = frame.find(r#""body":""#)? + r#""body":""#.len();
    let end = frame[start..].find('"')?;
    Some(&frame[start..start + end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_message_frames_without_a_json_parser() {
        let frame = r#"{"type":"message","seq":42,"author":"Bot","body":"s1:7:1234","sent_at":1,"client_id":"s1-7"}"#;
        assert_eq!(number_after(frame, r#""seq":"#), Some(42));
        assert_eq!(body_of(frame), Some("s1:7:1234"));
    }
}
