//! The bus between server processes (`--bus redis://…`): Redis pub/sub, used
//! as what it is, at most once. A process publishes what it committed on the
//! room's channel and subscribes to the channels of the rooms it has members
//! in; the receiving side puts events in order and fills what the bus lost
//! from the database (`hub::sequencer`), so nothing here has to be reliable,
//! only quick and never in the way:
//!
//! - publishing never waits: a message goes to a bounded queue that one task
//!   empties into Redis; a full queue or an error drops it (counted, logged
//!   once a burst), and the ack a sender got is never taken back;
//! - subscribing is one task holding the pub/sub connection: when Redis goes
//!   away it connects again (backing off), subscribes to every channel it had
//!   again, and says [`BusEvent::Reconnected`], after which the hub compares
//!   its rooms with the database (whatever was published meanwhile is lost).
//!
//! - when a message is lost on this side (the queue full, a publish failed),
//!   the publisher says so once the queue is empty again, on [`LOST_CHANNEL`]
//!   (at most once a second): the others then compare what they show with the
//!   database ([`BusEvent::Lost`]). Redis itself loses messages only to a
//!   subscriber it disconnected, which hears [`BusEvent::Reconnected`].
//!
//! Each process's messages carry its bus's id, so that it does not hear its
//! own back; every channel is named within the deployment's namespace
//! ([`namespace`], kept in its database), so that deployments sharing one
//! Redis never hear each other. Both tasks are owned here and end with [`Bus::close`].

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::mpsc;

mod faults;
pub use faults::Faults;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Messages waiting to be published before more are dropped.
const PUBLISH_QUEUE: usize = 8192;
/// Longest wait between two attempts to reach Redis again.
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// Where a process says it lost some of what it published.
pub const LOST_CHANNEL: &str = "chat:lost";
/// Least time between two such notices from one process.
const LOST_PACE: Duration = Duration::from_secs(1);

/// What the subscriber hears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BusEvent {
    Message {
        channel: String,
        payload: Vec<u8>,
    },
    /// The subscription was lost and is back: anything published meanwhile
    /// was not heard.
    Reconnected,
    /// Another process lost some of what it published.
    Lost,
}

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
}

/// What the subscriber task is asked.
enum Request {
    Subscribe(String),
    Unsubscribe(String),
    /// Answered once every request before it is done (Redis confirmed it).
    Settled(tokio::sync::oneshot::Sender<()>),
}

/// This process's end of the bus. Cheap to clone.
#[derive(Clone)]
pub struct Bus {
    inner: Arc<Inner>,
}

