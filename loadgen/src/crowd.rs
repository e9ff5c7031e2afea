//! One crowded room: `members` signed-in people (an account each) join at
//! once, one message reaches every one of them, then they all leave. Measures
//! how long the joins took, the server's memory per member, how long the
//! message took to reach the last of them, and the memory after they left.
//!
//! Signing up 10,000 accounts takes minutes (each password is hashed on
//! purpose slowly): with a cookie file, the sessions of an earlier run against
//! the same data directory are used again. Several messages, one after the
//! other (each once all had the one before), give the percentiles more samples.

use std::net::SocketAddr;
use std::path::PathBuf;
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
    pub messages: usize,
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

/// How a crowd run goes.
#[derive(Debug, Clone)]
pub struct Crowd {
    pub addr: SocketAddr,
    pub members: usize,
    pub server_pid: Option<u32>,
    /// Wait after the sign-ups and after the leaving, before reading memory.
    pub settle: Duration,
    /// Everyone stays joined this long before the first message.
    pub hold: Duration,
    /// Messages sent, one after the other.
    pub messages: usize,
    /// Session cookies kept here (one per line) and used again by a later run.
    pub cookies: Option<PathBuf>,
    pub tag: String,
}

/// The members' session cookies: the file's, when it holds enough, else new
/// accounts' (written to the file for the next run).
async fn member_cookies(crowd: &Crowd) -> Result<Vec<String>, LoadError> {
    if let Some(path) = &crowd.cookies {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            // No file yet: this run makes it.
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(error) => return Err(error.into()),
        };
        let kept: Vec<String> = text.lines().filter(|l| !l.is_empty()).map(str::to_owned).collect();
        if kept.len() >= crowd.members {
            return Ok(kept.into_iter().take(crowd.members).collect());
        }
    }
    let cookies = sign_up_many(crowd.addr, &format!("lg{}c", crowd.tag), crowd.members).await?;
    if let Some(path) = &crowd.cookies {
        std::fs::write(path, cookies.join("\n"))?;
    }
    Ok(cookies)
}

pub async fn crowd(crowd: &Crowd) -> Result<CrowdReport, LoadError> {
    let Crowd { addr, members, server_pid, settle, hold, messages, ref tag, .. } = *crowd;
    let rss = || server_pid.and_then(rss_bytes).unwrap_or(0);
    let started = Instant::now();
    let cookies = member_cookies(crowd).await?;
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

    // The messages, from a second tab of the first member, each once every
    // member had the one before.
    let (mut sender, _) = client::join(Stack::Chat, addr, &room, Some(&cookies[0]), None).await?;
    let mut latencies = crate::Latencies::default();
    let mut delivered = 0;
    for n in 0..messages {
        let sent_at = Instant::now();
        let send = ClientMsg::Send {
            id: ClientMsgId(format!("{tag}-crowd-{n}")),
            body: format!("hello, crowd ({n})"),
            reply_to: None,
            file: None,
        };
        sender.send(Message::text(send.to_json())).await?;
        let deadline = tokio::time::sleep(Duration::from_secs(30));
        tokio::pin!(deadline);
        let mut reached = 0;
        while reached < members {
            tokio::select! {
                at = arrived.recv() => match at {
                    Some(at) => {
                        latencies.record(at.duration_since(sent_at).as_micros() as u64);
                        reached += 1;
                    }
                    None => break,
                },
                () = &mut deadline => break,
            }
        }
        delivered += reached;
        if reached < members {
            break;
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
    Ok(CrowdReport {
        members,
        messages,
        sign_up,
        join,
        rss_start,
        rss_joined,
        rss_left,
        delivered,
        delivery,
        unclean_closes,
    })
}
