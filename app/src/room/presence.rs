//! Who is in the room and who is typing, as the page knows it: the welcome's
//! count and first page of people, the server's coalesced notices, the pages
//! the person asks for, and typing notices that fade by themselves.

use leptos::prelude::*;

use crate::protocol::Person;
use crate::sorted::People;

/// A typing notice shows this long after the last one (the server passes one
/// on at most every few seconds while someone types).
pub const TYPING_SHOWS_MS: f64 = 6_000.0;

#[derive(Clone, Copy)]
pub struct PresenceState {
    /// Signed-in people here, each once (readers are not counted).
    pub online: RwSignal<u32>,
    /// The people the page knows of, by username: all of them in a room of up
    /// to [`LISTED_UP_TO`](crate::protocol::LISTED_UP_TO), else the pages seen.
    pub people: RwSignal<People>,
    /// The username to ask the next page after (empty: from the start), when
    /// there are more.
    pub next_page: RwSignal<Option<String>>,
    /// Who is typing, in the order they started, until when (ms since the epoch).
    pub typing: RwSignal<Vec<Typist>>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Typist {
    pub username: String,
    pub display_name: String,
    pub until: f64,
}

impl PresenceState {
    pub fn new() -> Self {
        PresenceState {
            online: RwSignal::new(0),
            people: RwSignal::new(People::default()),
            next_page: RwSignal::new(None),
            typing: RwSignal::new(Vec::new()),
        }
    }

    /// The welcome: the count and everyone, or (a crowd) nobody.
    pub fn welcome(&self, online: u32, people: Vec<Person>) {
        let more = (people.len() as u32) < online;
        self.next_page.set(more.then(|| people.last().map(|p| p.username.clone()).unwrap_or_default()));
        self.people.set(People::from_items(people));
        self.online.set(online);
    }

    /// A notice of who came, went or went away.
    pub fn notice(&self, online: u32, people: Vec<Person>, left: Vec<String>, all: bool) {
        self.people.update(|known| {
            if all {
                known.clear();
            }
            for username in &left {
                known.remove(username);
            }
            for person in people {
                known.insert(person);
            }
        });
        if all {
            self.next_page.set(None);
        }
        self.online.set(online);
        // Whoever left stops typing.
        if !left.is_empty() {
            self.typing.update(|typing| typing.retain(|t| !left.contains(&t.username)));
        }
    }

    /// A page the person asked for.
    pub fn page(&self, people: Vec<Person>, next: Option<String>) {
        self.people.update(|known| known.insert_page(people));
        self.next_page.set(next);
    }

    /// Someone is typing, as of `now`.
    pub fn typing(&self, username: String, display_name: String, now: f64) {
        let until = now + TYPING_SHOWS_MS;
        self.typing.update(|typing| match typing.iter_mut().find(|t| t.username == username) {
            Some(typist) => typist.until = until,
            None => typing.push(Typist { username, display_name, until }),
        });
    }

    /// Their message arrived: they are done typing it.
    pub fn posted(&self, display_name: &str) {
        if self.typing.with_untracked(|t| t.iter().any(|t| t.display_name == display_name)) {
            self.typing.update(|typing| typing.retain(|t| t.display_name != display_name));
        }
    }

    /// Forgets typing notices that are over by `now`.
    pub fn expire(&self, now: f64) {
        if self.typing.with_untracked(|t| t.iter().any(|t| t.until <= now)) {
            self.typing.update(|typing| typing.retain(|t| t.until > now));
        }
    }
}

impl Default for PresenceState {
    fn default() -> Self {
        Self::new()
    }
}

/// The line under the log: "Ada is typing…", "Ada and Bob are typing…",
/// "Several people are typing…"; empty when nobody is.
pub fn typing_line(typists: &[Typist]) -> String {
    match typists {
        [] => String::new(),
        [one] => format!("{} is typing…", one.display_name),
        [one, two] => format!("{} and {} are typing…", one.display_name, two.display_name),
        _ => "Several people are typing…".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use leptos::reactive::owner::Owner;

    fn person(username: &str, away: bool) -> Person {
        Person { username: username.into(), display_name: username.to_uppercase(), away }
    }

    fn with_state(test: impl FnOnce(PresenceState)) {
        let owner = Owner::new();
        owner.set();
        test(PresenceState::new());
    }

    fn usernames(state: PresenceState) -> Vec<String> {
        state.people.with_untracked(|p| p.iter().map(|p| p.username.clone()).collect())
    }

    #[test]
    fn notices_add_change_and_remove_people() {
        with_state(|state| {
            state.welcome(2, vec![person("ada", false), person("bob", false)]);
            assert_eq!(state.next_page.get_untracked(), None);
            state.notice(2, vec![person("cy", false), person("ada", true)], vec!["bob".into()], false);
            assert_eq!(usernames(state), ["ada", "cy"]);
            assert!(state.people.with_untracked(|p| p.get(&"ada".to_owned()).is_some_and(|ada| ada.away)));
            state.notice(1, vec![person("dee", false)], vec![], true);
            assert_eq!(usernames(state), ["dee"]);
            assert_eq!(state.online.get_untracked(), 1);
        });
    }

    #[test]
    fn a_crowded_room_pages_its_people() {
        with_state(|state| {
            state.welcome(500, vec![]);
            assert_eq!(state.next_page.get_untracked().as_deref(), Some(""), "from the start");
            state.page(vec![person("a", false), person("b", false)], Some("b".into()));
            assert_eq!(state.next_page.get_untracked().as_deref(), Some("b"));
            state.page(vec![person("c", false)], Some("c".into()));
            state.page(vec![person("d", false)], None);
            assert_eq!(usernames(state), ["a", "b", "c", "d"]);
            assert_eq!(state.next_page.get_untracked(), None);
        });
    }

    #[test]
    fn typing_fades_stops_on_posting_and_reads_well() {
        with_state(|state| {
            state.typing("ada".into(), "Ada".into(), 0.0);
            assert_eq!(typing_line(&state.typing.get_untracked()), "Ada is typing…");
            state.typing("bob".into(), "Bob".into(), 1_000.0);
            assert_eq!(typing_line(&state.typing.get_untracked()), "Ada and Bob are typing…");
            state.typing("cy".into(), "Cy".into(), 1_000.0);
            assert_eq!(typing_line(&state.typing.get_untracked()), "Several people are typing…");
            state.posted("Cy");
            // Ada again at 3 s: she shows until 9 s, Bob until 7 s.
            state.typing("ada".into(), "Ada".into(), 3_000.0);
            state.expire(7_000.0);
            assert_eq!(typing_line(&state.typing.get_untracked()), "Ada is typing…");
            state.expire(9_000.0);
            assert_eq!(typing_line(&state.typing.get_untracked()), "");
        });
    }
}
