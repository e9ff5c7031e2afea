//! The listener: accepts TCP connections and serves HTTP/1.1 on each (with
//! upgrades, for the WebSocket), holding every peer to limits below the routes:
//!
//! - at most `tcp_connections_per_ip` open connections per address, counted at
//!   accept (an address at its cap has further connections closed at once);
//! - a request head must arrive within `header_read_timeout` of the server
//!   starting to wait for it (a new connection, or a kept-alive one between
//!   requests), so a silent or half-sent head holds nothing for long;
//! - a connection on which nothing moves either way for `http_idle_timeout` is
//!   closed (a stalled body, a peer that stopped reading).
//!
//! A connection upgraded to a WebSocket leaves these limits for the session's
//! own (ping, idle and write timeouts); it stays counted for its address.
//!
//! Hand-written over hyper rather than `axum::serve`, which sets no timer (so
//! hyper's header-read timeout never fires), keeps idle connections forever and
//! has no place to count connections per address.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use crate::limits::PeerSlot;
use crate::state::AppState;

/// How long shutdown waits for sessions, then for HTTP connections, to end.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// After a failed accept (out of file descriptors, say), the listener waits
/// this long before the next, rather than spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Connections the kernel keeps waiting for the server to accept (capped by
/// `net.core.somaxconn`). The standard library's 128 overflowed when thousands
/// of people connected at once: each connection over it had its SYN dropped
/// and retried a second later, so 10,000 members took 11 s to join one room
/// on cores that were three-quarters idle.
pub const LISTEN_BACKLOG: u32 = 4096;

/// The server's listening socket on `addr`, with [`LISTEN_BACKLOG`].
pub fn bind(addr: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    // As the standard library does: a restart can listen again at once.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Serves until `signal` completes; then tells every WebSocket session, stops
/// accepting, waits (up to [`SHUTDOWN_GRACE`] each) for the sessions and the
/// HTTP connections to end, and closes the hub and the store.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    signal: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let shutdown = state.shutdown.clone();
    let sessions = state.sessions.clone();
    let hub = state.hub.clone();
    let pusher = state.pusher.clone();
    let outgoing = state.outgoing.clone();
    let seen = state.seen.clone();
    let retention = state.retention.clone();
    let peers = state.peers.clone();
    let limits = Limits { header_read: state.policy.header_read_timeout, idle: state.policy.http_idle_timeout };
    let router = super::routes::router(state);
    let connections = TaskTracker::new();
    tokio::pin!(signal);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            () = &mut signal => {
                shutdown.cancel();
                break;
            }
            () = shutdown.cancelled() => break,
        };
        let Some(slot) = peers.open(peer.ip()) else {
            tracing::debug!(%peer, "closing a connection over its address's cap");
            continue;
        };
        if let Err(error) = stream.set_nodelay(true) {
            // Chat frames are small and wanted now: without TCP_NODELAY, Nagle's
            // algorithm holds a frame back until the previous one is acknowledged.
            tracing::debug!(%error, "could not set TCP_NODELAY");
        }
        connections.spawn(connection(stream, peer, slot, router.clone(), limits, shutdown.clone()));
    }
    drop(listener);
    connections.close();
    sessions.close();
    if tokio::time::timeout(SHUTDOWN_GRACE, sessions.wait()).await.is_err() {
        tracing::warn!(left = sessions.len(), "sessions still open after the shutdown grace period");
    }
    if tokio::time::timeout(SHUTDOWN_GRACE, connections.wait()).await.is_err() {
        tracing::warn!(left = connections.len(), "connections still open after the shutdown grace period");
    }
    // Pushes and bots' webhooks first (they read the store, and a bot's
    // reply posts); then the sessions' last posts are stored, then the
    // store's last checkpoint.
    pusher.close().await;
    outgoing.close().await;
    seen.close().await;
    if let Some(retention) = &retention {
        retention.close().await;
    }
    hub.close().await;
    Ok(())
}

#[derive(Debug, Clone, Copy)]
struct Limits {
    header_read: Duration,
    idle: Duration,
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    slot: PeerSlot,
    router: Router,
    limits: Limits,
    shutdown: CancellationToken,
) {
    let activity = Arc::new(Activity::now());
    let io = Watched { stream, activity: activity.clone(), _slot: slot };
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        router.clone().oneshot(request.map(Body::new))
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_read).keep_alive(true);
    let conn = builder.serve_connection(TokioIo::new(io), service).with_upgrades();
    tokio::pin!(conn);
    let mut closing = false;
    loop {
        let quiet_until = activity.last() + limits.idle;
        tokio::select! {
            result = conn.as_mut() => {
                activity.unwatch();
                if let Err(error) = result {
                    tracing::debug!(%error, %peer, "connection ended with an error");
                }
                return;
            }
            () = shutdown.cancelled(), if !closing => {
                closing = true;
                conn.as_mut().graceful_shutdown();
            }
            () = tokio::time::sleep_until(quiet_until) => {
                if activity.last() + limits.idle <= Instant::now() {
                    tracing::debug!(%peer, "closing a connection idle for too long");
                    return;
                }
            }
        }
    }
}

/// When bytes last moved on a connection, in milliseconds since [`epoch`], while
/// the watchdog still cares: after an upgrade the WebSocket's own timeouts
/// govern, and its reads and writes no longer read the clock for this.
struct Activity {
    last: AtomicU64,
    watched: AtomicBool,
}

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

impl Activity {
    fn now() -> Self {
        let activity = Activity { last: AtomicU64::new(0), watched: AtomicBool::new(true) };
        activity.touch();
        activity
    }

    fn touch(&self) {
        if self.watched.load(Ordering::Relaxed) {
            self.last.store(epoch().elapsed().as_millis() as u64, Ordering::Relaxed);
        }
    }

    fn last(&self) -> Instant {
        epoch() + Duration::from_millis(self.last.load(Ordering::Relaxed))
    }

    /// The HTTP part of the connection is over (ended, or upgraded).
    fn unwatch(&self) {
        self.watched.store(false, Ordering::Relaxed);
    }
}

/// The TCP stream, noting when bytes move, and holding the connection's place
/// in its address's count for as long as the stream lives (an upgraded
/// WebSocket included).
struct Watched {
    stream: TcpStream,
    activity: Arc<Activity>,
    _slot: PeerSlot,
}

impl AsyncRead for Watched {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write(cx, data);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
