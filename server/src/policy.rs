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
    /// Open TCP connections per peer address, of any kind (zero: no cap). Off
    /// behind a trusted proxy unless set: every peer is the proxy there.
    pub tcp_connections_per_ip: usize,
    /// A request head must arrive within this of the server starting to wait for
    /// it (a new connection, or a kept-alive one between requests).
    pub header_read_timeout: Duration,
    /// An HTTP connection on which nothing moves for this long is closed.
    pub http_idle_timeout: Duration,
    /// Sign-in and sign-up attempts per client address: a burst…
    pub attempts_burst: u32,
    /// …then this many per minute.
    pub attempts_per_minute: f64,
    /// Sign-in attempts per username (whoever makes them): a burst, then per minute.
    pub attempts_per_username_burst: u32,
    pub attempts_per_username_per_minute: f64,
    /// Guesses (requests with a bad API token or webhook address) per client
    /// address: a burst, then per second (`crate::api`).
    pub guess_burst: u32,
    pub guesses_per_second: f64,
    /// A connection that has sent nothing for this long is pinged…
    pub ping_after: Duration,
    /// …and closed when nothing at all (not even the pong) came for this long.
    pub idle_timeout: Duration,
    /// Under load, the least time between two commits of posted messages (each
    /// commit is one broadcast per room); zero commits as soon as the last ends.
    pub commit_pace: Duration,
    /// Searches one account (or, signed out, one address) may make: a burst…
    pub search_burst: u32,
    /// …then this many per second.
    pub searches_per_second: f64,
    /// The largest file one may upload, in bytes.
    pub max_upload_bytes: u64,
    /// What one account's files may add up to, in bytes.
    pub upload_quota_bytes: u64,
    /// Uploads one account may make: a burst…
    pub upload_burst: u32,
    /// …then this many per second.
    pub uploads_per_second: f64,
    /// Messages older than this are deleted (as their authors would); `None`: kept.
    pub retention: Option<Duration>,
    /// With a bus: how long a process's people stay shown on the others
    /// after it stops refreshing them (a process killed: within this and a third).
    pub presence_ttl: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            session_ttl: Duration::from_secs(30 * 24 * 3600),
            send_burst: 20,
            sends_per_second: 3.0,
            connections_per_account: 16,
            connections_per_ip: 64,
            // A browser holds 6 connections per site and a socket per tab; a
            // household or an office behind one address stays far below this.
            tcp_connections_per_ip: 256,
            header_read_timeout: Duration::from_secs(15),
            http_idle_timeout: Duration::from_secs(60),
            attempts_burst: 10,
            attempts_per_minute: 6.0,
            attempts_per_username_burst: 10,
            attempts_per_username_per_minute: 6.0,
            guess_burst: 20,
            guesses_per_second: 1.0,
            ping_after: Duration::from_secs(25),
            idle_timeout: Duration::from_secs(60),
            commit_pace: crate::hub::DEFAULT_COMMIT_PACE,
            search_burst: 20,
            searches_per_second: 2.0,
            max_upload_bytes: app::protocol::DEFAULT_MAX_UPLOAD,
            upload_quota_bytes: 1024 * 1024 * 1024,
            upload_burst: 10,
            uploads_per_second: 0.5,
            presence_ttl: crate::hub::PRESENCE_TTL,
            retention: None,
        }
    }
}

impl Policy {
    /// The command-line flags that set a limit, with what each sets.
    pub const FLAGS: [&'static str; 12] = [
        "--max-upload-mb",
        "--upload-quota-mb",
        "--send-rate",
        "--send-burst",
        "--connections-per-ip",
        "--connections-per-account",
        "--commit-pace-ms",
        "--tcp-connections-per-ip",
        "--header-timeout-s",
        "--http-idle-timeout-s",
        "--presence-ttl-s",
        "--retention-days",
    ];

    /// Sets the limit a flag names (one of [`Policy::FLAGS`]).
    pub fn set(&mut self, flag: &str, value: &str) -> Result<(), String> {
        let number = || value.trim().parse::<f64>().ok().filter(|n| n.is_finite() && *n > 0.0);
        let whole = || value.trim().parse::<u32>().ok().filter(|n| *n > 0);
        let bad = || format!("{flag} needs a positive number, not `{value}`");
        match flag {
            "--send-rate" => self.sends_per_second = number().ok_or_else(bad)?,
            "--send-burst" => self.send_burst = whole().ok_or_else(bad)?,
            "--max-upload-mb" => self.max_upload_bytes = u64::from(whole().ok_or_else(bad)?) << 20,
            "--upload-quota-mb" => self.upload_quota_bytes = u64::from(whole().ok_or_else(bad)?) << 20,
            "--connections-per-ip" => self.connections_per_ip = whole().ok_or_else(bad)? as usize,
            "--connections-per-account" => self.connections_per_account = whole().ok_or_else(bad)? as usize,
            "--tcp-connections-per-ip" => {
                let n = value.trim().parse::<usize>().ok();
                self.tcp_connections_per_ip =
                    n.ok_or_else(|| format!("{flag} needs a whole number (0: no cap), not `{value}`"))?;
            }
            "--header-timeout-s" => self.header_read_timeout = Duration::from_secs(u64::from(whole().ok_or_else(bad)?)),
            "--http-idle-timeout-s" => {
                self.http_idle_timeout = Duration::from_secs(u64::from(whole().ok_or_else(bad)?))
            }
            "--retention-days" => {
                self.retention = Some(Duration::from_secs(u64::from(whole().ok_or_else(bad)?) * 24 * 3600))
            }
            "--presence-ttl-s" => {
                let s = value.trim().parse::<u64>().ok().filter(|s| (3..=3600).contains(s));
                self.presence_ttl =
                    Duration::from_secs(s.ok_or_else(|| format!("{flag} needs 3 to 3600 seconds, not `{value}`"))?);
            }
            "--commit-pace-ms" => {
                let ms = value.trim().parse::<u64>().ok().filter(|ms| *ms <= 1000);
                self.commit_pace =
                    Duration::from_millis(ms.ok_or_else(|| format!("{flag} needs 0 to 1000, not `{value}`"))?);
            }
            _ => return Err(format!("unknown limit {flag}")),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_set_their_limits() {
        let mut policy = Policy::default();
        policy.set("--send-rate", "500").unwrap();
        policy.set("--connections-per-ip", "20000").unwrap();
        assert_eq!(policy.sends_per_second, 500.0);
        assert_eq!(policy.connections_per_ip, 20_000);
        assert!(policy.set("--send-burst", "-1").is_err());
        policy.set("--commit-pace-ms", "0").unwrap();
        assert_eq!(policy.commit_pace, Duration::ZERO);
        assert!(policy.set("--commit-pace-ms", "5000").is_err());
        assert!(policy.set("--send-rate", "NaN").is_err());
        policy.set("--tcp-connections-per-ip", "0").unwrap();
        assert_eq!(policy.tcp_connections_per_ip, 0);
        policy.set("--header-timeout-s", "5").unwrap();
        assert_eq!(policy.header_read_timeout, Duration::from_secs(5));
        assert!(policy.set("--http-idle-timeout-s", "0").is_err());
        policy.set("--presence-ttl-s", "6").unwrap();
        assert_eq!(policy.presence_ttl, Duration::from_secs(6));
        assert!(policy.set("--presence-ttl-s", "1").is_err());
    }
}
