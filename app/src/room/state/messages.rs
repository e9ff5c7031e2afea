//! The messages a room's page has loaded, in seq order: a vector kept sorted
//! rather than a `BTreeMap`. New messages come at the end and older pages at the
//! front, so an insert is a push, or one splice for a page; a look-up is a
//! binary search. A `BTreeMap<Seq, ChatMessage>` cost the room page's WASM
//! about 30 KB before optimisation: its node code, built for this one type.

use crate::protocol::{ChatMessage, Seq};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Messages(Vec<ChatMessage>);

impl Messages {
    /// A page as the server sends it (in seq order; a repeated seq keeps its last).
    pub fn from_page(page: Vec<ChatMessage>) -> Self {
        let mut messages = Messages(Vec::with_capacity(page.len()));
        for message in page {
            messages.insert(message);
        }
        messages
    }

    /// Adds `message`, or replaces the one with its seq.
    pub fn insert(&mut self, message: ChatMessage) {
        if self.0.last().is_none_or(|last| last.seq < message.seq) {
            return self.0.push(message);
        }
        match self.position(message.seq) {
            Ok(at) => self.0[at] = message,
            Err(at) => self.0.insert(at, message),
        }
    }

    /// Adds an older page: in front in one move when it is all older, as a
    /// page loaded by scrolling up is.
    pub fn insert_page(&mut self, page: Vec<ChatMessage>) {
        let in_order = page.windows(2).all(|pair| pair[0].seq < pair[1].seq);
        let older = match (page.last(), self.0.first()) {
            (Some(last), Some(first)) => last.seq < first.seq,
            _ => true,
        };
        if in_order && older {
            self.0.splice(0..0, page);
        } else {
            for message in page {
                self.insert(message);
            }
        }
    }

    pub fn get(&self, seq: Seq) -> Option<&ChatMessage> {
        self.position(seq).ok().map(|at| &self.0[at])
    }

    pub fn get_mut(&mut self, seq: Seq) -> Option<&mut ChatMessage> {
        self.position(seq).ok().map(|at| &mut self.0[at])
    }

    pub fn contains(&self, seq: Seq) -> bool {
        self.position(seq).is_ok()
    }

    pub fn first(&self) -> Option<&ChatMessage> {
        self.0.first()
    }

    pub fn last(&self) -> Option<&ChatMessage> {
        self.0.last()
    }

    /// The message just before `seq`, as far as the page has them.
    pub fn before(&self, seq: Seq) -> Option<&ChatMessage> {
        let at = self.position(seq).unwrap_or_else(|at| at);
        at.checked_sub(1).map(|at| &self.0[at])
    }

    /// The messages from `seq` on.
    pub fn from_seq(&self, seq: Seq) -> &[ChatMessage] {
        &self.0[self.position(seq).unwrap_or_else(|at| at)..]
    }

    /// The messages from `seq` on, to change.
    pub fn from_seq_mut(&mut self, seq: Seq) -> &mut [ChatMessage] {
        let at = self.position(seq).unwrap_or_else(|at| at);
        &mut self.0[at..]
    }

    pub fn iter(&self) -> std::slice::Iter<'_, ChatMessage> {
        self.0.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn position(&self, seq: Seq) -> Result<usize, usize> {
        self.0.binary_search_by_key(&seq, |message| message.seq)
    }
}

impl IntoIterator for Messages {
    type Item = ChatMessage;
    type IntoIter = std::vec::IntoIter<ChatMessage>;

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
        let mut messages = Messages::from_page(vec![chat(3, "c"), chat(5, "e")]);
        messages.insert(chat(6, "f"));
        messages.insert(chat(4, "d"));
        messages.insert(chat(1, "a"));
        messages.insert(chat(5, "e, edited"));
        assert_eq!(seqs(&messages), [1, 3, 4, 5, 6]);
        assert_eq!(messages.get(Seq(5)).map(|m| m.client_id.0.as_str()), Some("e, edited"));
        assert!(messages.get(Seq(2)).is_none() && !messages.contains(Seq(2)) && messages.contains(Seq(3)));
    }

    #[test]
    fn an_older_page_goes_in_front_and_a_mixed_one_in_place() {
        let mut messages = Messages::from_page(vec![chat(10, "j"), chat(11, "k")]);
        messages.insert_page(vec![chat(7, "g"), chat(8, "h")]);
        assert_eq!(seqs(&messages), [7, 8, 10, 11]);
        messages.insert_page(vec![chat(9, "i"), chat(11, "k again"), chat(12, "l")]);
        assert_eq!(seqs(&messages), [7, 8, 9, 10, 11, 12]);
        assert_eq!(messages.get(Seq(11)).map(|m| m.client_id.0.as_str()), Some("k again"));
        messages.insert_page(vec![]);
        assert_eq!(seqs(&messages), [7, 8, 9, 10, 11, 12]);
    }

    #[test]
    fn neighbours_by_seq_loaded_or_not() {
        let messages = Messages::from_page(vec![chat(2, "b"), chat(4, "d"), chat(6, "f")]);
        assert_eq!(messages.before(Seq(4)).map(|m| m.seq), Some(Seq(2)));
        assert_eq!(messages.before(Seq(5)).map(|m| m.seq), Some(Seq(4)));
        assert_eq!(messages.before(Seq(2)).map(|m| m.seq), None);
        assert_eq!(messages.from_seq(Seq(3)).iter().map(|m| m.seq.0).collect::<Vec<_>>(), [4, 6]);
        assert_eq!(messages.from_seq(Seq(4)).len(), 2);
        assert!(messages.from_seq(Seq(7)).is_empty());
        assert_eq!((messages.first().map(|m| m.seq), messages.last().map(|m| m.seq)), (Some(Seq(2)), Some(Seq(6))));
    }
}
