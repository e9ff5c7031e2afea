//! The room list as the page holds it: the server's entries, updated by what
//! the room socket says and by what this page reads itself. Pure rules on a
//! `Vec<RoomEntry>` ([`apply`], [`saw_message`], [`read_up_to`]), unit-tested,
//! and a signal around them ([`RoomList`]) the views read.
//!
//! Positions only move forward here as on the server, so an entry told twice
//! (in a fresh list and as an event) stays the same.

use leptos::prelude::*;

use crate::protocol::{ChatMessage, Seq, ServerMsg};
use crate::room_name::RoomName;
use crate::rooms::{NotifyLevel, RoomEntry};

/// Applies a room-list frame; `false` when the frame is not about the list.
pub fn apply(entries: &mut Vec<RoomEntry>, me: &str, msg: &ServerMsg) -> bool {
    match msg {
        ServerMsg::Rooms { rooms } => {
            let mut fresh = rooms.clone();
            // A read this page reported may not be stored yet: keep the furthest.
            for entry in &mut fresh {
                if let Some(known) = entries.iter().find(|e| e.room == entry.room) {
                    if known.read_seq > entry.read_seq {
                        entry.read_seq = known.read_seq;
                        if entry.read_seq >= entry.last_seq {
                            entry.mentions = 0;
                        }
                    }
                }
            }
            *entries = fresh;
        }
        ServerMsg::Activity { room, seq, change: true, .. } => {
            if let Some(entry) = entries.iter_mut().find(|e| &e.room == room) {
                saw_change(entry, *seq);
            }
        }
        ServerMsg::Activity { room, seq, at, mentioned, read, change: false } => {
            let Some(entry) = entries.iter_mut().find(|e| &e.room == room) else { return true };
            if *seq <= entry.last_seq {
                return true;
            }
            entry.last_seq = *seq;
            entry.last_at = entry.last_at.max(Some(*at));
            if let Some(read) = read.get(me) {
                entry.read_seq = entry.read_seq.max(*read);
            }
            if entry.read_seq >= entry.last_seq {
                (entry.mentions, entry.changes) = (0, 0);
            } else {
                entry.mentions += mentioned.get(me).copied().unwrap_or(0);
            }
        }
        ServerMsg::RoomRead { room, seq, mentions, changes } => {
            if let Some(entry) = entries.iter_mut().find(|e| &e.room == room) {
                if *seq >= entry.read_seq {
                    entry.read_seq = *seq;
                    entry.last_seq = entry.last_seq.max(*seq);
                    (entry.mentions, entry.changes) = (*mentions, *changes);
                }
            }
        }
        ServerMsg::RoomJoined { entry } => match entries.iter_mut().find(|e| e.room == entry.room) {
            Some(known) => {
                known.last_seq = known.last_seq.max(entry.last_seq);
                known.read_seq = known.read_seq.max(entry.read_seq);
                known.last_at = known.last_at.max(entry.last_at);
            }
            None => entries.push(entry.clone()),
        },
        ServerMsg::RoomLeft { room } => entries.retain(|e| &e.room != room),
        ServerMsg::RoomNotify { room, notify } => {
            if let Some(entry) = entries.iter_mut().find(|e| &e.room == room) {
                entry.notify = *notify;
            }
        }
        _ => return false,
    }
    RoomEntry::sort(entries);
    true
}

/// A message of the open room arrived (the socket sends the open room's
/// messages in full, not as activity).
pub fn saw_message(entries: &mut [RoomEntry], me: &str, room: &RoomName, message: &ChatMessage) {
    let Some(entry) = entries.iter_mut().find(|e| &e.room == room) else { return };
    if message.seq <= entry.last_seq {
        return;
    }
    entry.last_seq = message.seq;
    entry.last_at = entry.last_at.max(Some(message.sent_at));
    if message.mentions.iter().any(|m| m == me) && message.seq > entry.read_seq {
        entry.mentions += 1;
    }
    RoomEntry::sort(entries);
}

/// This page read `room` up to `seq` (or posted there): returns whether the
/// position moved (and is worth telling the server).
pub fn read_up_to(entries: &mut [RoomEntry], room: &RoomName, seq: Seq) -> bool {
    let Some(entry) = entries.iter_mut().find(|e| &e.room == room) else { return false };
    if seq <= entry.read_seq {
        return false;
    }
    entry.read_seq = seq;
    entry.last_seq = entry.last_seq.max(seq);
    if entry.read_seq >= entry.last_seq {
        (entry.mentions, entry.changes) = (0, 0);
    }
    // Read part of the way: the server's answer (`room_read`) says how many
    // of the changes are still after it.
    true
}

