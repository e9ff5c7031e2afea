//! Things kept in the order of their key, each key once: a vector kept sorted
//! rather than a `BTreeMap`. The room page's messages come at the end, and
//! older pages at the front, so an insert is a push, or one splice for a page;
//! its people arrive a page at a time, in name order. A look-up is a binary
//! search. Each `BTreeMap` cost the room page's WASM its node code, built for
//! its one pair of types: about 30 KB before optimisation for the messages, 19
//! for the people.
//!
//! An insert in the middle moves what follows it: a page that overlaps what is
//! loaded costs its length times the loaded count. The server sends neither
//! such pages nor, above `LISTED_UP_TO` people, presence notices listing
//! people; a room's page loads older messages strictly in front.

use crate::protocol::{ChatMessage, Person, Seq};

/// What a [`Sorted`] orders its items by.
pub trait Keyed {
    type Key: Ord;
    fn key(&self) -> &Self::Key;
}

impl Keyed for ChatMessage {
    type Key = Seq;
    fn key(&self) -> &Seq {
        &self.seq
    }
}

impl Keyed for Person {
    type Key = String;
    fn key(&self) -> &String {
        &self.username
    }
}

/// The messages a room's page has loaded, in seq order.
pub type Messages = Sorted<ChatMessage>;

/// The people a room's page knows of, by username.
pub type People = Sorted<Person>;

#[derive(Clone, Debug, PartialEq)]
pub struct Sorted<T>(Vec<T>);

impl<T> Default for Sorted<T> {
    fn default() -> Self {
        Sorted(Vec::new())
    }
}

impl<T: Keyed> Sorted<T> {
    /// Items in any order (a repeated key keeps its last).
    pub fn from_items(items: Vec<T>) -> Self {
        let mut sorted = Sorted(Vec::with_capacity(items.len()));
        for item in items {
            sorted.insert(item);
        }
        sorted
    }

    /// Adds `item`, or replaces the one with its key.
    pub fn insert(&mut self, item: T) {
        if self.0.last().is_none_or(|last| last.key() < item.key()) {
            return self.0.push(item);
        }
        match self.position(item.key()) {
            Ok(at) => self.0[at] = item,
            Err(at) => self.0.insert(at, item),
        }
    }

    /// Adds several: in front in one move when they come in order and all
    /// before the first, as a page of older messages does; else one by one.
    pub fn insert_page(&mut self, page: Vec<T>) {
        let in_order = page.windows(2).all(|pair| pair[0].key() < pair[1].key());
        let before = match (page.last(), self.0.first()) {
            (Some(last), Some(first)) => last.key() < first.key(),
            _ => true,
        };
        if in_order && before {
            self.0.splice(0..0, page);
        } else {
            for item in page {
                self.insert(item);
            }
        }
    }

    pub fn remove(&mut self, key: &T::Key) {
        if let Ok(at) = self.position(key) {
            self.0.remove(at);
        }
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }

    pub fn get(&self, key: &T::Key) -> Option<&T> {
        self.position(key).ok().map(|at| &self.0[at])
    }

    pub fn get_mut(&mut self, key: &T::Key) -> Option<&mut T> {
        self.position(key).ok().map(|at| &mut self.0[at])
    }

    pub fn contains(&self, key: &T::Key) -> bool {
        self.position(key).is_ok()
    }

    pub fn first(&self) -> Option<&T> {
        self.0.first()
    }

    pub fn last(&self) -> Option<&T> {
        self.0.last()
    }

    /// The item just before `key`, present or not.
    pub fn before(&self, key: &T::Key) -> Option<&T> {
        let at = self.position(key).unwrap_or_else(|at| at);
        at.checked_sub(1).map(|at| &self.0[at])
    }

    /// The items from `key` on.
    pub fn from_key(&self, key: &T::Key) -> &[T] {
        &self.0[self.position(key).unwrap_or_else(|at| at)..]
    }

    /// The items from `key` on, to change.
    pub fn from_key_mut(&mut self, key: &T::Key) -> &mut [T] {
        let at = self.position(key).unwrap_or_else(|at| at);
        &mut self.0[at..]
    }

    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn position(&self, key: &T::Key) -> Result<usize, usize> {
        self.0.binary_search_by(|item| item.key().cmp(key))
    }
}

impl<T> IntoIterator for Sorted<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::room::state::tests::chat;

    fn seqs(messages: &Messages) -> Vec<u64> {
        messages.iter().map(|m| m.seq.0).collect()
    }

    #[test]
    fn kept_in_seq_order_once_whatever_the_order_they_come_in() {
        let mut messages = Messages::from_items(vec![chat(3, "c"), chat(5, "e")]);
        messages.insert(chat(6, "f"));
        messages.insert(chat(4, "d"));
        messages.insert(chat(1, "a"));
        messages.insert(chat(5, "e, edited"));
        assert_eq!(seqs(&messages), [1, 3, 4, 5, 6]);
        assert_eq!(messages.get(&Seq(5)).map(|m| m.client_id.0.as_str()), Some("e, edited"));
        assert!(messages.get(&Seq(2)).is_none() && !messages.contains(&Seq(2)) && messages.contains(&Seq(3)));
    }

    #[test]
    fn an_older_page_goes_in_front_and_a_mixed_one_in_place() {
        let mut messages = Messages::from_items(vec![chat(10, "j"), chat(11, "k")]);
        messages.insert_page(vec![chat(7, "g"), chat(8, "h")]);
        assert_eq!(seqs(&messages), [7, 8, 10, 11]);
        messages.insert_page(vec![chat(9, "i"), chat(11, "k again"), chat(12, "l")]);
        assert_eq!(seqs(&messages), [7, 8, 9, 10, 11, 12]);
        assert_eq!(messages.get(&Seq(11)).map(|m| m.client_id.0.as_str()), Some("k again"));
        messages.insert_page(vec![]);
        assert_eq!(seqs(&messages), [7, 8, 9, 10, 11, 12]);
    }

    #[test]
    fn neighbours_by_seq_loaded_or_not() {
        let messages = Messages::from_items(vec![chat(2, "b"), chat(4, "d"), chat(6, "f")]);
        assert_eq!(messages.before(&Seq(4)).map(|m| m.seq), Some(Seq(2)));
        assert_eq!(messages.before(&Seq(5)).map(|m| m.seq), Some(Seq(4)));
        assert_eq!(messages.before(&Seq(2)).map(|m| m.seq), None);
        assert_eq!(messages.from_key(&Seq(3)).iter().map(|m| m.seq.0).collect::<Vec<_>>(), [4, 6]);
        assert_eq!(messages.from_key(&Seq(4)).len(), 2);
        assert!(messages.from_key(&Seq(7)).is_empty());
        assert_eq!((messages.first().map(|m| m.seq), messages.last().map(|m| m.seq)), (Some(Seq(2)), Some(Seq(6))));
    }

    #[test]
    fn people_by_name_come_change_and_go() {
        let person = |name: &str, away: bool| Person { username: name.into(), display_name: name.to_uppercase(), away };
        let mut people = People::from_items(vec![person("cy", false), person("ada", false)]);
        people.insert(person("bob", false));
        people.insert(person("ada", true));
        people.remove(&"cy".to_owned());
        people.remove(&"nobody".to_owned());
        let names: Vec<_> = people.iter().map(|p| (p.username.as_str(), p.away)).collect();
        assert_eq!(names, [("ada", true), ("bob", false)]);
        people.clear();
        assert!(people.is_empty());
    }
}