struct Inner {
    client: redis::Client,
    /// Put before every payload this bus publishes (random: one per process).
    origin: u64,
    /// Put before every channel's name: `<namespace>:`.
    prefix: String,
    publish: mpsc::Sender<Outgoing>,
    /// Requests for the subscriber task, served in order.
    changes: mpsc::UnboundedSender<Request>,
    dropped: AtomicU64,
    /// Something published was lost since the others were last told.
    lost: Arc<AtomicBool>,
    stop: CancellationToken,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl Bus {
    /// Connects to Redis at `url` (failing if it cannot now: a server started
    /// with a bus it cannot reach says so at once) and starts the publisher
    /// and the subscriber; returns what the subscriber hears.
    pub async fn connect(url: &str, namespace: &str) -> Result<(Bus, mpsc::Receiver<BusEvent>), BusError> {
        Self::connect_with_faults(url, namespace, None).await
    }

    /// [`Bus::connect`], misbehaving on purpose as `faults` say (tests).
    pub async fn connect_with_faults(
        url: &str,
        namespace: &str,
        faults: Option<Faults>,
    ) -> Result<(Bus, mpsc::Receiver<BusEvent>), BusError> {
        let prefix = format!("{namespace}:");
        let client = redis::Client::open(url)?;
        let publisher = client.get_multiplexed_async_connection().await?;
        let pubsub = client.get_async_pubsub().await?;
        let (publish, queue) = mpsc::channel(PUBLISH_QUEUE);
        let (changes, change_requests) = mpsc::unbounded_channel();
        let (events, heard) = mpsc::channel(PUBLISH_QUEUE);
        let stop = CancellationToken::new();
        let origin = origin();
        let lost = Arc::new(AtomicBool::new(false));
        let told = Told { lost: lost.clone(), channel: format!("{prefix}{LOST_CHANNEL}"), origin };
        let tasks = vec![
            tokio::spawn(publish_all(client.clone(), publisher, (queue, faults, told), stop.clone())),
            tokio::spawn(subscribe_all(
                client,
                pubsub,
                (change_requests, origin, prefix.clone()),
                events,
                stop.clone(),
            )),
        ];
        let inner = Inner {
            client: redis::Client::open(url)?,
            origin,
            prefix,
            publish,
            changes,
            dropped: AtomicU64::new(0),
            lost,
            stop,
            tasks: Mutex::new(tasks),
        };
        Ok((Bus { inner: Arc::new(inner) }, heard))
    }

    /// Publishes `payload` on `channel`, without waiting: when the queue is
    /// full (Redis slow or away) it is dropped, and the others catch up from
    /// the database.
    pub fn publish(&self, channel: String, payload: Vec<u8>) {
        self.send(false, channel, payload);
    }

    /// [`Bus::publish`] a message whose loss the others must be told of
    /// (room lists: they read theirs again; room events need not be, the
    /// others' checks find them).
    pub fn publish_told(&self, channel: String, payload: Vec<u8>) {
        self.send(true, channel, payload);
    }

    fn send(&self, tell: bool, channel: String, payload: Vec<u8>) {
        if self.inner.publish.try_send((tell, (self.key(&channel), self.framed(&payload)))).is_err() {
            if tell {
                self.inner.lost.store(true, Ordering::Relaxed);
            }
            let dropped = self.inner.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if dropped.is_power_of_two() {
                tracing::warn!(dropped, "the bus's publish queue is full: messages to other processes dropped");
            }
        }
    }

    /// This process's id on the bus (random, one per process).
    pub fn id(&self) -> u64 {
        self.inner.origin
    }

    /// `name` (a key or a channel) within the deployment's namespace.
    pub fn key(&self, name: &str) -> String {
        format!("{}{name}", self.inner.prefix)
    }

    /// `payload` as this bus publishes it (after its id), for one published
    /// by another connection.
    pub fn framed(&self, payload: &[u8]) -> Vec<u8> {
        let mut framed = Vec::with_capacity(8 + payload.len());
        framed.extend_from_slice(&self.inner.origin.to_le_bytes());
        framed.extend_from_slice(payload);
        framed
    }

    /// Redis, for what else is kept there (presence).
    pub fn client(&self) -> &redis::Client {
        &self.inner.client
    }

    /// Whether Redis answers a PING within `patience` (on a connection of its own).
    pub async fn ping(&self, patience: Duration) -> bool {
        let attempt = async {
            let mut connection = self.inner.client.get_multiplexed_async_connection().await?;
            redis::cmd("PING").query_async::<String>(&mut connection).await
        };
        matches!(tokio::time::timeout(patience, attempt).await, Ok(Ok(_)))
    }

    /// How many messages were dropped before reaching Redis.
    pub fn dropped(&self) -> u64 {
        self.inner.dropped.load(Ordering::Relaxed)
    }

    pub fn subscribe(&self, channel: String) {
        let _ = self.inner.changes.send(Request::Subscribe(format!("{}{channel}", self.inner.prefix)));
    }

    pub fn unsubscribe(&self, channel: String) {
        let _ = self.inner.changes.send(Request::Unsubscribe(format!("{}{channel}", self.inner.prefix)));
    }

    /// Waits until every subscription asked for before this call is in
    /// effect, or `patience` has passed (Redis away: the checks repair later).
    pub async fn settled(&self, patience: Duration) {
        let (done, settled) = tokio::sync::oneshot::channel();
        if self.inner.changes.send(Request::Settled(done)).is_ok() {
            let _ = tokio::time::timeout(patience, settled).await;
        }
    }

    /// Stops both tasks and waits for them; what is queued for publishing
    /// goes first if Redis takes it within a moment.
    pub async fn close(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_millis(500);
        while self.inner.publish.capacity() < self.inner.publish.max_capacity()
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        self.inner.stop.cancel();
        let tasks = std::mem::take(&mut *self.inner.tasks.lock().unwrap_or_else(PoisonError::into_inner));
        for task in tasks {
            if let Err(error) = task.await {
                tracing::error!(%error, "a bus task failed");
            }
        }
    }
}

/// A message to publish: its channel (namespaced) and its payload (framed).
/// With whether its loss is to be told.
type Outgoing = (bool, (String, Vec<u8>));

/// How a publisher tells the others it lost something.
struct Told {
    lost: Arc<AtomicBool>,
    /// [`LOST_CHANNEL`], namespaced.
    channel: String,
    origin: u64,
}

/// Empties the queue into Redis, connecting again when a publish fails;
/// once it is empty after a loss, says so on [`LOST_CHANNEL`].
async fn publish_all(
    client: redis::Client,
    mut connection: redis::aio::MultiplexedConnection,
    (mut queue, faults, told): (mpsc::Receiver<Outgoing>, Option<Faults>, Told),
    stop: CancellationToken,
) {
    let mut mischief = faults.map(faults::Mischief::new);
    let mut last_told: Option<std::time::Instant> = None;
    loop {
        if queue.is_empty()
            && last_told.is_none_or(|at| at.elapsed() >= LOST_PACE)
            && told.lost.swap(false, Ordering::Relaxed)
        {
            let notice: redis::RedisResult<i64> = redis::cmd("PUBLISH")
                .arg(&told.channel)
                .arg(&told.origin.to_le_bytes()[..])
                .query_async(&mut connection)
                .await;
            last_told = Some(std::time::Instant::now());
            if let Err(error) = notice {
                tracing::warn!(%error, "telling the others of a loss failed; telling them again later");
                told.lost.store(true, Ordering::Relaxed);
            }
        }
        // With a loss not yet told, come back to it within its pace.
        let pending = told.lost.load(Ordering::Relaxed);
        let (tell, next) = tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(LOST_PACE), if pending => continue,
            next = queue.recv() => match next {
                Some(next) => next,
                None => return,
            },
        };
        let out = match &mut mischief {
            Some(mischief) => mischief.apply(next),
            None => vec![next],
        };
        if tell && out.is_empty() && mischief.as_ref().is_some_and(faults::Mischief::dropped_last) {
            // Dropped on purpose, as a failed publish would be.
            told.lost.store(true, Ordering::Relaxed);
        }
        for (channel, payload) in out {
            let sent: redis::RedisResult<i64> =
                redis::cmd("PUBLISH").arg(&channel).arg(&payload).query_async(&mut connection).await;
            if let Err(error) = sent {
                // This one is lost (the others fill it from the database, or
                // are told); the next goes on a new connection.
                if tell {
                    told.lost.store(true, Ordering::Relaxed);
                }
                tracing::warn!(%error, "publishing on the bus failed; connecting again");
                match reconnect(&stop, || client.get_multiplexed_async_connection()).await {
                    Some(fresh) => connection = fresh,
                    None => return,
                }
            }
        }
    }
}

