//! Live sessions in memory, so a page or a socket of a signed-in person is not
//! a database read each time: when a crowd of people opens the chat at once,
//! the round trip to SQLite's thread per request (a wake-up each way) was the
//! largest single cost of a join (a perf profile of 5,000 joins spent about
//! 40% of the server's samples waking and waiting on the database threads).
//!
//! An entry holds until the session expires or signs out here ([`forget`] is
//! called before that sign-out's sockets are ended, so a socket that finds the
//! entry is one those sockets include). A process that shares sessions with
//! others (several nodes) also forgets what another signed out, as the bus
//! tells it; the bus may lose that, so there an entry is also re-read from
//! the store after [`SessionCache::keep_for`] (a sign-out elsewhere then takes
//! effect here within that time at worst).
//!
//! Entries are written inline in the table, with no allocation of their own
//! (the names in a fixed buffer, the key as its 32 bytes): entries are made
//! as a crowd joins, among the joins' short-lived buffers, and three small
//! strings per entry kept alive there pinned the pages around them after the
//! crowd left. 10,000 people who joined for the first time left the server at
//! 75 MiB of RSS (17.6 before them), 33 MiB with no cache at all.
//!
//! [`forget`]: SessionCache::forget

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, PoisonError};

use crate::store::{Account, AccountId};

/// Most sessions kept; past it, the expired go, and if that is not enough,
/// all (they are read again as they are used).
const MAX_CACHED: usize = 100_000;
/// Room for a username (32 ASCII characters at most) and a display name (32
/// characters, up to 128 bytes); longer (which no valid account has) is not cached.
const NAMES: usize = 160;

pub struct SessionCache {
    /// By the session's key (the hash of its token).
    sessions: Mutex<HashMap<[u8; 32], Entry>>,
    /// How long (ms) an entry is trusted before it is read again.
    keep_ms: AtomicI64,
}

impl Default for SessionCache {
    fn default() -> Self {
        SessionCache { sessions: Mutex::default(), keep_ms: AtomicI64::new(i64::MAX) }
    }
}

/// One cached session, every byte of it inside the table.
struct Entry {
    id: AccountId,
    /// When it expires (ms).
    expires_at: i64,
    /// Until when it is trusted without reading the store again (ms).
    fresh_until: i64,
    username_len: u8,
    names_len: u8,
    /// The username, then the display name.
    names: [u8; NAMES],
}

impl Entry {
    fn new(account: &Account, expires_at: i64, fresh_until: i64) -> Option<Self> {
        let (username, display_name) = (account.username.as_bytes(), account.display_name.as_bytes());
        let len = username.len() + display_name.len();
        if len > NAMES {
            return None;
        }
        let mut names = [0; NAMES];
        names[..username.len()].copy_from_slice(username);
        names[username.len()..len].copy_from_slice(display_name);
        Some(Entry {
            id: account.id,
            expires_at,
            fresh_until,
            username_len: username.len() as u8,
            names_len: len as u8,
            names,
        })
    }

    fn account(&self) -> Account {
        let (username, display_name) =
            self.names[..usize::from(self.names_len)].split_at(usize::from(self.username_len));
        // Copied whole from strings, split where one ended: valid UTF-8.
        Account {
            id: self.id,
            username: String::from_utf8_lossy(username).into_owned(),
            display_name: String::from_utf8_lossy(display_name).into_owned(),
        }
    }
}

/// A session key (64 lowercase hex digits, as this server makes them) as its
/// bytes; `None` for anything else.
fn slot(key: &str) -> Option<[u8; 32]> {
    if key.bytes().any(|b| b.is_ascii_uppercase()) {
        return None;
    }
    let mut bytes = [0; 32];
    hex::decode_to_slice(key, &mut bytes).ok()?;
    Some(bytes)
}

impl SessionCache {
    /// The session's account and expiry, if it is known here and live at `now`.
    pub fn get(&self, key: &str, now: i64) -> Option<(Account, i64)> {
        let slot = slot(key)?;
        let sessions = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        sessions
            .get(&slot)
            .filter(|entry| entry.expires_at > now && entry.fresh_until > now)
            .map(|entry| (entry.account(), entry.expires_at))
    }

    /// Several processes: trust an entry for `ms` only, then read it again.
    pub fn keep_for(&self, ms: i64) {
        self.keep_ms.store(ms, Ordering::Relaxed);
    }

    pub fn put(&self, key: &str, account: &Account, expires_at: i64, now: i64) {
        let fresh_until = now.saturating_add(self.keep_ms.load(Ordering::Relaxed));
        let (Some(slot), Some(entry)) = (slot(key), Entry::new(account, expires_at, fresh_until)) else {
            return;
        };
        let mut sessions = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        if sessions.len() >= MAX_CACHED {
            sessions.retain(|_, entry| entry.expires_at > now);
            if sessions.len() >= MAX_CACHED {
                sessions.clear();
            }
        }
        sessions.insert(slot, entry);
    }

    pub fn forget(&self, key: &str) {
        if let Some(slot) = slot(key) {
            self.sessions.lock().unwrap_or_else(PoisonError::into_inner).remove(&slot);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ada() -> Account {
        Account { id: AccountId(1), username: "ada".into(), display_name: "Ada Lovelace ✨".into() }
    }

    const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    const OTHER: &str = "f0112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

    #[test]
    fn with_other_processes_an_entry_is_read_again_after_a_while() {
        let cache = SessionCache::default();
        cache.keep_for(30_000);
        cache.put(KEY, &ada(), 1_000_000, 0);
        assert!(cache.get(KEY, 29_999).is_some());
        assert!(cache.get(KEY, 30_000).is_none(), "read from the store again");
    }

    #[test]
    fn a_session_is_known_until_it_expires_or_is_forgotten() {
        let cache = SessionCache::default();
        cache.put(KEY, &ada(), 1_000, 0);
        let (account, expires_at) = cache.get(KEY, 999).expect("cached");
        assert_eq!(
            (account.id, account.username.as_str(), account.display_name.as_str()),
            (AccountId(1), "ada", "Ada Lovelace ✨")
        );
        assert_eq!(expires_at, 1_000);
        assert!(cache.get(KEY, 1_000).is_none(), "expired");
        assert!(cache.get(OTHER, 0).is_none());
        cache.forget(KEY);
        assert!(cache.get(KEY, 0).is_none(), "signed out");
    }

    #[test]
    fn names_of_every_allowed_length_fit_and_what_is_not_a_key_is_not_cached() {
        let cache = SessionCache::default();
        let longest = Account { id: AccountId(2), username: "u".repeat(32), display_name: "😀".repeat(32) };
        cache.put(KEY, &longest, 1_000, 0);
        let (account, _) = cache.get(KEY, 0).expect("the longest names fit");
        assert_eq!((account.username, account.display_name), (longest.username, longest.display_name));
        cache.put("not-a-key", &ada(), 1_000, 0);
        assert!(cache.get("not-a-key", 0).is_none());
        assert!(cache.get(&KEY.to_uppercase(), 0).is_none(), "keys are lowercase hex");
    }
}
