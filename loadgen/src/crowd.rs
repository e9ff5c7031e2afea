//! One crowded room: `members` signed-in people (an account each) join at
//! once, one message reaches every one of them, then they all leave. Measures
//! how long the joins took, the server's memory per member, how long the
//! message took to reach the last of them, and the memory after they left.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures::future::join_all;
use futures::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use super::client::{self, Stack};
use super::{rss_bytes, sign_up_many, LoadError, Percentiles};
use app::protocol::{ClientMsg, ClientMsgId};

/// Joins at once, at most (more only queue in the kernel).
const JOIN_WAVE: usize = 500;

#[derive(Debug, Clone, Default)]
pub struct CrowdReport {
    pub members: usize,
    pub sign_up: Duration,
    pub join: Duration,
    pub rss_start: u64,
    pub rss_joined: u64,
    pub rss_left: u64,
    pub delivered: usize,
    pub delivery: Percentiles,
    /// Sockets whose close did not go through (the server had gone, or hung up first).
    pub unclean_closes: usize,
}

impl CrowdReport {
    pub fn bytes_per_member(&self) -> f64 {
        self.rss_joined.saturating_sub(self.rss_start) as f64 / self.members.max(1) as f64
    }
}

pub async fn crowd(
    addr: SocketAddr,
    members: usize,
    server_pid: Option<u32>,
    settle: Duration,
    hold: Duration,
    tag: &str,
) -> Result<CrowdReport, LoadError> {
    let rss = || server_pid.and_then(rss_bytes).unwrap_or(0);
    let started = Instant::now();
    let cookies = sign_up_many(addr, &format!("lg{tag}c"), members).await?;
    let sign_up = started.elapsed();
    let room = format!("crowd-{tag}");
    // Memory after the sign-ups settled: what the joins add is what is measured.
    tokio::time::sleep(settle).await;
    let rss_start = rss();

    // Each member reads everything and reports when the message came.
    let (arrived_tx, mut arrived) = mpsc::unbounded_channel::<Instant>();
    let stop = tokio_util::sync::CancellationToken::new();
    let started = Instant::now();
    let mut readers = Vec::with_capacity(members);
    for wave in cookies.chunks(JOIN_WAVE) {
        let joins = wave.iter().map(|cookie| client::join(Stack::Chat, addr, &room, Some(cookie), None));
        for joined in join_all(joins).await {
            let (mut socket, _) = joined?;
            let (arrived_tx, stop) = (arrived_tx.clone(), stop.clone());
            readers.push(tokio::spawn(async move {
                loop {
                    let frame = tokio::select! {
                        frame = socket.next() => frame,
                        () = stop.cancelled() => break,
                    };
                    match frame {
                        Some(Ok(Message::Text(text))) if text.as_str().starts_with(r#"{"message":{"#) => {
                            // Nobody listens any more: the run has what it needs.
                            if arrived_tx.send(Instant::now()).is_err() {
                                break;
                            }
                        }
                        Some(Ok(_)) => {}
                        Some(Err(_)) | None => break,
                    }
                }
                // Whether the server saw a clean close.
                socket.close(None).await.is_ok()
            }));
        }
    }
    let join = started.elapsed();
    let rss_joined = rss();
    // All there, for as long as asked (a heap profiler looks meanwhile).
    tokio::time::sleep(hold).await;

    // One message, from a second tab of the first member.
    let (mut sender, _) = client::join(Stack::Chat, addr, &room, Some(&cookies[0]), None).await?;
    let sent_at = Instant::now();
    let send = ClientMsg::Send {
        id: ClientMsgId(format!("{tag}-crowd")),
        body: "hello, crowd".into(),
        reply_to: None,
        file: None,
    };
    sender.send(Message::text(send.to_json())).await?;
    let mut latencies = crate::Latencies::default();
    let deadline = tokio::time::sleep(Duration::from_secs(30));
    tokio::pin!(deadline);
    let mut delivered = 0;
    while delivered < members {
        tokio::select! {
            at = arrived.recv() => match at {
                Some(at) => {
                    latencies.record(at.duration_since(sent_at).as_micros() as u64);
                    delivered += 1;
                }
                None => break,
            },
            () = &mut deadline => break,
        }
    }
    let delivery = latencies.summary();

    // Everyone leaves; the server gets a moment to let go.
    stop.cancel();
    let mut unclean_closes = usize::from(sender.close(None).await.is_err());
    for reader in readers {
        unclean_closes += usize::from(!reader.await?);
    }
    tokio::time::sleep(settle).await;
    let rss_left = rss();
    Ok(CrowdReport { members, sign_up, join, rss_start, rss_joined, rss_left, delivered, delivery, unclean_closes })
}
