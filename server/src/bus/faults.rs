//! A bus that misbehaves on purpose, for the tests of what the rest of the
//! server does about it: a share of the messages published is dropped,
//! repeated, or held back and sent after the next one. Never used by a server
//! started from the command line.

/// How often each fault happens, as shares of the messages published (0 to 1).
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    pub drop: f64,
    pub duplicate: f64,
    pub reorder: f64,
}

/// The publisher's side of [`Faults`]: decides, message by message, what is
/// sent in its place.
pub(super) struct Mischief {
    faults: Faults,
    /// A xorshift generator's state: fast, and good enough for deciding faults.
    state: u64,
    held: Option<(String, Vec<u8>)>,
    /// The last message was dropped.
    dropped: bool,
}

impl Mischief {
    pub(super) fn new(faults: Faults) -> Self {
        let mut seed = [0u8; 8];
        getrandom::fill(&mut seed).expect("the system has randomness");
        Mischief { faults, state: u64::from_le_bytes(seed) | 1, held: None, dropped: false }
    }

    fn chance(&mut self) -> f64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        (self.state >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Whether the last message was dropped (not held).
    pub(super) fn dropped_last(&self) -> bool {
        self.dropped
    }

    /// What goes out for `message`, in order: nothing, it, it twice, or it
    /// after being held for one message; a message held before follows.
    pub(super) fn apply(&mut self, message: (String, Vec<u8>)) -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        self.dropped = false;
        if self.chance() < self.faults.drop {
            self.dropped = true;
            // Dropped; whatever was held still goes.
        } else if self.held.is_none() && self.chance() < self.faults.reorder {
            self.held = Some(message);
            return out;
        } else {
            if self.chance() < self.faults.duplicate {
                out.push(message.clone());
            }
            out.push(message);
        }
        out.extend(self.held.take());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(n: u8) -> (String, Vec<u8>) {
        ("room".to_owned(), vec![n])
    }

    #[test]
    fn each_fault_does_what_it_says() {
        let mut dropping = Mischief::new(Faults { drop: 1.0, ..Faults::default() });
        assert!(dropping.apply(message(1)).is_empty());
        let mut repeating = Mischief::new(Faults { duplicate: 1.0, ..Faults::default() });
        assert_eq!(repeating.apply(message(1)), [message(1), message(1)]);
        let mut swapping = Mischief::new(Faults { reorder: 1.0, ..Faults::default() });
        assert!(swapping.apply(message(1)).is_empty(), "held");
        assert_eq!(swapping.apply(message(2)), [message(2), message(1)], "after the next one");
        let mut honest = Mischief::new(Faults::default());
        assert_eq!(honest.apply(message(3)), [message(3)]);
    }
}
