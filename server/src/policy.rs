//! The limits the server holds everyone to. The defaults are ones a person never
//! meets and a script always does; tests tighten them to see them work.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Policy {
    /// How long a sign-in lasts.
    pub session_ttl: Duration,
    /// Messages an account may send back to back, over all its connections…
    pub send_burst: u32,
    /// …and per second, sustained, once the burst is spent.
    pub sends_per_second: f64,
    /// Open WebSockets per account (tabs, devices).
    pub connections_per_account: usize,
    /// Open WebSockets per client address (signed in or not).
    pub connections_per_ip: usize,
    /// Sign-in and sign-up attempts per client address: a burst…
    pub attempts_burst: u32,
    /// …then this many per minute.
    pub attempts_per_minute: f64,
    /// Sign-in attempts per username (whoever makes them): a burst, then per minute.
    pub attempts_per_username_burst: u32,
    pub attempts_per_username_per_minute: f64,
    /// A connection that has sent nothing for this long is pinged…
    pub ping_after: Duration,
    /// …and closed when nothing at all (not even the pong) came for this long.
    pub idle_timeout: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            session_ttl: Duration::from_secs(30 * 24 * 3600),
            send_burst: 20,
            sends_per_second: 3.0,
            connections_per_account: 16,
            connections_per_ip: 64,
            attempts_burst: 10,
            attempts_per_minute: 6.0,
            attempts_per_username_burst: 10,
            attempts_per_username_per_minute: 6.0,
            ping_after: Duration::from_secs(25),
            idle_timeout: Duration::from_secs(60),
        }
    }
}
