//! Who is in a room: each signed-in person once, however many tabs they have,
//! away when every tab of theirs says so; signed-out readers only counted.
//!
//! Nothing here costs per pair of people. A join is a map insert and a copy of
//! the people for its welcome (everyone up to [`LISTED_UP_TO`], nobody in a
//! bigger room, which pages by [`PEOPLE_PAGE`]); its notice is not sent at once but
//! folded into the room's next [`Presence::notice`], which the hub's presence
//! task takes a few times a second: one frame for everyone, however many came.
//! Above [`LISTED_UP_TO`] people that frame carries only the count (pages are
//! asked for), so a crowd of arrivals costs each member a few small frames a
//! second instead of one per arrival.

use std::collections::BTreeMap;

use app::protocol::{Person, ServerMsg, LISTED_UP_TO, PEOPLE_PAGE};

#[derive(Default)]
pub(super) struct Presence {
    /// By username.
    people: BTreeMap<String, Here>,
    readers: usize,
    /// What changed since the last notice, by username: how the person is
    /// now, or `None` for gone. Kept only while the room is small enough to
    /// list changes.
    changes: BTreeMap<String, Option<Person>>,
    /// Something changed since the last notice.
    dirty: bool,
    /// The last notice carried the count only: the next one in a small room
    /// sends the whole list.
    counted_only: bool,
}

struct Here {
    display_name: String,
    tabs: u32,
    away_tabs: u32,
}

impl Here {
    fn person(&self, username: &str) -> Person {
        Person {
            username: username.to_owned(),
            display_name: self.display_name.clone(),
            away: self.away_tabs == self.tabs,
        }
    }
}

impl Presence {
    /// Connections of every kind: the room lives while there is one.
    pub fn connections(&self) -> usize {
        self.people.values().map(|here| here.tabs as usize).sum::<usize>() + self.readers
    }

    pub fn is_empty(&self) -> bool {
        self.people.is_empty() && self.readers == 0
    }

    /// People and readers, for the directory of rooms.
    pub fn headcount(&self) -> usize {
        self.people.len() + self.readers
    }

    pub fn online(&self) -> u32 {
        self.people.len() as u32
    }

    /// A tab of `username` (or, for `None`, a reader) came; returns the count
    /// and the people to welcome it with: everyone in a room of up to
    /// [`LISTED_UP_TO`], nobody in a bigger one (the page asks for pages when
    /// its person looks: a welcome is written to every joiner, and a socket
    /// keeps the buffer its biggest write needed).
    pub fn add(&mut self, person: Option<(&str, &str)>) -> (u32, Vec<Person>) {
        match person {
            None => self.readers += 1,
            Some((username, display_name)) => {
                let here = self.people.entry(username.to_owned()).or_insert_with(|| Here {
                    display_name: display_name.to_owned(),
                    tabs: 0,
                    away_tabs: 0,
                });
                let was_away = here.tabs > 0 && here.away_tabs == here.tabs;
                here.tabs += 1;
                // A new tab is not away: a person coming back or arriving changes.
                if here.tabs == 1 || was_away {
                    self.changed(username);
                }
            }
        }
        let people = if self.people.len() > LISTED_UP_TO {
            Vec::new()
        } else {
            self.people.iter().map(|(username, here)| here.person(username)).collect()
        };
        (self.online(), people)
    }

    /// A tab (or reader) went; `away` is what that tab last said.
    pub fn remove(&mut self, username: Option<&str>, away: bool) {
        let Some(username) = username else {
            self.readers = self.readers.saturating_sub(1);
            return;
        };
        let Some(here) = self.people.get_mut(username) else { return };
        let was_away = here.away_tabs == here.tabs;
        here.tabs -= 1;
        if away {
            here.away_tabs -= 1;
        }
        if here.tabs == 0 {
            self.people.remove(username);
            self.changed(username);
        } else if was_away != (here.away_tabs == here.tabs) {
            self.changed(username);
        }
    }

    /// A tab of `username` went away (`true`) or came back.
    pub fn set_away(&mut self, username: &str, away: bool) {
        let Some(here) = self.people.get_mut(username) else { return };
        let was_away = here.away_tabs == here.tabs;
        if away {
            here.away_tabs = (here.away_tabs + 1).min(here.tabs);
        } else {
            here.away_tabs = here.away_tabs.saturating_sub(1);
        }
        if was_away != (here.away_tabs == here.tabs) {
            self.changed(username);
        }
    }

