//! Keyed broadcast channels that exist while someone listens: each account's
//! inbox (its room list changes, sent to all its tabs) and each room's activity
//! (sent to the tabs that list the room without having it open).
//!
//! A channel is created by its first subscriber and removed with its last, so
//! memory follows who is connected, and publishing to a key nobody listens to
//! costs one look-up (the caller checks [`Topics::has_listeners`] before
//! serialising anything).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use futures::Stream;
use tokio::sync::broadcast;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::BroadcastStream;

/// Told when a key gets its first listener (`true`) and loses its last
/// (`false`), under the topics' lock (so in order): with a bus, a process
/// listens there to the keys its own connections listen to.
pub type Watch<K> = Arc<dyn Fn(&K, bool) + Send + Sync>;

pub struct Topics<K, T> {
    channels: Arc<Mutex<HashMap<K, broadcast::Sender<T>>>>,
    /// Events a slow listener may fall behind by before it is told it lagged
    /// (and re-reads what it lists). Each channel allocates this many slots
    /// when it is created.
    capacity: usize,
    watch: Option<Watch<K>>,
}

impl<K, T> Clone for Topics<K, T> {
    fn clone(&self) -> Self {
        Topics { channels: self.channels.clone(), capacity: self.capacity, watch: self.watch.clone() }
    }
}

impl<K: Eq + Hash + Clone, T: Clone + Send + 'static> Topics<K, T> {
    #[cfg(test)]
    pub fn with_capacity(capacity: usize) -> Self {
        Topics { channels: Arc::default(), capacity, watch: None }
    }

    /// Topics whose keys' first and last listeners `watch` is told of.
    pub fn watched(capacity: usize, watch: Option<Watch<K>>) -> Self {
        Topics { channels: Arc::default(), capacity, watch }
    }

    /// Listens to `key` until the returned subscription is dropped.
    pub fn subscribe(&self, key: K) -> Subscription<K, T> {
        let capacity = self.capacity;
        let mut channels = self.channels();
        let receiver = match channels.get(&key) {
            Some(sender) => sender.subscribe(),
            None => {
                let (sender, receiver) = broadcast::channel(capacity);
                channels.insert(key.clone(), sender);
                if let Some(watch) = &self.watch {
                    watch(&key, true);
                }
                receiver
            }
        };
        drop(channels);
        Subscription { topics: self.clone(), key, events: Some(BroadcastStream::new(receiver)) }
    }

    pub fn has_listeners(&self, key: &K) -> bool {
        self.channels().contains_key(key)
    }

    /// Sends `event` to everyone listening to `key`, if anyone is.
    pub fn publish(&self, key: &K, event: T) {
        if let Some(sender) = self.channels().get(key) {
            // Err: the last receiver is being dropped right now; nobody to tell.
            let _nobody = sender.send(event).is_err();
        }
    }

    /// Sends `event` to everyone listening to any key.
    pub fn publish_everywhere(&self, event: T) {
        for sender in self.channels().values() {
            let _nobody = sender.send(event.clone()).is_err();
        }
    }

    /// How many keys have listeners.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.channels().len()
    }

    fn channels(&self) -> MutexGuard<'_, HashMap<K, broadcast::Sender<T>>> {
        self.channels.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One listener of one key, a stream of its events (an `Err` says how many it
/// missed by lagging); unsubscribes when dropped.
pub struct Subscription<K: Eq + Hash + Clone, T: Clone + Send + 'static> {
    topics: Topics<K, T>,
    key: K,
    /// Always `Some` until dropped.
    events: Option<BroadcastStream<T>>,
}

impl<K: Eq + Hash + Clone, T: Clone + Send + 'static> Subscription<K, T> {
    pub fn key(&self) -> &K {
        &self.key
    }
}

impl<K: Eq + Hash + Clone + Unpin, T: Clone + Send + 'static> Stream for Subscription<K, T> {
    type Item = Result<T, BroadcastStreamRecvError>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        match self.events.as_mut() {
            Some(events) => std::pin::Pin::new(events).poll_next(cx),
            None => std::task::Poll::Ready(None),
        }
    }
}

impl<K: Eq + Hash + Clone, T: Clone + Send + 'static> Drop for Subscription<K, T> {
    fn drop(&mut self) {
        let mut channels = self.topics.channels();
        // Dropped under the lock, so a subscriber arriving now either finds the
        // channel with its receiver or creates a new one.
        drop(self.events.take());
        if channels.get(&self.key).is_some_and(|sender| sender.receiver_count() == 0) {
            channels.remove(&self.key);
            if let Some(watch) = &self.topics.watch {
                watch(&self.key, false);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use futures::StreamExt;

    #[tokio::test]
    async fn a_channel_lives_while_someone_listens() {
        let topics: Topics<u32, &'static str> = Topics::with_capacity(16);
        topics.publish(&1, "nobody hears this");
        assert!(!topics.has_listeners(&1));
        let mut a = topics.subscribe(1);
        let mut b = topics.subscribe(1);
        let _other = topics.subscribe(2);
        topics.publish(&1, "hello");
        assert_eq!(a.next().await.unwrap().unwrap(), "hello");
        assert_eq!(b.next().await.unwrap().unwrap(), "hello");
        drop(a);
        assert!(topics.has_listeners(&1));
        drop(b);
        assert!(!topics.has_listeners(&1));
        assert_eq!(topics.len(), 1);
    }
}
