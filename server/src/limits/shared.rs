//! The limits of one account or address held across server processes (with
//! a bus): its sockets over all of them, and its messages per second.
//!
//! The processes tell each other, a few times a second, what changed here:
//! each account's and address's socket count here (absolute, so a lost or
//! repeated message leaves at most a stale count until its next change or
//! the next whole tally, sent every [`WHOLE_EVERY`]), and the tokens each
//! account took from its send bucket (which the others take from theirs). A
//! process checks its caps against its own count plus the others', from
//! memory: no round trip to Redis per socket or per message, and when Redis
//! is away the others' counts expire after [`SILENT_AFTER`] and each process
//! holds the limits alone, as a single one does. The cost is a lag of one
//! pace: a burst spread over processes within it can pass by that much.
//!
//! Nothing is kept in Redis: a stored counter needs a round trip per socket
//! and leaks what a killed process held; counts that expire with their
//! teller do not.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{ConnectionCaps, KeyedBuckets};
use crate::bus::Bus;
use crate::store::AccountId;

/// Where the processes tell each other their counts.
pub const CHANNEL: &str = "chat:limits";
/// How often what changed here is told.
pub const PACE: Duration = Duration::from_millis(100);
/// How often every count here is told whole (also saying this process lives).
pub const WHOLE_EVERY: Duration = Duration::from_secs(5);
/// A process not heard from for this long holds nothing any more.
pub const SILENT_AFTER: Duration = Duration::from_secs(15);

/// Counts by account and by address.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    #[serde(default)]
    pub accounts: Vec<(i64, usize)>,
    #[serde(default)]
    pub ips: Vec<(IpAddr, usize)>,
}

impl Tally {
    fn is_empty(&self) -> bool {
        self.accounts.is_empty() && self.ips.is_empty()
    }
}

/// One process's message to the others.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Told {
    node: u64,
    /// Every count of the process (those not named are zero), not changes.
    #[serde(default)]
    full: bool,
    #[serde(default)]
    sockets: Tally,
    /// Tokens taken from each account's send bucket since the last message.
    #[serde(default)]
    sent: Vec<(i64, u32)>,
}

/// The socket counts of the other processes, and what changed here.
#[derive(Default)]
pub(super) struct Counted {
    nodes: HashMap<u64, Remote>,
    by_account: HashMap<AccountId, usize>,
    by_ip: HashMap<IpAddr, usize>,
    changed_accounts: HashSet<AccountId>,
    changed_ips: HashSet<IpAddr>,
}

struct Remote {
    accounts: HashMap<AccountId, usize>,
    ips: HashMap<IpAddr, usize>,
    heard: Instant,
}

impl Counted {
    /// Sockets of `account` on the other processes.
    pub fn account(&self, account: &AccountId) -> usize {
        self.by_account.get(account).copied().unwrap_or(0)
    }

    pub fn ip(&self, ip: &IpAddr) -> usize {
        self.by_ip.get(ip).copied().unwrap_or(0)
    }

    pub fn changed_account(&mut self, account: AccountId) {
        self.changed_accounts.insert(account);
    }

    pub fn changed_ip(&mut self, ip: IpAddr) {
        self.changed_ips.insert(ip);
    }

    /// The counts here of what changed (`full`: of everything).
    pub fn take_changes(
        &mut self,
        full: bool,
        by_account: &HashMap<AccountId, usize>,
        by_ip: &HashMap<IpAddr, usize>,
    ) -> Tally {
        let accounts = std::mem::take(&mut self.changed_accounts);
        let ips = std::mem::take(&mut self.changed_ips);
        if full {
            return Tally {
                accounts: by_account.iter().map(|(account, n)| (account.0, *n)).collect(),
                ips: by_ip.iter().map(|(ip, n)| (*ip, *n)).collect(),
            };
        }
        Tally {
            accounts: accounts.into_iter().map(|a| (a.0, by_account.get(&a).copied().unwrap_or(0))).collect(),
            ips: ips.into_iter().map(|ip| (ip, by_ip.get(&ip).copied().unwrap_or(0))).collect(),
        }
    }

