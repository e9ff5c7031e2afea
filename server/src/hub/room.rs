use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use app::protocol::{ChatMessage, Member, MemberId, Seq, ServerMsg};
use app::room_name::RoomName;
use axum::extract::ws::Utf8Bytes;
use tokio::sync::broadcast;

/// One serialised server event, shared by every member it goes to (serialised once).
pub type Frame = Utf8Bytes;

/// What a room broadcasts.
#[derive(Debug, Clone)]
pub enum RoomEvent {
    /// Stored messages in seq order, each serialised once: all of a group
    /// commit's messages for this room in one event, so a member wakes once and
    /// writes them with one flush.
    Messages(Arc<[(Seq, Frame)]>),
    /// Someone joined or left.
    Notice(Frame),
}

#[cfg(test)]
impl RoomEvent {
    /// The event's frames, each with its seq when it is a message.
    pub fn frames(&self) -> Vec<(Option<Seq>, &Frame)> {
        match self {
            RoomEvent::Messages(messages) => messages.iter().map(|(seq, frame)| (Some(*seq), frame)).collect(),
            RoomEvent::Notice(frame) => vec![(None, frame)],
        }
    }
}

pub struct Room {
    name: RoomName,
    events: broadcast::Sender<RoomEvent>,
    presence: Mutex<Presence>,
}

/// Who is in the room: signed-in members, shown to everyone, and signed-out
/// readers, only counted.
#[derive(Default)]
struct Presence {
    members: BTreeMap<MemberId, Member>,
    readers: usize,
}

impl Room {
    pub(super) fn new(name: RoomName, buffer: usize) -> Self {
        let (events, _) = broadcast::channel(buffer);
        Room { name, events, presence: Mutex::new(Presence::default()) }
    }

    pub fn name(&self) -> &RoomName {
        &self.name
    }

    /// Signed-in members and readers together.
    pub fn member_count(&self) -> usize {
        let presence = self.presence();
        presence.members.len() + presence.readers
    }

    /// Sends stored messages to every member. Called only by the poster, in seq order.
    pub(super) fn publish_messages(&self, messages: Vec<ChatMessage>) {
        let frames: Arc<[(Seq, Frame)]> = messages
            .into_iter()
            .map(|message| (message.seq, Frame::from(ServerMsg::Message(message).to_json())))
            .collect();
        self.send(RoomEvent::Messages(frames));
    }

    pub(super) fn publish(&self, msg: &ServerMsg) {
        self.send(RoomEvent::Notice(Frame::from(msg.to_json())));
    }

    pub(super) fn subscribe(&self) -> broadcast::Receiver<RoomEvent> {
        self.events.subscribe()
    }

    /// Adds a signed-in `member`, or a reader; returns the members present after.
    pub(super) fn add(&self, member: Option<Member>) -> Vec<Member> {
        let mut presence = self.presence();
        match member {
            Some(member) => {
                presence.members.insert(member.id, member);
            }
            None => presence.readers += 1,
        }
        presence.members.values().cloned().collect()
    }

    /// Removes a member (or, for `None`, a reader); returns whether the room is empty now.
    pub(super) fn remove(&self, member: Option<MemberId>) -> bool {
        let mut presence = self.presence();
        match member {
            Some(id) => {
                presence.members.remove(&id);
            }
            None => presence.readers = presence.readers.saturating_sub(1),
        }
        presence.members.is_empty() && presence.readers == 0
    }

    fn send(&self, event: RoomEvent) {
        // Err means nobody is subscribed: the last member left between the lookup
        // and now, and there is no one to tell.
        if self.events.send(event).is_err() {
            tracing::trace!(room = %self.name, "event for an empty room dropped");
        }
    }

    fn presence(&self) -> MutexGuard<'_, Presence> {
        self.presence.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
