//! The wall clock as the server stores it: milliseconds since the Unix epoch.

use app::protocol::Timestamp;

pub fn now() -> Timestamp {
    let ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    Timestamp(ms)
}