/// Holds the subscriptions: applies the hub's changes, forwards what is
/// heard, and after a lost connection subscribes to everything again.
async fn subscribe_all(
    client: redis::Client,
    pubsub: redis::aio::PubSub,
    (mut changes, origin, prefix): (mpsc::UnboundedReceiver<Request>, u64, String),
    events: mpsc::Sender<BusEvent>,
    stop: CancellationToken,
) {
    let mut channels: HashSet<String> = HashSet::new();
    let (mut sink, mut stream) = pubsub.split();
    let lost_channel = format!("{prefix}{LOST_CHANNEL}");
    if let Err(error) = sink.subscribe(&lost_channel).await {
        tracing::warn!(%error, "subscribing to the others' losses failed");
    }
    channels.insert(lost_channel);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            change = changes.recv() => {
                let done = match change {
                    None => return,
                    Some(Request::Subscribe(channel)) => {
                        let new = channels.insert(channel.clone());
                        if new { sink.subscribe(&channel).await } else { Ok(()) }
                    }
                    Some(Request::Unsubscribe(channel)) if channels.remove(&channel) => sink.unsubscribe(&channel).await,
                    Some(Request::Unsubscribe(_)) => Ok(()),
                    Some(Request::Settled(done)) => {
                        let _ = done.send(());
                        Ok(())
                    }
                };
                // A failed (un)subscribe means the connection is going: the
                // stream ends next, and the reconnection applies the set.
                if let Err(error) = done {
                    tracing::warn!(%error, "changing the bus's subscriptions failed");
                }
            }
            heard = stream.next() => match heard {
                Some(message) => {
                    let payload = message.get_payload_bytes();
                    // Its own, heard back; or not one of a bus's (ignored).
                    let Some((from, payload)) = payload.split_first_chunk::<8>() else { continue };
                    if u64::from_le_bytes(*from) == origin {
                        continue;
                    }
                    let channel = message.get_channel_name();
                    if channel.strip_prefix(prefix.as_str()) == Some(LOST_CHANNEL) {
                        if events.send(BusEvent::Lost).await.is_err() {
                            return;
                        }
                        continue;
                    }
                    let event = BusEvent::Message {
                        channel: channel.strip_prefix(prefix.as_str()).unwrap_or(channel).to_owned(),
                        payload: payload.to_vec(),
                    };
                    if events.send(event).await.is_err() {
                        return;
                    }
                }
                None => {
                    tracing::warn!("the bus's subscription was lost; connecting again");
                    let Some(fresh) = resubscribe(&client, &mut channels, &mut changes, &stop).await else { return };
                    (sink, stream) = fresh.split();
                    if events.send(BusEvent::Reconnected).await.is_err() {
                        return;
                    }
                }
            },
        }
    }
}

