//! Who is in a room: each signed-in person once, however many tabs they have
//! (here and, with a bus, on the other server processes), away when every tab
//! of theirs says so; signed-out readers only counted.
//!
//! Nothing here costs per pair of people. A join is a map insert and a copy of
//! the people for its welcome (everyone up to [`LISTED_UP_TO`], nobody in a
//! bigger room, which pages by [`PEOPLE_PAGE`]); its notice is not sent at once but
//! folded into the room's next [`Presence::notice`], which the hub's presence
//! task takes a few times a second: one frame for everyone, however many came.
//! Above [`LISTED_UP_TO`] people that frame carries only the count (pages are
//! asked for), so a crowd of arrivals costs each member a few small frames a
//! second instead of one per arrival.
//!
//! With a bus, the changes among this process's own people are also kept for
//! the next [`Report`] to the others (`shared`), and theirs are kept in
//! [`Elsewhere`]: what members see is the union.

mod elsewhere;
mod link;
pub(super) mod shared;

use std::collections::{BTreeMap, BTreeSet};

use app::protocol::{Person, ServerMsg, LISTED_UP_TO, PEOPLE_PAGE};

use elsewhere::Elsewhere;
pub use elsewhere::{Changes, Heard, Report};

#[derive(Default)]
pub(super) struct Presence {
    /// This process's tabs, by username.
    people: BTreeMap<String, Here>,
    readers: usize,
    /// The other processes' people (with a bus).
    elsewhere: Elsewhere,
    /// People here or elsewhere, each once.
    online: usize,
    /// What changed since the last notice, by username: how the person is
    /// now, or `None` for gone. Kept only while the room is small enough to
    /// list changes.
    changes: BTreeMap<String, Option<Person>>,
    /// Something changed since the last notice.
    dirty: bool,
    /// The last notice carried the count only: the next one in a small room
    /// sends the whole list.
    counted_only: bool,
    /// With a bus: whose state here changed since the last report to the
    /// others, and whether the readers did.
    outgoing: Option<Outgoing>,
}

#[derive(Default)]
struct Outgoing {
    people: BTreeSet<String>,
    readers: bool,
}

struct Here {
    display_name: String,
    tabs: u32,
    away_tabs: u32,
}

impl Presence {
    /// A room's presence that reports its changes to other processes.
    pub fn reported() -> Self {
        Presence { outgoing: Some(Outgoing::default()), ..Presence::default() }
    }

    /// Connections here of every kind: the room lives while there is one.
    pub fn connections(&self) -> usize {
        self.people.values().map(|here| here.tabs as usize).sum::<usize>() + self.readers
    }

    /// Nobody connected here (whoever is elsewhere).
    pub fn is_empty(&self) -> bool {
        self.people.is_empty() && self.readers == 0
    }

    /// People and readers, for the directory of rooms.
    pub fn headcount(&self) -> usize {
        self.online + self.readers + self.elsewhere.readers()
    }

    pub fn online(&self) -> u32 {
        self.online as u32
    }

    /// A tab of `username` (or, for `None`, a reader) came; returns the count
    /// and the people to welcome it with: everyone in a room of up to
    /// [`LISTED_UP_TO`], nobody in a bigger one (the page asks for pages when
    /// its person looks: a welcome is written to every joiner, and a socket
    /// keeps the buffer its biggest write needed).
    pub fn add(&mut self, person: Option<(&str, &str)>) -> (u32, Vec<Person>) {
        match person {
            None => {
                self.readers += 1;
                self.readers_changed();
            }
            Some((username, display_name)) => self.update_here(username, |people| {
                let here = people.entry(username.to_owned()).or_insert_with(|| Here {
                    display_name: display_name.to_owned(),
                    tabs: 0,
                    away_tabs: 0,
                });
                here.tabs += 1;
            }),
        }
        let people = if self.online > LISTED_UP_TO { Vec::new() } else { self.list(None, usize::MAX) };
        (self.online(), people)
    }

    /// A tab (or reader) went; `away` is what that tab last said.
    pub fn remove(&mut self, username: Option<&str>, away: bool) {
        let Some(username) = username else {
            self.readers = self.readers.saturating_sub(1);
            self.readers_changed();
            return;
        };
        self.update_here(username, |people| {
            let Some(here) = people.get_mut(username) else { return };
            here.tabs -= 1;
            if away {
                here.away_tabs -= 1;
            }
            if here.tabs == 0 {
                people.remove(username);
            }
        });
    }

    /// A tab of `username` went away (`true`) or came back.
    pub fn set_away(&mut self, username: &str, away: bool) {
        self.update_here(username, |people| {
            let Some(here) = people.get_mut(username) else { return };
            if away {
                here.away_tabs = (here.away_tabs + 1).min(here.tabs);
            } else {
                here.away_tabs = here.away_tabs.saturating_sub(1);
            }
        });
    }

    /// Another process's report of its people here. `Heard::Resync`: it
    /// does not follow the last one known, and that process's whole report
    /// must be read ([`Presence::heard`] again, with the whole).
    pub fn heard(&mut self, report: Report) -> Heard {
        let (heard, touched) = self.elsewhere.check(&report);
        if heard == Heard::Applied {
            self.update(touched, |presence| presence.elsewhere.apply(report));
        }
        heard
    }

    /// Forgets what another process said (it ended, or went silent);
    /// whether it had said anything.
    pub fn forget(&mut self, node: u64) -> bool {
        if !self.elsewhere.nodes().any(|known| known == node) {
            return false;
        }
        let touched = self.elsewhere.people_of(node);
        self.update(touched, |presence| presence.elsewhere.forget(node));
        true
    }

    /// The version of another process's report known here.
    pub fn version_of(&self, node: u64) -> Option<u64> {
        self.elsewhere.version_of(node)
    }

