//! Below HTTP: a peer that sends half a request head, or nothing, or keeps an
//! idle connection, holds nothing for long; one address holding its cap of
//! open connections costs the others nothing.

mod support;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use server::policy::Policy;
use support::{eventually, get, TestServer, PATIENCE};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// Waits for the server to close `stream`; returns what it sent before closing.
async fn closed_by_server(stream: &mut TcpStream, within: Duration) -> Vec<u8> {
    let mut received = Vec::new();
    let read = tokio::time::timeout(within, stream.read_to_end(&mut received)).await;
    match read {
        Ok(Ok(_)) => received,
        // A reset is a close too.
        Ok(Err(error)) if error.kind() == std::io::ErrorKind::ConnectionReset => received,
        Ok(Err(error)) => panic!("reading failed: {error}"),
        Err(_) => panic!("the server kept the connection open past {within:?}"),
    }
}

/// A connection from `from` (any 127.x address is this machine) to `server`.
async fn connect_from(from: IpAddr, server: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(from, 0)).unwrap();
    socket.connect(server).await.unwrap()
}

#[tokio::test]
async fn half_sent_heads_silent_peers_and_idle_keep_alives_are_closed_in_time() {
    let server = TestServer::start_with_policy(Policy {
        header_read_timeout: Duration::from_secs(1),
        http_idle_timeout: Duration::from_secs(2),
        ..Policy::default()
    })
    .await;
    let started = tokio::time::Instant::now();

    let mut half = TcpStream::connect(server.addr).await.unwrap();
    half.write_all(b"GET /chat/ HTTP/1.1\r\nHost: chat.example\r\n").await.unwrap();
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    let mut kept = TcpStream::connect(server.addr).await.unwrap();
    kept.write_all(b"GET /chat HTTP/1.1\r\nHost: chat.example\r\n\r\n").await.unwrap();
    let mut head = [0u8; 12];
    kept.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 308", "the kept-alive connection was served first");

    // The header timeout (1 s) ends all three; the margin is for a loaded machine.
    let within = Duration::from_secs(1) + PATIENCE;
    closed_by_server(&mut half, within).await;
    closed_by_server(&mut silent, within).await;
    closed_by_server(&mut kept, within).await;
    assert!(started.elapsed() >= Duration::from_millis(900), "not before the timeout");
    eventually("their places are free", || server.state.peers.open_from("127.0.0.1".parse().unwrap()) == 0).await;
    server.shut_down().await;
}

#[tokio::test]
async fn an_address_at_its_cap_is_refused_more_while_others_are_served() {
    let server = TestServer::start_with_policy(Policy { tcp_connections_per_ip: 5, ..Policy::default() }).await;
    let greedy: IpAddr = "127.0.0.2".parse().unwrap();
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(connect_from(greedy, server.addr).await);
    }
    eventually("five connections are counted", || server.state.peers.open_from(greedy) == 5).await;

    let mut sixth = connect_from(greedy, server.addr).await;
    let answer = closed_by_server(&mut sixth, PATIENCE).await;
    assert!(answer.is_empty(), "over the cap, the connection is closed unanswered");

    // Everyone else is served meanwhile.
    let page = get(server.addr, "/chat/", None).await;
    assert_eq!(page.status, 200, "{page:?}");

    // A place freed is a place to use.
    drop(held.pop());
    eventually("the closed one is counted out", || server.state.peers.open_from(greedy) == 4).await;
    let mut again = connect_from(greedy, server.addr).await;
    again.write_all(b"GET /chat HTTP/1.1\r\nHost: chat.example\r\nConnection: close\r\n\r\n").await.unwrap();
    let reply = closed_by_server(&mut again, PATIENCE).await;
    assert!(reply.starts_with(b"HTTP/1.1 308"), "{}", String::from_utf8_lossy(&reply));
    server.shut_down().await;
}