/// The deployment's namespace on the bus: made once, at random, and kept in
/// its database (so every process of it has the same, however each spells
/// the database's address, and another deployment on the same Redis another).
pub async fn namespace(store: &dyn crate::push::PushStore) -> crate::store::Result<String> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("the system has randomness");
    store.server_key("bus_namespace", format!("chat-{}", hex::encode(bytes))).await
}

/// A random id for this process's bus.
fn origin() -> u64 {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("the system has randomness");
    u64::from_le_bytes(bytes)
}

/// A new pub/sub connection subscribed to `channels` (`None` once stopping).
/// Between attempts it goes on taking the hub's requests: (un)subscriptions
/// change the set it will subscribe to, and `Settled` is answered at once
/// (with Redis away nothing is in effect, and waiting would only hold joins
/// up; the checks repair once it is back).
async fn resubscribe(
    client: &redis::Client,
    channels: &mut HashSet<String>,
    changes: &mut mpsc::UnboundedReceiver<Request>,
    stop: &CancellationToken,
) -> Option<redis::aio::PubSub> {
    let mut wait = Duration::from_millis(50);
    loop {
        let attempt = async {
            let mut pubsub = client.get_async_pubsub().await?;
            for channel in channels.iter() {
                pubsub.subscribe(channel).await?;
            }
            Ok::<_, redis::RedisError>(pubsub)
        };
        match tokio::time::timeout(MAX_BACKOFF, attempt).await {
            Ok(Ok(pubsub)) => return Some(pubsub),
            Ok(Err(error)) => tracing::debug!(%error, "Redis is not reachable yet"),
            Err(_) => tracing::debug!("Redis did not answer in time"),
        }
        let pause = tokio::time::sleep(wait);
        tokio::pin!(pause);
        loop {
            tokio::select! {
                () = stop.cancelled() => return None,
                () = &mut pause => break,
                change = changes.recv() => match change {
                    None => return None,
                    Some(Request::Subscribe(channel)) => {
                        channels.insert(channel);
                    }
                    Some(Request::Unsubscribe(channel)) => {
                        channels.remove(&channel);
                    }
                    Some(Request::Settled(done)) => {
                        let _ = done.send(());
                    }
                },
            }
        }
        wait = (wait * 2).min(MAX_BACKOFF);
    }
}

/// Tries `attempt` until it succeeds, backing off up to [`MAX_BACKOFF`];
/// `None` once stopping.
async fn reconnect<T, F, Fut>(stop: &CancellationToken, mut attempt: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = redis::RedisResult<T>>,
{
    let mut wait = Duration::from_millis(50);
    loop {
        match attempt().await {
            Ok(done) => return Some(done),
            Err(error) => tracing::debug!(%error, "Redis is not reachable yet"),
        }
        tokio::select! {
            () = stop.cancelled() => return None,
            () = tokio::time::sleep(wait) => {}
        }
        wait = (wait * 2).min(MAX_BACKOFF);
    }
}

#[cfg(test)]
mod tests;