    /// Another process's counts: changes, or (`full`) all of them.
    pub fn heard(&mut self, node: u64, tally: Tally, full: bool, now: Instant) {
        let remote = self.nodes.entry(node).or_insert_with(|| Remote {
            accounts: HashMap::new(),
            ips: HashMap::new(),
            heard: now,
        });
        remote.heard = now;
        if full {
            for (account, n) in std::mem::take(&mut remote.accounts) {
                add(&mut self.by_account, account, n, 0);
            }
            for (ip, n) in std::mem::take(&mut remote.ips) {
                add(&mut self.by_ip, ip, n, 0);
            }
        }
        for (account, n) in tally.accounts {
            let account = AccountId(account);
            let before = set(&mut remote.accounts, account, n);
            add(&mut self.by_account, account, before, n);
        }
        for (ip, n) in tally.ips {
            let before = set(&mut remote.ips, ip, n);
            add(&mut self.by_ip, ip, before, n);
        }
    }

    /// Forgets the processes not heard from since `since`.
    pub fn forget_silent(&mut self, since: Instant) {
        let silent: Vec<u64> = self.nodes.iter().filter(|(_, r)| r.heard < since).map(|(node, _)| *node).collect();
        for node in silent {
            if let Some(remote) = self.nodes.remove(&node) {
                tracing::info!(node, "another process's connection counts expired (not heard from)");
                for (account, n) in remote.accounts {
                    add(&mut self.by_account, account, n, 0);
                }
                for (ip, n) in remote.ips {
                    add(&mut self.by_ip, ip, n, 0);
                }
            }
        }
    }
}

/// Sets `key`'s count to `n` (removing zeros); returns what it was.
fn set<K: Eq + std::hash::Hash>(map: &mut HashMap<K, usize>, key: K, n: usize) -> usize {
    if n == 0 {
        map.remove(&key).unwrap_or(0)
    } else {
        map.insert(key, n).unwrap_or(0)
    }
}

/// Changes a sum by one of its parts going from `before` to `after`.
fn add<K: Eq + std::hash::Hash + Copy>(sums: &mut HashMap<K, usize>, key: K, before: usize, after: usize) {
    let sum = (sums.get(&key).copied().unwrap_or(0) + after).saturating_sub(before);
    if sum == 0 {
        sums.remove(&key);
    } else {
        sums.insert(key, sum);
    }
}

