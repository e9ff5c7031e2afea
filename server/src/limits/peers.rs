//! Open TCP connections per client address, counted below HTTP and the
//! WebSocket: a peer that opens thousands of idle connections is turned away
//! at accept, before it costs a request parser or a file descriptor for long.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

#[derive(Clone)]
pub struct PeerCaps {
    counts: Arc<Mutex<HashMap<IpAddr, usize>>>,
    /// Zero: no cap.
    per_ip: usize,
}

/// A counted connection; dropping it counts it out.
pub struct PeerSlot {
    caps: PeerCaps,
    ip: IpAddr,
}

impl PeerCaps {
    pub fn new(per_ip: usize) -> Self {
        PeerCaps { counts: Arc::default(), per_ip }
    }

    /// Counts a connection from `ip`, or `None` when that address holds its cap.
    pub fn open(&self, ip: IpAddr) -> Option<PeerSlot> {
        if self.per_ip == 0 {
            return Some(PeerSlot { caps: self.clone(), ip });
        }
        let mut counts = self.lock();
        let open = counts.entry(ip).or_default();
        if *open >= self.per_ip {
            return None;
        }
        *open += 1;
        Some(PeerSlot { caps: self.clone(), ip })
    }

    /// Connections open from `ip` now.
    pub fn open_from(&self, ip: IpAddr) -> usize {
        self.lock().get(&ip).copied().unwrap_or(0)
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<IpAddr, usize>> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for PeerSlot {
    fn drop(&mut self) {
        if self.caps.per_ip == 0 {
            return;
        }
        let mut counts = self.caps.lock();
        if let Some(n) = counts.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn an_address_holds_at_most_its_cap_and_closing_frees_a_place() {
        let caps = PeerCaps::new(2);
        let a = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
        let b = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));
        let first = caps.open(a).unwrap();
        let _second = caps.open(a).unwrap();
        assert!(caps.open(a).is_none());
        assert!(caps.open(b).is_some(), "another address is not affected");
        drop(first);
        assert!(caps.open(a).is_some());
        assert_eq!(caps.lock().len(), 1, "an address with nothing open is forgotten");
        let unlimited = PeerCaps::new(0);
        let held: Vec<_> = (0..100).map(|_| unlimited.open(a).unwrap()).collect();
        assert_eq!(held.len(), 100);
    }
}
