//! The load generator behind `cargo run --release -p loadgen`: many
//! simulated people speaking the chat protocol to a running server, measuring
//! end-to-end latency, deliveries per second, loss and duplication (by each
//! room's seq), connect rate and the server's memory per idle connection.

mod client;
mod crowd;
pub mod http;
mod stats;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures::future::join_all;
use tokio_util::sync::CancellationToken;

pub use client::Stack;
pub use crowd::{crowd, Crowd, CrowdReport};
pub use stats::{Latencies, Percentiles, SeqCheck};

/// The password of every account the generator makes.
pub const PASSWORD: &str = "load generator password";

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("websocket: {0}")]
    Socket(#[from] tokio_tungstenite::tungstenite::Error),
    #[error("http: {0}")]
    Http(#[from] http::HttpError),
    #[error("{0}")]
    Protocol(String),
    #[error("a client task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    #[error("cookie file: {0}")]
    File(#[from] std::io::Error),
}

/// Rooms of people, some of whom post at a steady rate.
#[derive(Debug, Clone)]
pub struct RoomLoad {
    pub stack: Stack,
    pub addr: SocketAddr,
    /// Other servers of the same deployment (several processes on one
    /// database): members are spread over `addr` and these, in turn.
    pub also: Vec<SocketAddr>,
    pub rooms: usize,
    /// People per room, senders included.
    pub members: usize,
    /// Senders per room.
    pub senders: usize,
    /// Messages per second, per sender.
    pub rate: f64,
    pub duration: Duration,
    /// How long after the last send receivers keep reading.
    pub drain: Duration,
    /// Makes room names and usernames unique to this run.
    pub tag: String,
}

#[derive(Debug, Clone, Default)]
pub struct RoomReport {
    pub sent: u64,
    pub refused: u64,
    pub deliveries: u64,
    pub expected: u64,
    pub lost: u64,
    pub duplicated: u64,
    /// The chat only: holes and repeats in what each member saw of its room's seq.
    pub seq_gaps: u64,
    pub latency: Percentiles,
    pub deliveries_per_sec: f64,
    pub connect: Duration,
}

/// Signs up `count` accounts named `<prefix><i>` (a few at a time) and returns
/// their session cookies.
pub async fn sign_up_many(addr: SocketAddr, prefix: &str, count: usize) -> Result<Vec<String>, LoadError> {
    let mut cookies = Vec::with_capacity(count);
    for chunk in (0..count).collect::<Vec<_>>().chunks(8) {
        let replies = join_all(chunk.iter().map(|i| {
            let username = format!("{prefix}{i}");
            async move {
                let fields = [
                    ("username", username.as_str()),
                    ("display_name", username.as_str()),
                    ("password", PASSWORD),
                    ("next", "/chat/"),
                ];
                http::post_form(addr, "/api/sign-up", &fields, None).await
            }
        }))
        .await;
        for reply in replies {
            let reply = reply?;
            let cookie = reply
                .session_cookie()
                .ok_or_else(|| LoadError::Protocol(format!("sign-up refused: {:?}", reply.header("location"))))?;
            cookies.push(cookie);
        }
    }
    Ok(cookies)
}

pub async fn room_load(load: &RoomLoad) -> Result<RoomReport, LoadError> {
    let epoch = Instant::now();
    let username_prefix = format!("lg{}s", load.tag);
    let cookies = if load.stack == Stack::Chat {
        sign_up_many(load.addr, &username_prefix, load.rooms * load.senders).await?
    } else {
        Vec::new()
    };

    let connecting = Instant::now();
    let mut joins = Vec::new();
    for room in 0..load.rooms {
        let name = format!("lg-{}-{room}", load.tag);
        for member in 0..load.members {
            let cookie = cookies.get(room * load.senders + member).filter(|_| member < load.senders).cloned();
            let name = name.clone();
            let nodes = 1 + load.also.len();
            let addr = match (room * load.members + member) % nodes {
                0 => load.addr,
                n => load.also[n - 1],
            };
            let stack = load.stack;
            joins.push(async move {
                let (socket, latest) = client::join(stack, addr, &name, cookie.as_deref(), None).await?;
                Ok::<_, LoadError>((room, member, socket, latest))
            });
        }
    }
    // Connect in waves, as a crowd arriving would, without a thundering herd of SYNs.
    let mut joined = Vec::with_capacity(joins.len());
    let mut joins = joins.into_iter();
    loop {
        let wave: Vec<_> = joins.by_ref().take(256).collect();
        if wave.is_empty() {
            break;
        }
        for result in join_all(wave).await {
            joined.push(result?);
        }
    }
    let connect = connecting.elapsed();

    let stop = CancellationToken::new();
    let sending_from = epoch.elapsed();
    let tasks: Vec<_> = joined
        .into_iter()
        .map(|(room, member, socket, latest)| {
            let behaviour = client::Behaviour {
                stack: load.stack,
                epoch,
                send: (member < load.senders).then(|| (format!("r{room}m{member}"), load.rate)),
                phase: (room * load.senders + member) as f64 / (load.rooms * load.senders).max(1) as f64,
                stop: stop.clone(),
                drain: load.drain,
            };
            (room, latest, tokio::spawn(client::run(socket, latest, behaviour)))
        })
        .collect();
    tokio::time::sleep(load.duration).await;
    stop.cancel();

    let mut per_room: Vec<Vec<(u64, client::Seen)>> = (0..load.rooms).map(|_| Vec::new()).collect();
    for (room, latest, task) in tasks {
        per_room[room].push((latest, task.await??));
    }
    let mut report = RoomReport { connect, ..RoomReport::default() };
    let mut latencies = Latencies::default();
    let mut last_delivery = Duration::ZERO;
    for (room, members) in per_room.into_iter().enumerate() {
        let room_last = members.iter().map(|(_, seen)| seen.seqs.last().max(seen.last_acked_seq)).max().unwrap_or(0);
        // What each sender of the room sent, by its tag.
        let sent_by: std::collections::HashMap<String, u64> = members
            .iter()
            .enumerate()
            .filter(|(_, (_, seen))| seen.sent > 0)
            .map(|(member, (_, seen))| (format!("r{room}m{member}"), seen.sent))
            .collect();
        let room_sent: u64 = sent_by.values().sum();
        for (_, mut seen) in members {
            seen.finish(&sent_by);
            report.sent += seen.sent;
            report.refused += seen.refused;
            report.deliveries += seen.received;
            report.expected += room_sent;
            report.lost += seen.lost;
            report.duplicated += seen.duplicated;
            if load.stack == Stack::Chat {
                seen.seqs.finish(room_last);
                report.seq_gaps += seen.seqs.lost + seen.seqs.duplicated;
            }
            last_delivery = last_delivery.max(Duration::from_micros(seen.last_delivery_us));
            latencies.merge(seen.latencies);
        }
    }
    report.latency = latencies.summary();
    // Over the time deliveries took, backlog included: past saturation they go on
    // arriving after the senders stop.
    let delivering = load.duration.max(last_delivery.saturating_sub(sending_from));
    report.deliveries_per_sec = report.deliveries as f64 / delivering.as_secs_f64();
    Ok(report)
}

#[derive(Debug, Clone, Default)]
pub struct IdleReport {
    pub connections: usize,
    pub connect: Duration,
    pub rss_before: u64,
    pub rss_after: u64,
}

impl IdleReport {
    pub fn bytes_per_connection(&self) -> f64 {
        self.rss_after.saturating_sub(self.rss_before) as f64 / self.connections.max(1) as f64
    }
}

/// Opens `connections` signed-out readers over `rooms` rooms and measures the
/// server's resident memory before and after (`server_pid`, from `/proc`).
pub async fn idle(
    stack: Stack,
    addr: SocketAddr,
    connections: usize,
    rooms: usize,
    server_pid: Option<u32>,
    tag: &str,
) -> Result<(IdleReport, Vec<client::Socket>), LoadError> {
    let rss_before = server_pid.and_then(rss_bytes).unwrap_or(0);
    let started = Instant::now();
    let mut sockets = Vec::with_capacity(connections);
    let all: Vec<usize> = (0..connections).collect();
    for wave in all.chunks(256) {
        let joins = wave.iter().map(|i| {
            let room = format!("idle-{tag}-{}", i % rooms.max(1));
            async move { client::join(stack, addr, &room, None, None).await }
        });
        for result in join_all(joins).await {
            sockets.push(result?.0);
        }
    }
    let connect = started.elapsed();
    let rss_after = server_pid.and_then(rss_bytes).unwrap_or(0);
    Ok((IdleReport { connections, connect, rss_before, rss_after }, sockets))
}

#[derive(Debug, Clone, Default)]
pub struct StormReport {
    pub clients: usize,
    pub missed_each: u64,
    pub caught_up: Duration,
    pub lost: u64,
    pub duplicated: u64,
}

/// `clients` readers drop at once while `missed` messages are posted, then all
/// come back at once with `since`: how long until every one has every message.
pub async fn reconnect_storm(
    addr: SocketAddr,
    clients: usize,
    missed: u64,
    tag: &str,
) -> Result<StormReport, LoadError> {
    let room = format!("storm-{tag}");
    let cookie = sign_up_many(addr, &format!("lg{tag}storm"), 1).await?.remove(0);
    let (mut sender, _) = client::join(Stack::Chat, addr, &room, Some(&cookie), None).await?;
    let mut readers = Vec::with_capacity(clients);
    for wave in (0..clients).collect::<Vec<_>>().chunks(256) {
        for result in join_all(wave.iter().map(|_| client::join(Stack::Chat, addr, &room, None, None))).await {
            readers.push(result?);
        }
    }
    let since: Vec<u64> = readers.iter().map(|(_, latest)| *latest).collect();
    // Everyone drops.
    drop(readers);
    // Meanwhile the room goes on.
    let last = post_and_wait(&mut sender, missed, tag).await?;
    // Everyone comes back at once.
    let started = Instant::now();
    let room = &room;
    let resumes = since.iter().map(|since| async move {
        let (mut socket, _) = client::join(Stack::Chat, addr, room, None, Some(*since)).await?;
        let mut check = SeqCheck::after(*since);
        while check.last() < last {
            match futures::StreamExt::next(&mut socket).await {
                Some(Ok(tokio_tungstenite::tungstenite::Message::Text(text)))
                    if text.as_str().starts_with(r#"{"message":{"#) =>
                {
                    if let Some(seq) = client::number_after(text.as_str(), r#""seq":"#) {
                        check.saw(seq);
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => return Err(LoadError::from(error)),
                None => return Err(LoadError::Protocol("closed while catching up".into())),
            }
        }
        Ok::<_, LoadError>(check)
    });
    let checks = join_all(resumes).await;
    let caught_up = started.elapsed();
    let mut report = StormReport { clients, missed_each: missed, caught_up, ..StormReport::default() };
    for check in checks {
        let mut check = check?;
        check.finish(last);
        report.lost += check.lost;
        report.duplicated += check.duplicated;
    }
    Ok(report)
}

/// Gives `room` `count` messages from a fresh account (for page benchmarks).
pub async fn seed_room(addr: SocketAddr, room: &str, count: u64, tag: &str) -> Result<u64, LoadError> {
    let cookie = sign_up_many(addr, &format!("lg{tag}seed"), 1).await?.remove(0);
    let (mut sender, _) = client::join(Stack::Chat, addr, room, Some(&cookie), None).await?;
    post_and_wait(&mut sender, count, tag).await
}

/// Signs up one reader who posts once in each of `rooms`, which puts them in
/// the reader's room list; returns the reader's cookie.
pub async fn listed_reader(addr: SocketAddr, tag: &str, rooms: &[String]) -> Result<String, LoadError> {
    let cookie = sign_up_many(addr, &format!("lg{tag}reader"), 1).await?.remove(0);
    for (n, room) in rooms.iter().enumerate() {
        let (mut socket, _) = client::join(Stack::Chat, addr, room, Some(&cookie), None).await?;
        post_and_wait(&mut socket, 1, &format!("{tag}-listed-{n}")).await?;
    }
    Ok(cookie)
}

#[derive(Debug, Clone, Default)]
pub struct PageReport {
    pub requests: u64,
    pub failed: u64,
    pub per_sec: f64,
    pub latency: Percentiles,
}

/// Requests `path` from `concurrency` clients at once for `duration` (a new
/// connection each, as first visits are), with `cookie` if given.
pub async fn pages(
    addr: SocketAddr,
    path: &str,
    cookie: Option<&str>,
    concurrency: usize,
    duration: Duration,
) -> PageReport {
    let started = Instant::now();
    let clients = (0..concurrency).map(|_| async move {
        let mut latencies = Latencies::default();
        let (mut ok, mut failed) = (0u64, 0u64);
        while started.elapsed() < duration {
            let at = Instant::now();
            match http::get(addr, path, cookie).await {
                Ok(reply) if reply.status == 200 => {
                    ok += 1;
                    latencies.record(at.elapsed().as_micros() as u64);
                }
                _ => failed += 1,
            }
        }
        (ok, failed, latencies)
    });
    let mut report = PageReport::default();
    let mut latencies = Latencies::default();
    for (ok, failed, l) in join_all(clients).await {
        report.requests += ok;
        report.failed += failed;
        latencies.merge(l);
    }
    report.per_sec = report.requests as f64 / started.elapsed().as_secs_f64();
    report.latency = latencies.summary();
    report
}

/// Posts `count` messages and waits for their acks; returns the last seq.
async fn post_and_wait(socket: &mut client::Socket, count: u64, tag: &str) -> Result<u64, LoadError> {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;

    for n in 0..count {
        let msg = app::protocol::ClientMsg::Send {
            id: app::protocol::ClientMsgId(format!("storm-{tag}-{n}")),
            body: format!("missed {n}"),
            reply_to: None,
            file: None,
        };
        socket.feed(Message::text(msg.to_json())).await?;
    }
    socket.flush().await?;
    let (mut acked, mut last) = (0, 0);
    while acked < count {
        match socket.next().await {
            Some(Ok(Message::Text(text))) if text.as_str().starts_with(r#"{"ack":{"#) => {
                acked += 1;
                last = last.max(client::number_after(text.as_str(), r#""seq":"#).unwrap_or(0));
            }
            Some(Ok(Message::Text(text))) if text.as_str().starts_with(r#"{"error":{"#) => {
                return Err(LoadError::Protocol(format!("a post was refused: {text}")));
            }
            Some(Ok(_)) => {}
            Some(Err(error)) => return Err(error.into()),
            None => return Err(LoadError::Protocol("the sender was disconnected".into())),
        }
    }
    Ok(last)
}

/// A process's resident memory, from `/proc/<pid>/status`.
/// The server's RSS once it has let go of what closed connections held:
/// read every 250 ms until it stops falling (two readings within 0.5%), for
/// at most `patience`.
pub async fn settled_rss(pid: u32, patience: Duration) -> Option<u64> {
    let deadline = Instant::now() + patience;
    let mut last = rss_bytes(pid)?;
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = rss_bytes(pid)?;
        let steady = now >= last || (last - now) * 200 < last;
        if (steady && now <= last) || Instant::now() >= deadline {
            return Some(now);
        }
        last = now;
    }
}

pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