    /// The other processes heard of here.
    pub fn nodes(&self) -> Vec<u64> {
        self.elsewhere.nodes().collect()
    }

    /// This process's report of what changed among its people here since the
    /// last (`full`: all of them): people here now (username, display name,
    /// away), people gone, readers. `None` when nothing changed.
    pub fn take_report(&mut self, full: bool) -> Option<Changes> {
        let outgoing = std::mem::take(self.outgoing.as_mut()?);
        if !full && outgoing.people.is_empty() && !outgoing.readers {
            return None;
        }
        let state = |username: &str, here: &Here| (username.to_owned(), here.display_name.clone(), here.away());
        if full {
            let set = self.people.iter().map(|(username, here)| state(username, here)).collect();
            return Some((set, Vec::new(), self.readers as u32));
        }
        let (mut set, mut gone) = (Vec::new(), Vec::new());
        for username in outgoing.people {
            match self.people.get(&username) {
                Some(here) => set.push(state(&username, here)),
                None => gone.push(username),
            }
        }
        Some((set, gone, self.readers as u32))
    }

    /// People after `after`, by username, at most a page; and the username to
    /// ask the next page after, if there are more.
    pub fn page(&self, after: Option<&str>) -> (Vec<Person>, Option<String>) {
        let mut people = self.list(after, PEOPLE_PAGE + 1);
        let next = if people.len() > PEOPLE_PAGE {
            people.truncate(PEOPLE_PAGE);
            people.last().map(|last| last.username.clone())
        } else {
            None
        };
        (people, next)
    }

    /// The notice of what changed since the last one, if anything did.
    pub fn notice(&mut self) -> Option<ServerMsg> {
        if !std::mem::take(&mut self.dirty) {
            return None;
        }
        let changes = std::mem::take(&mut self.changes);
        let online = self.online();
        if self.online > LISTED_UP_TO {
            self.counted_only = true;
            return Some(ServerMsg::Presence { online, people: Vec::new(), left: Vec::new(), all: false });
        }
        if std::mem::take(&mut self.counted_only) {
            let people = self.list(None, usize::MAX);
            return Some(ServerMsg::Presence { online, people, left: Vec::new(), all: true });
        }
        let (mut people, mut left) = (Vec::new(), Vec::new());
        for (username, change) in changes {
            match change {
                Some(person) => people.push(person),
                None => left.push(username),
            }
        }
        Some(ServerMsg::Presence { online, people, left, all: false })
    }

    /// The person as everyone sees them: here, elsewhere, or both.
    fn merged(&self, username: &str) -> Option<Person> {
        let here = self.people.get(username);
        let seen = self.elsewhere.seen(username);
        let display_name = here.map(|here| &here.display_name).or(seen.map(|seen| &seen.display_name))?;
        Some(Person {
            username: username.to_owned(),
            display_name: display_name.clone(),
            away: here.is_none_or(Here::away) && seen.is_none_or(|seen| seen.away == seen.nodes),
        })
    }

    /// Up to `limit` people after `after`, in username order: the union of
    /// those here and those elsewhere.
    fn list(&self, after: Option<&str>, limit: usize) -> Vec<Person> {
        use std::ops::Bound::{Excluded, Unbounded};
        let start = || after.map_or(Unbounded, |after| Excluded(after.to_owned()));
        let mut here = self.people.range((start(), Unbounded)).map(|(username, _)| username).peekable();
        let mut there = self.elsewhere.people().range((start(), Unbounded)).map(|(username, _)| username).peekable();
        let mut people = Vec::new();
        while people.len() < limit {
            let next = match (here.peek(), there.peek()) {
                (None, None) => break,
                (Some(_), None) => here.next(),
                (None, Some(_)) => there.next(),
                (Some(a), Some(b)) if a < b => here.next(),
                (Some(a), Some(b)) if a > b => there.next(),
                (Some(_), Some(_)) => {
                    there.next();
                    here.next()
                }
            };
            people.extend(next.and_then(|username| self.merged(username)));
        }
        people
    }

    /// Changes this process's own tabs of `username`.
    fn update_here(&mut self, username: &str, change: impl FnOnce(&mut BTreeMap<String, Here>)) {
        let before = self.people.get(username).map(Here::away);
        self.update(vec![username.to_owned()], |presence| change(&mut presence.people));
        if before != self.people.get(username).map(Here::away) {
            if let Some(outgoing) = &mut self.outgoing {
                outgoing.people.insert(username.to_owned());
            }
        }
    }

    fn readers_changed(&mut self) {
        if let Some(outgoing) = &mut self.outgoing {
            outgoing.readers = true;
        }
    }

    /// Makes a change that may change how `usernames` are seen, and notes
    /// what did change for the next notice.
    fn update(&mut self, usernames: Vec<String>, change: impl FnOnce(&mut Self)) {
        let before: Vec<Option<Person>> = usernames.iter().map(|username| self.merged(username)).collect();
        change(self);
        for (username, before) in usernames.iter().zip(before) {
            let after = self.merged(username);
            match (&before, &after) {
                (None, Some(_)) => self.online += 1,
                (Some(_), None) => self.online -= 1,
                _ => {}
            }
            if before != after {
                self.changed(username, after);
            }
        }
    }

    fn changed(&mut self, username: &str, now: Option<Person>) {
        self.dirty = true;
        if self.online > LISTED_UP_TO {
            // Counted only: the list of changes would not be sent.
            self.changes.clear();
            return;
        }
        self.changes.insert(username.to_owned(), now);
    }
}

impl Here {
    fn away(&self) -> bool {
        self.away_tabs == self.tabs
    }
}

#[cfg(test)]
mod tests;
