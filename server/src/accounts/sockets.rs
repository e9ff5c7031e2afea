//! Which WebSockets belong to which session, so that signing out closes them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio_util::sync::CancellationToken;

use super::token::SessionKey;

#[derive(Clone, Default)]
pub struct SessionSockets {
    inner: Arc<Mutex<Registry>>,
}

#[derive(Default)]
struct Registry {
    open: HashMap<SessionKey, Entry>,
    next_generation: u64,
}

struct Entry {
    ended: CancellationToken,
    sockets: usize,
    /// Tells this entry from a later one under the same key.
    generation: u64,
}

/// A socket's place in the registry; `ended` is cancelled when its session ends.
/// Dropping it (the socket closed) takes the socket out.
pub struct SocketRegistration {
    pub ended: CancellationToken,
    key: SessionKey,
    generation: u64,
    registry: SessionSockets,
}

impl SessionSockets {
    pub fn register(&self, key: SessionKey) -> SocketRegistration {
        let mut registry = self.lock();
        let generation = registry.next_generation;
        let entry = registry.open.entry(key.clone()).or_insert_with(|| Entry {
            ended: CancellationToken::new(),
            sockets: 0,
            generation,
        });
        entry.sockets += 1;
        let (ended, generation_used) = (entry.ended.clone(), entry.generation);
        if generation_used == generation {
            registry.next_generation += 1;
        }
        SocketRegistration { ended, key, generation: generation_used, registry: self.clone() }
    }

    /// Ends every socket of the session.
    pub fn end(&self, key: &SessionKey) {
        let entry = self.lock().open.remove(key);
        if let Some(entry) = entry {
            tracing::debug!(sockets = entry.sockets, "closing the sockets of an ended session");
            entry.ended.cancel();
        }
    }

    /// Sessions with open sockets.
    pub fn session_count(&self) -> usize {
        self.lock().open.len()
    }

    fn lock(&self) -> MutexGuard<'_, Registry> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for SocketRegistration {
    fn drop(&mut self) {
        let mut registry = self.registry.lock();
        if let Some(entry) = registry.open.get_mut(&self.key) {
            if entry.generation != self.generation {
                return;
            }
            entry.sockets -= 1;
            if entry.sockets == 0 {
                registry.open.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ending_a_session_cancels_its_sockets_only() {
        let sockets = SessionSockets::default();
        let ada = SessionKey("ada".into());
        let first = sockets.register(ada.clone());
        let second = sockets.register(ada.clone());
        let bob = sockets.register(SessionKey("bob".into()));
        assert_eq!(sockets.session_count(), 2);
        sockets.end(&ada);
        assert!(first.ended.is_cancelled() && second.ended.is_cancelled());
        assert!(!bob.ended.is_cancelled());
        drop((first, second));
        assert_eq!(sockets.session_count(), 1);
        drop(bob);
        assert_eq!(sockets.session_count(), 0);
    }

    #[test]
    fn a_closed_socket_of_an_ended_session_leaves_a_new_entry_alone() {
        let sockets = SessionSockets::default();
        let key = SessionKey("k".into());
        let old = sockets.register(key.clone());
        sockets.end(&key);
        let new = sockets.register(key.clone());
        drop(old);
        assert_eq!(sockets.session_count(), 1, "the new socket is still registered");
        assert!(!new.ended.is_cancelled());
    }
}
