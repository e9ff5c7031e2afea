use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use app::protocol::{ChatMessage, Member, MemberId, Seq, ServerMsg};
use app::room_name::RoomName;
use axum::extract::ws::Utf8Bytes;
use tokio::sync::broadcast;

/// One serialised server event, shared by every member it goes to (serialised once).
pub type Frame = Utf8Bytes;

/// What a room broadcasts: the frame, and the seq when it carries a message.
#[derive(Debug, Clone)]
pub struct RoomEvent {
    pub seq: Option<Seq>,
    pub frame: Frame,
}

pub struct Room {
    name: RoomName,
    events: broadcast::Sender<RoomEvent>,
    members: Mutex<BTreeMap<MemberId, Member>>,
}

impl Room {
    pub(super) fn new(name: RoomName, buffer: usize) -> Self {
        let (events, _) = broadcast::channel(buffer);
        Room {
            name,
            events,
            members: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn name(&self) -> &RoomName {
        &self.name
    }

    pub fn member_count(&self) -> usize {
        self.members().len()
    }

    /// Sends a stored message to every member. Called only by the poster, in seq order.
    pub(super) fn publish_message(&self, message: &ChatMessage) {
        let frame = Frame::from(ServerMsg::Message(message.clone()).to_json());
        self.send(RoomEvent { seq: Some(message.seq), frame });
    }

    pub(super) fn publish(&self, msg: &ServerMsg) {
        self.send(RoomEvent { seq: None, frame: Frame::from(msg.to_json()) });
    }

    pub(super) fn subscribe(&self) -> broadcast::Receiver<RoomEvent> {
        self.events.subscribe()
    }

    /// Returns everyone present after adding `member`.
    pub(super) fn add_member(&self, member: Member) -> Vec<Member> {
        let mut members = self.members();
        members.insert(member.id, member);
        members.values().cloned().collect()
    }

    /// Returns whether the room is empty now.
    pub(super) fn remove_member(&self, id: MemberId) -> bool {
        let mut members = self.members();
        members.remove(&id);
        members.is_empty()
    }

    fn send(&self, event: RoomEvent) {
        // Err means nobody is subscribed: the last member left between the lookup
        // and now, and there is no one to tell.
        if self.events.send(event).is_err() {
            tracing::trace!(room = %self.name, "event for an empty room dropped");
        }
    }

    fn members(&self) -> MutexGuard<'_, BTreeMap<MemberId, Member>> {
        self.members.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