/// The room's event `seq` was an edit or a delete: it moves the room's end,
/// not its unread count.
fn saw_change(entry: &mut RoomEntry, seq: Seq) {
    if seq <= entry.last_seq {
        return;
    }
    entry.last_seq = seq;
    if seq > entry.read_seq {
        entry.changes += 1;
    }
}

/// The page's room list, shared as context by the room page, its sidebar and
/// the tab title. `Copy`.
#[derive(Clone, Copy)]
pub struct RoomList {
    pub entries: RwSignal<Vec<RoomEntry>>,
    /// The signed-in person's username: mentions and read positions are told by it.
    pub me: RwSignal<Option<String>>,
    /// Their display name, as their messages are signed.
    my_name: StoredValue<String>,
    /// The list has come from the server (a page or the socket) at least once.
    loaded: RwSignal<bool>,
}

impl RoomList {
    pub fn provide() -> Self {
        let list = RoomList {
            entries: RwSignal::new(Vec::new()),
            me: RwSignal::new(None),
            my_name: StoredValue::new(String::new()),
            loaded: RwSignal::new(false),
        };
        provide_context(list);
        list
    }

    /// The list a page loaded, unless the socket has given a fresher one; `me`
    /// is the signed-in person's username and display name.
    pub fn load(&self, me: Option<(String, String)>, entries: Vec<RoomEntry>) {
        let me = me.map(|(username, display_name)| {
            self.my_name.set_value(display_name);
            username
        });
        if self.me.get_untracked() != me {
            self.me.set(me);
        }
        if !self.loaded.get_untracked() {
            self.loaded.set(true);
            self.entries.set(entries);
        }
    }

    pub fn entry_untracked(&self, room: &RoomName) -> Option<RoomEntry> {
        self.entries.with_untracked(|entries| entries.iter().find(|e| &e.room == room).cloned())
    }

    pub fn expect() -> Self {
        expect_context::<RoomList>()
    }

    pub fn apply(&self, msg: &ServerMsg) -> bool {
        let Some(me) = self.me.get_untracked() else {
            return matches!(
                msg,
                ServerMsg::Rooms { .. }
                    | ServerMsg::Activity { .. }
                    | ServerMsg::RoomRead { .. }
                    | ServerMsg::RoomJoined { .. }
                    | ServerMsg::RoomLeft { .. }
                    | ServerMsg::RoomNotify { .. }
            );
        };
        let mut handled = false;
        self.entries.update(|entries| handled = apply(entries, &me, msg));
        if matches!(msg, ServerMsg::Rooms { .. }) {
            self.loaded.set(true);
        }
        handled
    }

    pub fn saw_message(&self, room: &RoomName, message: &ChatMessage) {
        if let Some(me) = self.me.get_untracked() {
            self.entries.update(|entries| saw_message(entries, &me, room, message));
        }
    }

    /// An edit or a delete of the open room arrived as its event `seq`.
    pub fn saw_change(&self, room: &RoomName, seq: Seq) {
        self.entries.update(|entries| {
            if let Some(entry) = entries.iter_mut().find(|e| &e.room == room) {
                saw_change(entry, seq);
            }
        });
    }

    /// Moves this page's read position; says whether it moved.
    pub fn read_up_to(&self, room: &RoomName, seq: Seq) -> bool {
        let mut moved = false;
        self.entries.update(|entries| moved = read_up_to(entries, room, seq));
        moved
    }

    pub fn entry(&self, room: &RoomName) -> Option<RoomEntry> {
        self.entries.with(|entries| entries.iter().find(|e| &e.room == room).cloned())
    }

    pub fn contains(&self, room: &RoomName) -> bool {
        self.entries.with(|entries| entries.iter().any(|e| &e.room == room))
    }

    /// Unread messages over the whole list: the tab title's count. Rooms set
    /// to notify of nothing do not count.
    pub fn total_unread(&self) -> u64 {
        self.entries
            .with(|entries| entries.iter().filter(|e| e.notify != NotifyLevel::Nothing).map(RoomEntry::unread).sum())
    }

