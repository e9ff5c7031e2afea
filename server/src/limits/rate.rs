//! Token buckets: how fast someone may do something, with a burst. The send
//! defaults let a person paste a few lines in a row and chat as fast as anyone
//! types; a script that floods is held to a steady trickle.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct TokenBucket {
    capacity: f64,
    per_second: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub fn new(capacity: u32, per_second: f64, now: Instant) -> Self {
        TokenBucket { capacity: capacity as f64, per_second, tokens: capacity as f64, last: now }
    }

    /// Takes a token at `now`, or says how long until one is there.
    pub fn take(&mut self, now: Instant) -> Result<(), Duration> {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.capacity);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / self.per_second))
        }
    }

    /// Spends `n` tokens taken elsewhere (another process), refusing nothing:
    /// the bucket may go below empty, down to one burst's debt.
    pub fn debit(&mut self, n: u32, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = ((self.tokens + elapsed * self.per_second).min(self.capacity) - f64::from(n)).max(-self.capacity);
        self.last = now;
    }

    /// Tokens there at `now`.
    fn tokens(&self, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        (self.tokens + elapsed * self.per_second).min(self.capacity)
    }

    /// Whether the bucket is full at `now` (nothing to remember about its owner).
    fn is_full(&self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens + elapsed * self.per_second >= self.capacity
    }
}

/// One bucket per key (an account, an address), made on first use. Full buckets
/// are forgotten when the map grows, so it stays as small as the busy keys.
pub struct KeyedBuckets<K> {
    capacity: u32,
    per_second: f64,
    buckets: Mutex<Buckets<K>>,
}

struct Buckets<K> {
    map: HashMap<K, TokenBucket>,
    /// Shared with other processes: tokens taken here since they were last told.
    tally: Option<HashMap<K, u32>>,
    /// The size at which the next sweep happens: doubles with what a sweep keeps,
    /// so sweeping stays amortised O(1) per new key.
    sweep_at: usize,
}

impl<K: Eq + Hash + Clone> KeyedBuckets<K> {
    /// Keys beyond this many trigger the first sweep of full buckets.
    const SWEEP_AT: usize = 4096;
    /// A hard bound on what is remembered: past it (only under an attack from
    /// very many keys at once) everything is forgotten and counting starts over.
    const MAX_KEYS: usize = 100_000;

    pub fn new(capacity: u32, per_second: f64) -> Self {
        KeyedBuckets {
            capacity,
            per_second,
            buckets: Mutex::new(Buckets { map: HashMap::new(), tally: None, sweep_at: Self::SWEEP_AT }),
        }
    }

    /// Takes a token from `key`'s bucket, or says how long until one is there.
    pub fn take(&self, key: &K, now: Instant) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if buckets.map.len() >= buckets.sweep_at && !buckets.map.contains_key(key) {
            buckets.map.retain(|_, bucket| !bucket.is_full(now));
            if buckets.map.len() >= Self::MAX_KEYS {
                tracing::warn!(keys = buckets.map.len(), "rate limiter full; starting over");
                buckets.map.clear();
            }
            buckets.sweep_at = (buckets.map.len() * 2).max(Self::SWEEP_AT);
        }
        let taken = buckets
            .map
            .entry(key.clone())
            .or_insert_with(|| TokenBucket::new(self.capacity, self.per_second, now))
            .take(now);
        if let (Ok(()), Some(tally)) = (taken, &mut buckets.tally) {
            *tally.entry(key.clone()).or_default() += 1;
        }
        taken
    }

    /// Keeps a tally of the tokens taken here, for other processes
    /// ([`KeyedBuckets::take_tally`]).
    pub fn keep_tally(&self) {
        self.lock().tally.get_or_insert_with(HashMap::new);
    }

    /// The tokens taken here since the last call, by key.
    pub fn take_tally(&self) -> Vec<(K, u32)> {
        self.lock().tally.as_mut().map(|tally| tally.drain().collect()).unwrap_or_default()
    }

    /// Spends `n` of `key`'s tokens, taken by another process.
    pub fn debit(&self, key: &K, n: u32, now: Instant) {
        self.lock()
            .map
            .entry(key.clone())
            .or_insert_with(|| TokenBucket::new(self.capacity, self.per_second, now))
            .debit(n, now);
    }

    /// The tokens `key` has at `now`.
    pub fn tokens(&self, key: &K, now: Instant) -> f64 {
        self.lock().map.get(key).map_or(f64::from(self.capacity), |bucket| bucket.tokens(now))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Buckets<K>> {
        self.buckets.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_have_buckets_of_their_own() {
        let start = Instant::now();
        let buckets = KeyedBuckets::new(2, 1.0);
        assert!(buckets.take(&"ada", start).is_ok());
        assert!(buckets.take(&"ada", start).is_ok());
        assert!(buckets.take(&"ada", start).is_err());
        assert!(buckets.take(&"bob", start).is_ok(), "Bob is not held back by Ada");
        assert!(buckets.take(&"ada", start + Duration::from_secs(1)).is_ok());
    }

    #[test]
    fn a_burst_then_a_steady_rate() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(3, 2.0, start);
        for _ in 0..3 {
            assert!(bucket.take(start).is_ok());
        }
        let wait = bucket.take(start).unwrap_err();
        assert_eq!(wait, Duration::from_millis(500));
        assert!(bucket.take(start + Duration::from_millis(499)).is_err());
        assert!(bucket.take(start + Duration::from_millis(1000)).is_ok());
    }

    #[test]
    fn tokens_taken_elsewhere_are_spent_here_and_tallied_there() {
        let start = Instant::now();
        let here = KeyedBuckets::new(3, 1.0);
        let there = KeyedBuckets::new(3, 1.0);
        there.keep_tally();
        assert!(there.take(&"ada", start).is_ok() && there.take(&"ada", start).is_ok());
        assert_eq!(there.take_tally(), vec![("ada", 2)]);
        assert!(there.take_tally().is_empty(), "told once");
        here.debit(&"ada", 2, start);
        assert!(here.take(&"ada", start).is_ok());
        assert!(here.take(&"ada", start).is_err(), "three in all, over both");
        // A debt beyond the burst is held to one burst.
        here.debit(&"bob", 100, start);
        assert_eq!(here.tokens(&"bob", start), -3.0);
        assert!(here.take(&"bob", start + Duration::from_secs(4)).is_ok());
    }

    #[test]
    fn idle_time_refills_up_to_the_burst_only() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(3, 2.0, start);
        let later = start + Duration::from_secs(3600);
        for _ in 0..3 {
            assert!(bucket.take(later).is_ok());
        }
        assert!(bucket.take(later).is_err());
    }
}
