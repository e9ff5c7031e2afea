//! One room's events in seq order, whatever order they arrive in: what a
//! process delivers to its members when other processes commit to the same
//! room (their events come over a bus that may drop, repeat or reorder them,
//! and this process's own commits interleave with theirs).
//!
//! An event older than the last delivered is dropped; the next one is
//! delivered, with any that were waiting behind it; one further on waits. A
//! gap that has waited [`GAP_WAIT`] is the caller's to fill from the store
//! ([`Sequencer::gap`], then [`Sequencer::fill`]): the events after it are
//! held until then, so no member sees a hole, and none sees an event twice.
//! Plain data, no clock of its own (the caller passes `now`): tested here
//! event by event.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use app::protocol::Seq;

/// How long a jump waits for the seqs before it before they are read from
/// the store: two processes may publish N and N+1 out of order, and the bus
/// brings N a moment later.
pub const GAP_WAIT: Duration = Duration::from_millis(100);

/// Most events held behind a gap; past that the gap is filled at once.
pub const MAX_HELD: usize = 4096;

/// A room's order of delivery.
#[derive(Debug)]
pub struct Sequencer<E> {
    /// The newest seq delivered (every seq up to it was, once).
    delivered: Seq,
    /// Events past a gap, by seq.
    held: BTreeMap<Seq, E>,
    /// When the oldest held event arrived.
    waiting_since: Option<Instant>,
}

impl<E> Sequencer<E> {
    /// A room whose events up to `delivered` need not be delivered (its
    /// members read those from the store when they joined).
    pub fn new(delivered: Seq) -> Self {
        Sequencer { delivered, held: BTreeMap::new(), waiting_since: None }
    }

    /// The newest seq delivered.
    pub fn delivered(&self) -> Seq {
        self.delivered
    }

    /// Takes one event; returns those now deliverable, in seq order.
    pub fn offer(&mut self, seq: Seq, event: E, now: Instant) -> Vec<(Seq, E)> {
        if seq <= self.delivered || self.held.contains_key(&seq) {
            return Vec::new();
        }
        self.held.insert(seq, event);
        let ready = self.release();
        if !self.held.is_empty() && self.waiting_since.is_none() {
            self.waiting_since = Some(now);
        }
        ready
    }

    /// The seqs missing before the held events (from, to: both included),
    /// once they have waited long enough (or too many are held): the caller
    /// reads them from the store and hands them to [`Sequencer::fill`].
    pub fn gap(&self, now: Instant) -> Option<(Seq, Seq)> {
        let (first, _) = self.held.first_key_value()?;
        let waited = self.waiting_since.is_some_and(|since| now.duration_since(since) >= GAP_WAIT);
        (waited || self.held.len() >= MAX_HELD).then(|| (Seq(self.delivered.0 + 1), Seq(first.0 - 1)))
    }

    /// When the gap, if any, is due to be filled.
    pub fn gap_due(&self) -> Option<Instant> {
        self.waiting_since.map(|since| since + GAP_WAIT)
    }

    /// The events read from the store after the last delivered (in seq order,
    /// as many as it had): they and what was held behind them are delivered.
    /// What the store did not have (it is behind this process's view, which
    /// cannot happen with one database) stays a gap.
    pub fn fill(&mut self, stored: impl IntoIterator<Item = (Seq, E)>, now: Instant) -> Vec<(Seq, E)> {
        let mut ready = Vec::new();
        for (seq, event) in stored {
            if seq <= self.delivered {
                continue;
            }
            if seq == Seq(self.delivered.0 + 1) {
                // The stored one, not the held copy (they are the same event).
                self.held.remove(&seq);
                self.delivered = seq;
                ready.push((seq, event));
                ready.extend(self.release());
            } else {
                self.held.entry(seq).or_insert(event);
            }
        }
        ready.extend(self.release());
        self.waiting_since = (!self.held.is_empty()).then_some(now);
        ready
    }

