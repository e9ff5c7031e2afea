//! Who is in a room on the other server processes (with a bus): each
//! process's report of its own people there, and their union.
//!
//! A process reports what changed among its people in a room (a [`Report`]),
//! each report naming the one it follows, so that a receiver applies them in
//! order and asks for the whole again (from Redis, where each process keeps
//! its report) when one was lost, repeated out of turn or came first. Memory
//! is one entry per person per process here, never per pair of people.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

/// A person on a process: username, display name, away.
pub type Entry = (String, String, bool);

/// A process's changes among its people in a room: who is there now, who
/// is gone, and how many readers there are.
pub type Changes = (Vec<Entry>, Vec<String>, u32);

/// What one process says about its people in one room.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// The process (its bus's id).
    pub node: u64,
    /// This report's version, and the one it follows (0: none).
    pub v: u64,
    pub prev: u64,
    /// The whole of the process's people here, not a change.
    #[serde(default)]
    pub full: bool,
    /// People there now: username, display name, away.
    #[serde(default)]
    pub set: Vec<Entry>,
    /// People no longer there.
    #[serde(default)]
    pub gone: Vec<String>,
    /// Signed-out readers there.
    #[serde(default)]
    pub readers: u32,
}

impl Report {
    /// The usernames whose state it may change, given what is known of its process.
    fn touches<'a>(&'a self, known: Option<&'a Node>) -> impl Iterator<Item = &'a str> + 'a {
        let replaced = known.filter(|_| self.full).into_iter().flat_map(|node| node.people.keys().map(String::as_str));
        self.set
            .iter()
            .map(|(username, _, _)| username.as_str())
            .chain(self.gone.iter().map(String::as_str))
            .chain(replaced)
    }
}

/// What became of a report.
#[derive(Debug, PartialEq, Eq)]
pub enum Heard {
    Applied,
    /// Older than what is known: dropped.
    Stale,
    /// It does not follow what is known: the process's whole report must be read.
    Resync,
}

#[derive(Default)]
pub(super) struct Elsewhere {
    nodes: HashMap<u64, Node>,
    /// The union, by username.
    people: BTreeMap<String, Seen>,
    readers: usize,
}

struct Node {
    version: u64,
    /// By username: display name, away.
    people: HashMap<String, (String, bool)>,
    readers: u32,
}

/// A person as the other processes have them together.
pub(super) struct Seen {
    pub display_name: String,
    /// Processes that have them, and how many of those say away.
    pub nodes: u32,
    pub away: u32,
}

impl Elsewhere {
    pub fn seen(&self, username: &str) -> Option<&Seen> {
        self.people.get(username)
    }

    pub fn people(&self) -> &BTreeMap<String, Seen> {
        &self.people
    }

    pub fn readers(&self) -> usize {
        self.readers
    }

    /// The processes with people (or readers) here.
    pub fn nodes(&self) -> impl Iterator<Item = u64> + '_ {
        self.nodes.keys().copied()
    }

    /// Whether `report` applies now, and the usernames it would change.
    pub fn check(&self, report: &Report) -> (Heard, Vec<String>) {
        let known = self.nodes.get(&report.node);
        let heard = match known {
            Some(node) if report.v <= node.version => Heard::Stale,
            Some(node) if report.full || report.prev == node.version => Heard::Applied,
            None if report.full => Heard::Applied,
            _ => Heard::Resync,
        };
        let touched = match heard {
            Heard::Applied => report.touches(known).map(str::to_owned).collect(),
            _ => Vec::new(),
        };
        (heard, touched)
    }

    /// Applies a report [`Elsewhere::check`] said applies.
    pub fn apply(&mut self, report: Report) {
        let Report { node: id, v, full, set, gone, readers, .. } = report;
        let node = self.nodes.entry(id).or_insert_with(|| Node { version: 0, people: HashMap::new(), readers: 0 });
        node.version = v;
        self.readers = self.readers - node.readers as usize + readers as usize;
        node.readers = readers;
        if full {
            for (username, (_, away)) in std::mem::take(&mut node.people) {
                Self::unsee(&mut self.people, &username, away);
            }
        }
        for username in gone {
            if let Some((_, away)) = node.people.remove(&username) {
                Self::unsee(&mut self.people, &username, away);
            }
        }
        for (username, display_name, away) in set {
            let before = node.people.insert(username.clone(), (display_name.clone(), away));
            let seen = self.people.entry(username).or_insert(Seen { display_name: String::new(), nodes: 0, away: 0 });
            seen.display_name = display_name;
            match before {
                Some((_, was_away)) => seen.away = seen.away + u32::from(away) - u32::from(was_away),
                None => {
                    seen.nodes += 1;
                    seen.away += u32::from(away);
                }
            }
        }
    }

    /// The version of a process's last report applied here.
    pub fn version_of(&self, id: u64) -> Option<u64> {
        self.nodes.get(&id).map(|node| node.version)
    }

    /// The usernames a process has here.
    pub fn people_of(&self, id: u64) -> Vec<String> {
        self.nodes.get(&id).map(|node| node.people.keys().cloned().collect()).unwrap_or_default()
    }

    /// Forgets a process's people here (it ended, or its report expired).
    pub fn forget(&mut self, id: u64) {
        let Some(node) = self.nodes.remove(&id) else { return };
        self.readers -= node.readers as usize;
        for (username, (_, away)) in node.people {
            Self::unsee(&mut self.people, &username, away);
        }
    }

    fn unsee(people: &mut BTreeMap<String, Seen>, username: &str, away: bool) {
        if let Some(seen) = people.get_mut(username) {
            seen.nodes -= 1;
            seen.away -= u32::from(away);
            if seen.nodes == 0 {
                people.remove(username);
            }
        }
    }
}
