//! The bus on the machine's real Redis (started by `scripts/services.sh` when
//! it is not running; never skipped).

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::sync::mpsc::Receiver;
use tokio::time::{timeout, Instant};

use super::{Bus, BusEvent};

const PATIENCE: Duration = Duration::from_secs(10);

fn redis_url() -> String {
    std::env::var("CHAT_TEST_REDIS").unwrap_or_else(|_| crate::store::from_services_script("CHAT_TEST_REDIS"))
}

/// A channel no other test (or earlier run) uses.
fn channel(name: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!("chat-test:{}:{}:{name}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Publishes `payload` on `channel` from `from` until `heard` has it (a
/// subscription takes effect a moment after it is asked for, and a publish
/// before then is lost, as on any pub/sub bus). Other events heard meanwhile
/// are returned, in order.
async fn publish_until_heard(
    from: &Bus,
    channel: &str,
    payload: &[u8],
    heard: &mut Receiver<BusEvent>,
) -> Vec<BusEvent> {
    let deadline = Instant::now() + PATIENCE;
    let mut other = Vec::new();
    loop {
        assert!(Instant::now() < deadline, "{channel}: never heard; heard instead {other:?}");
        from.publish(channel.to_owned(), payload.to_vec());
        while let Ok(Some(event)) = timeout(Duration::from_millis(50), heard.recv()).await {
            match event {
                BusEvent::Message { channel: c, payload: p } if c == channel && p == payload => return other,
                event => other.push(event),
            }
        }
    }
}

#[tokio::test]
async fn what_one_process_publishes_another_subscribed_hears_until_it_unsubscribes() {
    let url = redis_url();
    let (a, _) = Bus::connect(&url, "test").await.unwrap();
    let (b, mut heard) = Bus::connect(&url, "test").await.unwrap();
    let (room, marker) = (channel("room"), channel("marker"));
    b.subscribe(room.clone());
    b.subscribe(marker.clone());
    publish_until_heard(&a, &room, b"hello", &mut heard).await;
    publish_until_heard(&a, &marker, b"ready", &mut heard).await;

    // Unsubscribed: a round of (room, marker) published brings the marker alone.
    b.unsubscribe(room.clone());
    let deadline = Instant::now() + PATIENCE;
    loop {
        assert!(Instant::now() < deadline, "still hearing {room} after unsubscribing");
        a.publish(room.clone(), b"after".to_vec());
        let before_marker = publish_until_heard(&a, &marker, b"round", &mut heard).await;
        let heard_room =
            before_marker.iter().any(|e| matches!(e, BusEvent::Message { channel, .. } if *channel == room));
        if !heard_room {
            break;
        }
    }
    assert_eq!(a.dropped(), 0);
    a.close().await;
    b.close().await;
}

/// Redis closes every pub/sub connection (`CLIENT KILL TYPE pubsub`, as when it
/// restarts): the bus connects again, subscribes to its channels again and
/// says so, and hears what is published from then on.
#[tokio::test]
async fn a_killed_subscription_comes_back_subscribed_and_says_so() {
    let url = redis_url();
    let (a, _) = Bus::connect(&url, "test").await.unwrap();
    let (b, mut heard) = Bus::connect(&url, "test").await.unwrap();
    let room = channel("room");
    b.subscribe(room.clone());
    publish_until_heard(&a, &room, b"before", &mut heard).await;

    let client = redis::Client::open(url.as_str()).unwrap();
    let mut admin = client.get_multiplexed_async_connection().await.unwrap();
    let killed: i64 = redis::cmd("CLIENT").arg("KILL").arg("TYPE").arg("pubsub").query_async(&mut admin).await.unwrap();
    assert!(killed >= 1, "the bus's subscription was a pub/sub connection");

    let deadline = Instant::now() + PATIENCE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match timeout(left, heard.recv()).await {
            Ok(Some(BusEvent::Reconnected)) => break,
            Ok(Some(_)) => continue,
            Ok(None) | Err(_) => panic!("the bus never said it was back"),
        }
    }
    publish_until_heard(&a, &room, b"after", &mut heard).await;
    a.close().await;
    b.close().await;
}

/// A TCP relay to Redis that can be cut (every connection closed, new ones
/// refused) and restored, as Redis going away and coming back looks.
struct Cuttable {
    addr: std::net::SocketAddr,
    up: std::sync::Arc<std::sync::atomic::AtomicBool>,
    cut: std::sync::Arc<tokio::sync::Notify>,
}

impl Cuttable {
    async fn to(target: std::net::SocketAddr) -> Cuttable {
        use std::sync::atomic::Ordering::SeqCst;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let cut = std::sync::Arc::new(tokio::sync::Notify::new());
        let (up2, cut2) = (up.clone(), cut.clone());
        tokio::spawn(async move {
            let mut relayed = tokio::task::JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((mut client, _)) = accepted else { return };
                        if up2.load(SeqCst) {
                            relayed.spawn(async move {
                                if let Ok(mut server) = tokio::net::TcpStream::connect(target).await {
                                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                                }
                            });
                        }
                    }
                    () = cut2.notified() => relayed.abort_all(),
                }
            }
        });
        Cuttable { addr, up, cut }
    }
}