    /// People after `after`, by username, at most a page; and the username to
    /// ask the next page after, if there are more.
    pub fn page(&self, after: Option<&str>) -> (Vec<Person>, Option<String>) {
        use std::ops::Bound::{Excluded, Unbounded};
        let start = after.map_or(Unbounded, |after| Excluded(after.to_owned()));
        let mut people: Vec<Person> = self
            .people
            .range((start, Unbounded))
            .take(PEOPLE_PAGE + 1)
            .map(|(username, here)| here.person(username))
            .collect();
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
        if self.people.len() > LISTED_UP_TO {
            self.counted_only = true;
            return Some(ServerMsg::Presence { online, people: Vec::new(), left: Vec::new(), all: false });
        }
        if std::mem::take(&mut self.counted_only) {
            let people = self.people.iter().map(|(username, here)| here.person(username)).collect();
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

    fn changed(&mut self, username: &str) {
        self.dirty = true;
        if self.people.len() > LISTED_UP_TO {
            // Counted only: the list of changes would not be sent.
            self.changes.clear();
            return;
        }
        let now = self.people.get(username).map(|here| here.person(username));
        self.changes.insert(username.to_owned(), now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(username: &str, away: bool) -> Person {
        Person { username: username.into(), display_name: username.to_uppercase(), away }
    }

    fn add(presence: &mut Presence, username: &str) -> (u32, Vec<Person>) {
        let display = username.to_uppercase();
        presence.add(Some((username, &display)))
    }

    fn presence_msg(people: Vec<Person>, left: Vec<&str>, online: u32) -> ServerMsg {
        ServerMsg::Presence { online, people, left: left.into_iter().map(Into::into).collect(), all: false }
    }

    #[test]
    fn each_person_counts_once_whatever_their_tabs() {
        let mut presence = Presence::default();
        add(&mut presence, "ada");
        let (online, page) = add(&mut presence, "ada");
        presence.add(None);
        assert_eq!(online, 1);
        assert_eq!(page, vec![person("ada", false)]);
        assert_eq!(presence.connections(), 3);
        assert_eq!(presence.notice(), Some(presence_msg(vec![person("ada", false)], vec![], 1)));
        assert_eq!(presence.notice(), None, "nothing changed since");

        // One tab closing is not leaving; the last one is.
        presence.remove(Some("ada"), false);
        assert_eq!(presence.notice(), None);
        presence.remove(Some("ada"), false);
        assert_eq!(presence.notice(), Some(presence_msg(vec![], vec!["ada"], 0)));
        presence.remove(None, false);
        assert!(presence.is_empty());
    }

    #[test]
    fn away_only_when_every_tab_is() {
        let mut presence = Presence::default();
        add(&mut presence, "ada");
        add(&mut presence, "ada");
        presence.notice();
        presence.set_away("ada", true);
        assert_eq!(presence.notice(), None, "one tab of two is still here");
        presence.set_away("ada", true);
        assert_eq!(presence.notice(), Some(presence_msg(vec![person("ada", true)], vec![], 1)));
        // Closing an away tab leaves an away tab: still away, no change.
        presence.remove(Some("ada"), true);
        assert_eq!(presence.notice(), None);
        // A new tab brings her back.
        add(&mut presence, "ada");
        assert_eq!(presence.notice(), Some(presence_msg(vec![person("ada", false)], vec![], 1)));
        // Her away tab closes: still here.
        presence.remove(Some("ada"), true);
        assert_eq!(presence.notice(), None);
    }

    #[test]
    fn changes_between_notices_fold_into_one() {
        let mut presence = Presence::default();
        add(&mut presence, "bob");
        presence.notice();
        add(&mut presence, "ada");
        add(&mut presence, "cy");
        presence.remove(Some("cy"), false);
        presence.remove(Some("bob"), false);
        assert_eq!(presence.notice(), Some(presence_msg(vec![person("ada", false)], vec!["bob", "cy"], 1)));
    }

    #[test]
    fn a_crowded_room_is_counted_and_paged_not_listed() {
        let mut presence = Presence::default();
        let names: Vec<String> = (0..LISTED_UP_TO + 20).map(|i| format!("p{i:04}")).collect();
        for (i, name) in names.iter().enumerate() {
            let (_, welcome) = add(&mut presence, name);
            let expected = if i < LISTED_UP_TO { i + 1 } else { 0 };
            assert_eq!(welcome.len(), expected, "everyone while listed, nobody after");
        }
        let online = names.len() as u32;
        assert_eq!(presence.notice(), Some(ServerMsg::Presence { online, people: vec![], left: vec![], all: false }));

        // Paging walks everyone once, in order.
        let (mut seen, mut after) = (Vec::new(), None::<String>);
        loop {
            let (page, next) = presence.page(after.as_deref());
            seen.extend(page.into_iter().map(|p| p.username));
            match next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, names);

        // Shrinking back under the limit sends the whole list once.
        for name in &names[..25] {
            presence.remove(Some(name), false);
        }
        let Some(ServerMsg::Presence { online, people, all: true, .. }) = presence.notice() else {
            panic!("expected the whole list")
        };
        assert_eq!(online as usize, names.len() - 25);
        assert_eq!(people.len(), names.len() - 25);
        presence.remove(Some(&names[30]), false);
        assert_eq!(presence.notice(), Some(presence_msg(vec![], vec![&names[30]], online - 1)));
    }
}
