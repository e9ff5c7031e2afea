//! Live sessions in memory, so a page or a socket of a signed-in person is not
//! a database read each time: when a crowd of people opens the chat at once,
//! the round trip to SQLite's thread per request (a wake-up each way) was the
//! largest single cost of a join (a perf profile of 5,000 joins spent about
//! 40% of the server's samples waking and waiting on the database threads).
//!
//! An entry holds until the session expires or signs out here ([`forget`] is
//! called before that sign-out's sockets are ended, so a socket that finds the
//! entry is one those sockets include). A process that shares sessions with
//! others (several nodes) must also forget what another node signed out.
//!
//! [`forget`]: SessionCache::forget

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use crate::store::Account;

/// Most sessions kept; past it, the expired go, and if that is not enough,
/// all (they are read again as they are used).
const MAX_CACHED: usize = 100_000;

#[derive(Default)]
pub struct SessionCache {
    /// By the hash of the session's token: the account and when it expires (ms).
    sessions: Mutex<HashMap<String, (Account, i64)>>,
}

impl SessionCache {
    /// The session's account and expiry, if it is known here and live at `now`.
    pub fn get(&self, key: &str, now: i64) -> Option<(Account, i64)> {
        let sessions = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        sessions.get(key).filter(|(_, expires_at)| *expires_at > now).cloned()
    }

    pub fn put(&self, key: String, account: Account, expires_at: i64, now: i64) {
        let mut sessions = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        if sessions.len() >= MAX_CACHED {
            sessions.retain(|_, (_, expires)| *expires > now);
            if sessions.len() >= MAX_CACHED {
                sessions.clear();
            }
        }
        sessions.insert(key, (account, expires_at));
    }

    pub fn forget(&self, key: &str) {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner).remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::AccountId;

    fn ada() -> Account {
        Account { id: AccountId(1), username: "ada".into(), display_name: "Ada".into() }
    }

    #[test]
    fn a_session_is_known_until_it_expires_or_is_forgotten() {
        let cache = SessionCache::default();
        cache.put("k".into(), ada(), 1_000, 0);
        assert_eq!(cache.get("k", 999).map(|(a, e)| (a.username, e)), Some(("ada".into(), 1_000)));
        assert!(cache.get("k", 1_000).is_none(), "expired");
        assert!(cache.get("other", 0).is_none());
        cache.forget("k");
        assert!(cache.get("k", 0).is_none(), "signed out");
    }
}
