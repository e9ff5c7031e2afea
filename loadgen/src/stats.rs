//! Latency samples and what a run reports of them.

use std::time::Duration;

/// Latencies in microseconds.
#[derive(Debug, Default, Clone)]
pub struct Latencies(Vec<u32>);

impl Latencies {
    pub fn record(&mut self, micros: u64) {
        self.0.push(u32::try_from(micros).unwrap_or(u32::MAX));
    }

    pub fn merge(&mut self, other: Latencies) {
        self.0.extend(other.0);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// p50, p99 and max; zero when there are no samples.
    pub fn summary(mut self) -> Percentiles {
        if self.0.is_empty() {
            return Percentiles::default();
        }
        self.0.sort_unstable();
        let at = |q: f64| {
            let i = ((self.0.len() as f64 * q).ceil() as usize).clamp(1, self.0.len()) - 1;
            Duration::from_micros(u64::from(self.0[i]))
        };
        Percentiles { p50: at(0.50), p99: at(0.99), max: at(1.0) }
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Percentiles {
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
}

/// What one receiver saw of its room's sequence: every seq once, in order.
#[derive(Debug, Default, Clone, Copy)]
pub struct SeqCheck {
    last: Option<u64>,
    pub received: u64,
    pub lost: u64,
    pub duplicated: u64,
}

impl SeqCheck {
    /// Starts counting after `seq` (what the room had when this member joined).
    pub fn after(seq: u64) -> Self {
        SeqCheck { last: Some(seq), ..SeqCheck::default() }
    }

    pub fn saw(&mut self, seq: u64) {
        match self.last {
            Some(last) if seq <= last => self.duplicated += 1,
            Some(last) => {
                self.lost += seq - last - 1;
                self.received += 1;
                self.last = Some(seq);
            }
            None => {
                self.received += 1;
                self.last = Some(seq);
            }
        }
    }

    pub fn last(&self) -> u64 {
        self.last.unwrap_or(0)
    }

    /// Counts what never came, up to the room's final seq.
    pub fn finish(&mut self, room_last: u64) {
        let last = self.last();
        if room_last > last {
            self.lost += room_last - last;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let mut l = Latencies::default();
        for us in 1..=100 {
            l.record(us);
        }
        let p = l.summary();
        assert_eq!(p.p50, Duration::from_micros(50));
        assert_eq!(p.p99, Duration::from_micros(99));
        assert_eq!(p.max, Duration::from_micros(100));
    }

    #[test]
    fn gaps_and_repeats_are_counted() {
        let mut check = SeqCheck::after(10);
        for seq in [11, 12, 12, 14, 15] {
            check.saw(seq);
        }
        check.finish(17);
        assert_eq!((check.received, check.duplicated, check.lost), (4, 1, 3));
    }
}