    /// Everything held that follows the last delivered without a gap.
    fn release(&mut self) -> Vec<(Seq, E)> {
        let mut ready = Vec::new();
        while let Some(entry) = self.held.first_entry() {
            if entry.key().0 != self.delivered.0 + 1 {
                break;
            }
            let (seq, event) = entry.remove_entry();
            self.delivered = seq;
            ready.push((seq, event));
        }
        if self.held.is_empty() {
            self.waiting_since = None;
        }
        ready
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seqs(events: &[(Seq, &'static str)]) -> Vec<u64> {
        events.iter().map(|(seq, _)| seq.0).collect()
    }

    #[test]
    fn in_order_goes_straight_through_and_repeats_are_dropped() {
        let now = Instant::now();
        let mut room = Sequencer::new(Seq(3));
        assert!(room.offer(Seq(2), "old", now).is_empty(), "delivered before the member joined");
        assert_eq!(seqs(&room.offer(Seq(4), "a", now)), [4]);
        assert_eq!(seqs(&room.offer(Seq(5), "b", now)), [5]);
        assert!(room.offer(Seq(5), "b again", now).is_empty());
        assert_eq!(room.delivered(), Seq(5));
        assert_eq!(room.gap(now + GAP_WAIT), None);
    }

    #[test]
    fn a_jump_waits_for_what_is_missing_and_then_all_goes_in_order() {
        let now = Instant::now();
        let mut room = Sequencer::new(Seq(0));
        assert!(room.offer(Seq(2), "b", now).is_empty(), "held behind the hole");
        assert!(room.offer(Seq(3), "c", now).is_empty());
        assert!(room.offer(Seq(3), "c again", now).is_empty(), "held once");
        assert_eq!(room.gap(now), None, "not yet: the bus may bring it");
        assert_eq!(room.offer(Seq(1), "a", now), [(Seq(1), "a"), (Seq(2), "b"), (Seq(3), "c")]);
        assert_eq!(room.gap(now + GAP_WAIT), None);
    }

    #[test]
    fn a_gap_that_waited_is_filled_from_the_store() {
        let now = Instant::now();
        let mut room = Sequencer::new(Seq(10));
        room.offer(Seq(13), "m", now);
        room.offer(Seq(15), "o", now + Duration::from_millis(50));
        assert_eq!(room.gap(now + Duration::from_millis(99)), None);
        let later = now + GAP_WAIT;
        assert_eq!(room.gap(later), Some((Seq(11), Seq(12))));
        // The store has everything after 10 (the held ones too).
        let stored = [(Seq(11), "k"), (Seq(12), "l"), (Seq(13), "m"), (Seq(14), "n"), (Seq(15), "o")];
        assert_eq!(seqs(&room.fill(stored, later)), [11, 12, 13, 14, 15]);
        assert_eq!(room.delivered(), Seq(15));
        assert_eq!(room.gap(later + GAP_WAIT), None);
        // A late copy from the bus is dropped.
        assert!(room.offer(Seq(12), "l", later).is_empty());
    }

    #[test]
    fn too_many_held_is_a_gap_at_once() {
        let now = Instant::now();
        let mut room = Sequencer::new(Seq(0));
        for seq in 2..(2 + MAX_HELD as u64) {
            room.offer(Seq(seq), "x", now);
        }
        assert_eq!(room.gap(now), Some((Seq(1), Seq(1))));
    }

    #[test]
    fn a_fill_that_stops_short_leaves_the_rest_waiting() {
        let now = Instant::now();
        let mut room = Sequencer::new(Seq(0));
        room.offer(Seq(4), "d", now);
        assert_eq!(seqs(&room.fill([(Seq(1), "a"), (Seq(2), "b")], now + GAP_WAIT)), [1, 2]);
        assert_eq!(room.gap(now + GAP_WAIT), None, "a new wait starts");
        assert_eq!(room.gap(now + GAP_WAIT * 2), Some((Seq(3), Seq(3))));
        assert_eq!(seqs(&room.offer(Seq(3), "c", now + GAP_WAIT * 2)), [3, 4]);
    }
}
