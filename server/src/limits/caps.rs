//! How many WebSockets one account and one address may hold open at once:
//! here, and with a bus on the other processes too (their counts, as they
//! last told them: `shared`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::store::AccountId;

#[derive(Clone)]
pub struct ConnectionCaps {
    counts: Arc<Mutex<Counts>>,
    per_account: usize,
    per_ip: usize,
}

#[derive(Default)]
struct Counts {
    by_account: HashMap<AccountId, usize>,
    by_ip: HashMap<IpAddr, usize>,
    /// With a bus: the other processes' counts, and what changed here since
    /// they were last told.
    shared: Option<super::shared::Counted>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CapError {
    #[error("This account has {0} connections open already; close a tab or two and reload.")]
    Account(usize),
    #[error("Your network has {0} connections open already; try again later.")]
    Ip(usize),
}

/// A counted connection; dropping it counts it out.
pub struct ConnectionSlot {
    caps: ConnectionCaps,
    account: Option<AccountId>,
    ip: IpAddr,
}

impl ConnectionCaps {
    pub fn new(per_account: usize, per_ip: usize) -> Self {
        ConnectionCaps { counts: Arc::default(), per_account, per_ip }
    }

    /// Counts a connection from `ip`, before anything else about it costs work
    /// (its session is read only once its address is within its cap).
    pub fn open(&self, ip: IpAddr) -> Result<ConnectionSlot, CapError> {
        let mut counts = self.lock();
        let elsewhere = counts.shared.as_ref().map_or(0, |shared| shared.ip(&ip));
        let from_ip = counts.by_ip.entry(ip).or_default();
        if *from_ip + elsewhere >= self.per_ip {
            if *from_ip == 0 {
                counts.by_ip.remove(&ip);
            }
            return Err(CapError::Ip(self.per_ip));
        }
        *from_ip += 1;
        if let Some(shared) = &mut counts.shared {
            shared.changed_ip(ip);
        }
        Ok(ConnectionSlot { caps: self.clone(), account: None, ip })
    }

    /// Sockets of `account` open now, here and (with a bus) on the other processes.
    pub fn held_by(&self, account: AccountId) -> usize {
        let counts = self.lock();
        let elsewhere = counts.shared.as_ref().map_or(0, |shared| shared.account(&account));
        counts.by_account.get(&account).copied().unwrap_or(0) + elsewhere
    }

    /// Sockets of `account` on the other processes (with a bus), as they last told.
    pub fn held_elsewhere(&self, account: AccountId) -> usize {
        self.lock().shared.as_ref().map_or(0, |shared| shared.account(&account))
    }

    /// Sockets open here now, of every address.
    pub fn open_total(&self) -> usize {
        self.lock().by_ip.values().sum()
    }

    /// Sockets open from `ip` now.
    pub fn open_from(&self, ip: IpAddr) -> usize {
        self.lock().by_ip.get(&ip).copied().unwrap_or(0)
    }

    /// With a bus: keeps what changes here for the other processes, and
    /// counts theirs against the caps.
    pub(super) fn share(&self) {
        self.lock().shared.get_or_insert_with(Default::default);
    }

    /// What changed here since the last call (`full`: every count here), by
    /// account and by address, as counts here now.
    pub(super) fn take_changes(&self, full: bool) -> super::shared::Tally {
        let mut counts = self.lock();
        let Counts { by_account, by_ip, shared } = &mut *counts;
        let Some(shared) = shared else { return Default::default() };
        shared.take_changes(full, by_account, by_ip)
    }

    /// Another process's counts (see [`super::shared::Counted::heard`]).
    pub(super) fn heard(&self, node: u64, tally: super::shared::Tally, full: bool) {
        if let Some(shared) = &mut self.lock().shared {
            shared.heard(node, tally, full, std::time::Instant::now());
        }
    }

    /// Forgets the processes not heard from since `since`.
    pub(super) fn forget_silent(&self, since: std::time::Instant) {
        if let Some(shared) = &mut self.lock().shared {
            shared.forget_silent(since);
        }
    }

    fn lock(&self) -> MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl ConnectionSlot {
    /// Counts the connection for `account` too (once its session is known).
    pub fn signed_in(&mut self, account: AccountId) -> Result<(), CapError> {
        debug_assert!(self.account.is_none(), "a connection has one account");
        let mut counts = self.caps.lock();
        let elsewhere = counts.shared.as_ref().map_or(0, |shared| shared.account(&account));
        let from_account = counts.by_account.entry(account).or_default();
        if *from_account + elsewhere >= self.caps.per_account {
            if *from_account == 0 {
                counts.by_account.remove(&account);
            }
            return Err(CapError::Account(self.caps.per_account));
        }
        *from_account += 1;
        if let Some(shared) = &mut counts.shared {
            shared.changed_account(account);
        }
        self.account = Some(account);
        Ok(())
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut counts = self.caps.lock();
        count_down(&mut counts.by_ip, &self.ip);
        if let Some(account) = &self.account {
            count_down(&mut counts.by_account, account);
        }
        let (ip, account) = (self.ip, self.account);
        if let Some(shared) = &mut counts.shared {
            shared.changed_ip(ip);
            if let Some(account) = account {
                shared.changed_account(account);
            }
        }
    }
}

fn count_down<K: Eq + std::hash::Hash>(map: &mut HashMap<K, usize>, key: &K) {
    if let Some(n) = map.get_mut(key) {
        *n -= 1;
        if *n == 0 {
            map.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn caps_per_account_and_per_address() {
        let caps = ConnectionCaps::new(2, 3);
        let home = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
        let office = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));
        let ada = AccountId(1);
        let open = |account: Option<AccountId>, ip| {
            let mut slot = caps.open(ip)?;
            if let Some(account) = account {
                slot.signed_in(account)?;
            }
            Ok::<_, CapError>(slot)
        };
        let a = open(Some(ada), home).unwrap();
        let _b = open(Some(ada), office).unwrap();
        assert_eq!(open(Some(ada), home).err(), Some(CapError::Account(2)));
        let _reader = open(None, home).unwrap();
        let _bob = open(Some(AccountId(2)), home).unwrap();
        assert_eq!(open(None, home).err(), Some(CapError::Ip(3)));
        drop(a);
        assert!(open(Some(ada), office).is_ok(), "a closed connection frees its place");
        assert!(caps.lock().by_ip.len() <= 2);
        assert!(caps.lock().by_account.values().all(|n| *n > 0), "no empty entries kept");
    }
}
