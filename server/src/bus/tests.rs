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