    /// Whether `msg` (not applied yet) is worth a notification, for the page
    /// showing `open`.
    pub fn notice(&self, open: &RoomName, msg: &ServerMsg) -> Option<super::notices::Due> {
        let me = self.me.get_untracked()?;
        let my_name = self.my_name.get_value();
        self.entries.with_untracked(|entries| super::notices::due(entries, &me, &my_name, open, msg))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{ClientMsgId, Timestamp};

    fn room(name: &str) -> RoomName {
        RoomName::parse(name).unwrap()
    }

    fn entry(name: &str, last: u64, read: u64) -> RoomEntry {
        RoomEntry {
            room: room(name),
            last_seq: Seq(last),
            read_seq: Seq(read),
            last_at: Some(Timestamp(last as i64)),
            mentions: 0,
            changes: 0,
            notify: NotifyLevel::Mentions,
            with: None,
        }
    }

    fn activity(name: &str, seq: u64, mentioned: &[(&str, u32)], read: &[(&str, u64)]) -> ServerMsg {
        ServerMsg::Activity {
            room: room(name),
            seq: Seq(seq),
            at: Timestamp(seq as i64 * 10),
            mentioned: mentioned.iter().map(|(n, c)| (n.to_string(), *c)).collect(),
            read: read.iter().map(|(n, s)| (n.to_string(), Seq(*s))).collect(),
            change: false,
        }
    }

    #[test]
    fn activity_counts_unread_and_my_mentions_and_moves_the_room_up() {
        let mut list = vec![entry("office", 5, 5), entry("lounge", 3, 3)];
        RoomEntry::sort(&mut list);
        assert!(apply(&mut list, "ada", &activity("lounge", 6, &[("ada", 2), ("bob", 1)], &[("bob", 6)])));
        assert_eq!(list[0].room, room("lounge"), "newest activity first");
        assert_eq!((list[0].unread(), list[0].mentions), (3, 2));
        // The same activity again (a resent list, then the event) changes nothing.
        apply(&mut list, "ada", &activity("lounge", 6, &[("ada", 2)], &[]));
        assert_eq!((list[0].unread(), list[0].mentions), (3, 2));
    }

    #[test]
    fn my_own_post_elsewhere_reads_the_room() {
        let mut list = vec![entry("lounge", 3, 1)];
        apply(&mut list, "ada", &activity("lounge", 4, &[], &[("ada", 4)]));
        assert_eq!(list[0].unread(), 0);
    }

    #[test]
    fn a_read_elsewhere_clears_counts_and_never_goes_back() {
        let mut list = vec![entry("lounge", 9, 2)];
        list[0].mentions = 3;
        apply(&mut list, "ada", &ServerMsg::RoomRead { room: room("lounge"), seq: Seq(7), mentions: 1, changes: 0 });
        assert_eq!((list[0].unread(), list[0].mentions), (2, 1));
        apply(&mut list, "ada", &ServerMsg::RoomRead { room: room("lounge"), seq: Seq(4), mentions: 3, changes: 0 });
        assert_eq!((list[0].read_seq, list[0].mentions), (Seq(7), 1), "an older position is ignored");
    }

    #[test]
    fn a_fresh_list_replaces_all_but_keeps_a_read_this_page_made() {
        let mut list = vec![entry("lounge", 9, 9), entry("gone", 1, 0)];
        apply(&mut list, "ada", &ServerMsg::Rooms { rooms: vec![entry("lounge", 10, 6), entry("new", 2, 0)] });
        let names: Vec<&str> = list.iter().map(|e| e.room.as_str()).collect();
        assert_eq!(names, ["lounge", "new"]);
        assert_eq!(list[0].unread(), 1, "read to 9 here, the server had 6, a message since");
    }

    #[test]
    fn an_edit_or_delete_moves_the_end_but_is_not_unread() {
        let mut list = vec![entry("lounge", 4, 4)];
        let changed = |seq: u64| match activity("lounge", seq, &[], &[]) {
            ServerMsg::Activity { room, seq, at, mentioned, read, .. } => {
                ServerMsg::Activity { room, seq, at, mentioned, read, change: true }
            }
            _ => unreachable!(),
        };
        let change = changed(5);
        apply(&mut list, "ada", &change);
        assert_eq!((list[0].last_seq, list[0].unread()), (Seq(5), 0));
        apply(&mut list, "ada", &change);
        assert_eq!(list[0].changes, 1, "told twice, counted once");
        apply(&mut list, "ada", &activity("lounge", 6, &[], &[]));
        assert_eq!(list[0].unread(), 1);
        apply(&mut list, "ada", &changed(7));
        assert_eq!(list[0].unread(), 1);
        // Read to the end: nothing left, changes included.
        assert!(read_up_to(&mut list, &room("lounge"), Seq(7)));
        assert_eq!((list[0].unread(), list[0].changes), (0, 0));
    }

    #[test]
    fn joined_left_and_the_open_room() {
        let mut list = vec![];
        apply(&mut list, "ada", &ServerMsg::RoomJoined { entry: entry("lounge", 4, 4) });
        let message = ChatMessage {
            seq: Seq(5),
            author: "Bob".into(),
            username: "bob".into(),
            body: "@ada hi".into(),
            sent_at: Timestamp(50),
            client_id: ClientMsgId("c".into()),
            mentions: vec!["ada".into()],
            edited_at: None,
            deleted: false,
            reactions: Vec::new(),
            reply: None,
            file: None,
        };
        saw_message(&mut list, "ada", &room("lounge"), &message);
        assert_eq!((list[0].unread(), list[0].mentions), (1, 1));
        assert!(read_up_to(&mut list, &room("lounge"), Seq(5)));
        assert!(!read_up_to(&mut list, &room("lounge"), Seq(5)), "no move, nothing to tell");
        assert_eq!((list[0].unread(), list[0].mentions), (0, 0));
        apply(&mut list, "ada", &ServerMsg::RoomLeft { room: room("lounge") });
        assert!(list.is_empty());
        assert!(!apply(&mut list, "ada", &ServerMsg::ShuttingDown));
    }

    fn message(seq: u64, author: &str, mentions: &[&str]) -> ServerMsg {
        ServerMsg::Message(ChatMessage {
            seq: Seq(seq),
            author: author.into(),
            username: author.to_lowercase(),
            body: "hello".into(),
            sent_at: Timestamp(seq as i64),
            client_id: ClientMsgId(format!("c{seq}")),
            mentions: mentions.iter().map(|m| m.to_string()).collect(),
            edited_at: None,
            deleted: false,
            reactions: Vec::new(),
            reply: None,
            file: None,
        })
    }

    fn notified(list: &[RoomEntry], msg: &ServerMsg) -> Option<bool> {
        super::super::notices::due(list, "ada", "Ada", &room("open"), msg).map(|due| due.mention)
    }

    #[test]
    fn notifications_follow_each_rooms_level() {
        let mut list = vec![entry("open", 4, 4), entry("lounge", 3, 3), entry("quiet", 3, 3)];
        list[2].notify = NotifyLevel::Nothing;
        // Mentions only (a room's default): a mention, not the rest.
        assert_eq!(notified(&list, &message(5, "Bob", &["ada"])), Some(true));
        assert_eq!(notified(&list, &message(5, "Bob", &["bob"])), None);
        assert_eq!(notified(&list, &activity("lounge", 4, &[("ada", 1)], &[("bob", 4)])), Some(true));
        assert_eq!(notified(&list, &activity("lounge", 4, &[("bob", 1)], &[("bob", 4)])), None);
        // Nothing: not even a mention.
        assert_eq!(notified(&list, &activity("quiet", 4, &[("ada", 1)], &[("bob", 4)])), None);
        // All: every message by someone else.
        list[1].notify = NotifyLevel::All;
        assert_eq!(notified(&list, &activity("lounge", 4, &[], &[("bob", 4)])), Some(false));
    }

    #[test]
    fn no_notification_for_my_own_what_was_read_or_told_or_rooms_not_listed() {
        let mut list = vec![entry("open", 4, 4), entry("lounge", 3, 3)];
        list.iter_mut().for_each(|e| e.notify = NotifyLevel::All);
        assert_eq!(notified(&list, &message(5, "Ada", &["ada"])), None, "my own message, from another tab");
        assert_eq!(
            notified(&list, &activity("lounge", 4, &[("ada", 1)], &[("ada", 4)])),
            None,
            "my own post is newest"
        );
        assert_eq!(notified(&list, &message(4, "Bob", &["ada"])), None, "a replay of what the list has");
        list[1].read_seq = Seq(9);
        assert_eq!(notified(&list, &activity("lounge", 5, &[("ada", 1)], &[])), None, "read on another device");
        assert_eq!(notified(&list, &activity("elsewhere", 5, &[("ada", 1)], &[])), None);
        assert_eq!(notified(&[], &message(5, "Bob", &["ada"])), None, "a room I am not in");
    }
}
