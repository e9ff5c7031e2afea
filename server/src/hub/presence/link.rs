//! Shared presence's connection to Redis, and how its reports are kept there.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use redis::aio::MultiplexedConnection;

use super::Report;
use crate::bus::Bus;

/// Longest wait for Redis in one attempt.
pub const PATIENCE: Duration = Duration::from_secs(2);
/// How long to fail at once after Redis failed, rather than wait on it again.
const PAUSE: Duration = Duration::from_secs(1);

/// One connection, made when first needed and again after a failure.
#[derive(Default)]
pub struct Link {
    connection: Option<MultiplexedConnection>,
    /// Redis failed: fail at once until then.
    down_until: Option<Instant>,
}

impl Link {
    /// Whether Redis failed a moment ago (queries fail at once until then).
    pub fn is_down(&self) -> bool {
        self.down_until.is_some_and(|until| Instant::now() < until)
    }

    /// Tries Redis again at the next query, however recently it failed.
    pub fn forgive(&mut self) {
        self.down_until = None;
    }

    /// Runs `pipe` on the connection, connecting when there is none;
    /// fails at once for a moment after Redis failed.
    pub async fn query<T: redis::FromRedisValue>(
        &mut self,
        bus: &Bus,
        pipe: &redis::Pipeline,
    ) -> redis::RedisResult<T> {
        if self.down_until.is_some_and(|until| Instant::now() < until) {
            return Err(redis::RedisError::from((redis::ErrorKind::Io, "Redis failed a moment ago")));
        }
        let attempt = async {
            let connection = match &mut self.connection {
                Some(connection) => connection,
                None => self.connection.insert(bus.client().get_multiplexed_async_connection().await?),
            };
            pipe.query_async(connection).await
        };
        let result = match tokio::time::timeout(PATIENCE, attempt).await {
            Ok(result) => result,
            Err(_) => Err(redis::RedisError::from((redis::ErrorKind::Io, "Redis did not answer in time"))),
        };
        if result.is_err() {
            self.connection = None;
            self.down_until = Some(Instant::now() + PAUSE);
        }
        result
    }
}

/// A process's report as its hash has it (`None`: no hash, nobody there).
pub fn parse(node: u64, hash: HashMap<String, String>) -> Option<Report> {
    if hash.is_empty() {
        return None;
    }
    let mut report = Report { node, full: true, ..Report::default() };
    for (field, value) in hash {
        match field.as_str() {
            "~v" => report.v = value.parse().unwrap_or(0),
            "~readers" => report.readers = value.parse().unwrap_or(0),
            _ => match serde_json::from_str::<(String, bool)>(&value) {
                Ok((display_name, away)) => report.set.push((field, display_name, away)),
                Err(error) => tracing::warn!(%error, field, "a presence entry on Redis that is not one; ignored"),
            },
        }
    }
    Some(report)
}

pub fn epoch_millis() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_millis() as u64)
}
