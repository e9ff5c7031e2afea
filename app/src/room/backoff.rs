//! How long the room page waits before reconnecting: exponential, capped, jittered,
//! so that a restarted server is not hit by every browser at the same instant.

use std::time::Duration;

pub const FIRST_RETRY: Duration = Duration::from_millis(500);
pub const LONGEST_RETRY: Duration = Duration::from_secs(8);

/// The pause before reconnect attempt `attempt` (1-based). `unit` is a random number
/// in `[0, 1)`; the pause is between half and all of the exponential step.
pub fn retry_delay(attempt: u32, unit: f64) -> Duration {
    let exp = attempt.saturating_sub(1).min(16);
    let step = FIRST_RETRY.saturating_mul(1 << exp).min(LONGEST_RETRY);
    step.mul_f64(0.5 + 0.5 * unit.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_then_caps() {
        assert_eq!(retry_delay(1, 1.0), FIRST_RETRY);
        assert_eq!(retry_delay(2, 1.0), FIRST_RETRY * 2);
        assert_eq!(retry_delay(3, 1.0), FIRST_RETRY * 4);
        assert_eq!(retry_delay(30, 1.0), LONGEST_RETRY);
        assert_eq!(retry_delay(u32::MAX, 1.0), LONGEST_RETRY);
    }

    #[test]
    fn jitter_stays_within_half_to_full_step() {
        assert_eq!(retry_delay(3, 0.0), FIRST_RETRY * 2);
        let d = retry_delay(3, 0.5);
        assert!(d > FIRST_RETRY * 2 && d < FIRST_RETRY * 4);
    }
}