/// The task telling the others what changes here; ended by [`SharedLimits::close`].
pub struct SharedLimits {
    caps: ConnectionCaps,
    sends: Option<Arc<KeyedBuckets<AccountId>>>,
    stop: CancellationToken,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl SharedLimits {
    /// Shares `caps` and the send buckets (if any) with the other processes on `bus`.
    pub fn start(bus: Bus, caps: ConnectionCaps, sends: Option<Arc<KeyedBuckets<AccountId>>>) -> Self {
        caps.share();
        if let Some(sends) = &sends {
            sends.keep_tally();
        }
        bus.subscribe(CHANNEL.to_owned());
        let stop = CancellationToken::new();
        let task = tokio::spawn(tell((bus, caps.clone(), sends.clone()), stop.clone()));
        SharedLimits { caps, sends, stop, task: Mutex::new(Some(task)) }
    }

    /// Sockets of `account` on the other processes, as they last told.
    pub fn held_elsewhere(&self, account: AccountId) -> usize {
        self.caps.held_elsewhere(account)
    }

    /// What another process told (a message on [`CHANNEL`]).
    pub fn heard(&self, payload: &[u8]) {
        let told: Told = match serde_json::from_slice(payload) {
            Ok(told) => told,
            Err(error) => {
                tracing::warn!(%error, "a message about limits on the bus that is not one; ignored");
                return;
            }
        };
        self.caps.heard(told.node, told.sockets, told.full);
        if let Some(sends) = &self.sends {
            let now = Instant::now();
            for (account, n) in told.sent {
                sends.debit(&AccountId(account), n, now);
            }
        }
    }

    /// Ends the task, telling the others this process holds nothing any more.
    pub async fn close(&self) {
        self.stop.cancel();
        let task = self.task.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(task) = task {
            if let Err(error) = task.await {
                tracing::error!(%error, "the shared limits task failed");
            }
        }
    }
}

async fn tell(
    (bus, caps, sends): (Bus, ConnectionCaps, Option<Arc<KeyedBuckets<AccountId>>>),
    stop: CancellationToken,
) {
    let mut pace = tokio::time::interval(PACE);
    pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut whole_at = Instant::now();
    loop {
        tokio::select! {
            () = stop.cancelled() => {
                // A whole tally of nothing: the others stop counting this
                // process's sockets now, not after it went silent long enough.
                let told = Told { node: bus.id(), full: true, ..Told::default() };
                bus.publish(CHANNEL.to_owned(), serde_json::to_vec(&told).expect("a tally serialises"));
                return;
            }
            _ = pace.tick() => {}
        }
        let full = whole_at.elapsed() >= WHOLE_EVERY;
        let sockets = caps.take_changes(full);
        let sent: Vec<(i64, u32)> = sends
            .as_ref()
            .map(|sends| sends.take_tally().into_iter().map(|(account, n)| (account.0, n)).collect())
            .unwrap_or_default();
        if full {
            whole_at = Instant::now();
            caps.forget_silent(Instant::now() - SILENT_AFTER);
        } else if sockets.is_empty() && sent.is_empty() {
            continue;
        }
        let told = Told { node: bus.id(), full, sockets, sent };
        bus.publish(CHANNEL.to_owned(), serde_json::to_vec(&told).expect("a tally serialises"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_processes_counts_add_up_change_and_expire() {
        let start = Instant::now();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let mut counted = Counted::default();
        let tally = |accounts: &[(i64, usize)], ips: &[(IpAddr, usize)]| Tally {
            accounts: accounts.to_vec(),
            ips: ips.to_vec(),
        };
        counted.heard(1, tally(&[(7, 2)], &[(ip, 2)]), false, start);
        counted.heard(2, tally(&[(7, 1)], &[(ip, 1)]), false, start);
        assert_eq!((counted.account(&AccountId(7)), counted.ip(&ip)), (3, 3));
        // Counts are absolute: a repeat changes nothing, a change replaces.
        counted.heard(1, tally(&[(7, 2)], &[]), false, start);
        counted.heard(1, tally(&[(7, 0)], &[]), false, start);
        assert_eq!(counted.account(&AccountId(7)), 1);
        // A whole tally replaces what that process had.
        counted.heard(2, tally(&[], &[(ip, 4)]), true, start + Duration::from_secs(10));
        assert_eq!((counted.account(&AccountId(7)), counted.ip(&ip)), (0, 6));
        // Process 1 went silent: its counts expire.
        counted.forget_silent(start + Duration::from_secs(5));
        assert_eq!(counted.ip(&ip), 4);
        assert!(counted.by_account.is_empty(), "no zero kept");
    }

    #[test]
    fn what_changed_here_is_told_as_counts_here() {
        let mut counted = Counted::default();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let by_account = HashMap::from([(AccountId(7), 2)]);
        let by_ip = HashMap::from([(ip, 3)]);
        counted.changed_account(AccountId(7));
        counted.changed_account(AccountId(8));
        let told = counted.take_changes(false, &by_account, &by_ip);
        let mut accounts = told.accounts.clone();
        accounts.sort_unstable();
        assert_eq!(accounts, vec![(7, 2), (8, 0)], "a count gone to zero is told as zero");
        assert!(told.ips.is_empty());
        assert!(counted.take_changes(false, &by_account, &by_ip).is_empty());
        assert_eq!(
            counted.take_changes(true, &by_account, &by_ip),
            Tally { accounts: vec![(7, 2)], ips: vec![(ip, 3)] }
        );
    }
}
