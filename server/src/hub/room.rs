use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use app::protocol::{ChatMessage, Member, MemberId, Seq, ServerMsg, Timestamp};
use app::room_name::RoomName;
use axum::extract::ws::Utf8Bytes;
use tokio::sync::broadcast;

/// One serialised server event, shared by every member it goes to (serialised once).
pub type Frame = Utf8Bytes;

pub struct Room {
    name: RoomName,
    events: broadcast::Sender<Frame>,
    state: Mutex<RoomData>,
}

struct RoomData {
    members: BTreeMap<MemberId, Member>,
    last_seq: u64,
}

impl Room {
    pub(super) fn new(name: RoomName, buffer: usize) -> Self {
        let (events, _) = broadcast::channel(buffer);
        Room {
            name,
            events,
            state: Mutex::new(RoomData {
                members: BTreeMap::new(),
                last_seq: 0,
            }),
        }
    }

    pub fn name(&self) -> &RoomName {
        &self.name
    }

    pub fn member_count(&self) -> usize {
        self.data().members.len()
    }

    /// Stamps a message with the room's next seq and the time, and sends it to every
    /// member. Seq order is broadcast order: both happen under the room's lock.
    pub fn post(&self, author: &str, body: &str) -> Seq {
        let mut data = self.data();
        data.last_seq += 1;
        let seq = Seq(data.last_seq);
        let msg = ServerMsg::Message(ChatMessage {
            seq,
            author: author.to_owned(),
            body: body.to_owned(),
            sent_at: now(),
        });
        self.send(Frame::from(msg.to_json()));
        seq
    }

    pub(super) fn publish(&self, msg: &ServerMsg) {
        self.send(Frame::from(msg.to_json()));
    }

    pub(super) fn subscribe(&self) -> broadcast::Receiver<Frame> {
        self.events.subscribe()
    }

    /// Returns everyone present after adding `member`.
    pub(super) fn add_member(&self, member: Member) -> Vec<Member> {
        let mut data = self.data();
        data.members.insert(member.id, member);
        data.members.values().cloned().collect()
    }

    /// Returns whether the room is empty now.
    pub(super) fn remove_member(&self, id: MemberId) -> bool {
        let mut data = self.data();
        data.members.remove(&id);
        data.members.is_empty()
    }

    fn send(&self, frame: Frame) {
        // Err means nobody is subscribed: the last member left between the lookup
        // and now, and there is no one to tell.
        if self.events.send(frame).is_err() {
            tracing::trace!(room = %self.name, "event for an empty room dropped");
        }
    }

    fn data(&self) -> MutexGuard<'_, RoomData> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn now() -> Timestamp {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    Timestamp(ms)
}