/// Redis goes away: the bus says it has settled at once instead of making
/// every join wait, keeps the subscriptions asked for meanwhile, and once
/// Redis is back says so and hears on all of them.
#[tokio::test]
async fn while_redis_is_away_joins_are_not_held_up_and_it_comes_back_subscribed() {
    use std::sync::atomic::Ordering::SeqCst;
    let url = url::Url::parse(&redis_url()).unwrap();
    let target = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(6379)).parse().unwrap();
    let relay = Cuttable::to(target).await;
    let (a, _) = Bus::connect(&redis_url(), "test").await.unwrap();
    let (b, mut heard) = Bus::connect(&format!("redis://{}", relay.addr), "test").await.unwrap();
    let (before, meanwhile) = (channel("before"), channel("meanwhile"));
    b.subscribe(before.clone());
    publish_until_heard(&a, &before, b"up", &mut heard).await;

    relay.up.store(false, SeqCst);
    relay.cut.notify_one();
    b.subscribe(meanwhile.clone());
    // Answered while Redis is away, long before the patience given.
    timeout(PATIENCE, b.settled(PATIENCE * 10)).await.expect("settled without waiting for Redis");

    relay.up.store(true, SeqCst);
    let deadline = Instant::now() + PATIENCE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match timeout(left, heard.recv()).await {
            Ok(Some(BusEvent::Reconnected)) => break,
            Ok(Some(_)) => continue,
            Ok(None) | Err(_) => panic!("the bus never came back"),
        }
    }
    publish_until_heard(&a, &meanwhile, b"asked for while away", &mut heard).await;
    publish_until_heard(&a, &before, b"and the old one", &mut heard).await;
    a.close().await;
    b.close().await;
}

/// A publisher that lost a message (here dropped on purpose, as a failed
/// publish or a full queue loses one) tells the others once its queue is
/// empty, and they hear it as [`BusEvent::Lost`].
#[tokio::test]
async fn a_publisher_that_lost_a_message_tells_the_others() {
    let url = redis_url();
    let namespace = channel("lossy");
    let dropping = super::Faults { drop: 1.0, ..super::Faults::default() };
    let (lossy, _) = Bus::connect_with_faults(&url, &namespace, Some(dropping)).await.unwrap();
    let (other, mut heard) = Bus::connect(&url, &namespace).await.unwrap();
    other.settled(PATIENCE).await;
    lossy.publish_told(channel("room"), b"never sent".to_vec());
    match timeout(PATIENCE, heard.recv()).await {
        Ok(Some(BusEvent::Lost)) => {}
        other => panic!("expected to hear of the loss, got {other:?}"),
    }
    lossy.close().await;
    other.close().await;
}
