use std::sync::Arc;

use app::protocol::{Member, MemberId, Seq};
use tokio::sync::broadcast::{self, error::RecvError};

use super::{Frame, Hub, Room};

/// One connection's place in a room. Receives the room's events; leaves the room
/// when dropped.
pub struct Membership {
    hub: Hub,
    room: Arc<Room>,
    id: MemberId,
    events: broadcast::Receiver<Frame>,
    members_at_join: Vec<Member>,
}

/// What the next event of the room is, for this member.
#[derive(Debug)]
pub enum Event {
    Frame(Frame),
    /// This member fell behind by `missed` events; the next call goes on from the
    /// oldest event still buffered.
    Lagged { missed: u64 },
}

impl Membership {
    pub(super) fn new(
        hub: Hub,
        room: Arc<Room>,
        id: MemberId,
        events: broadcast::Receiver<Frame>,
        members_at_join: Vec<Member>,
    ) -> Self {
        Membership { hub, room, id, events, members_at_join }
    }

    pub fn id(&self) -> MemberId {
        self.id
    }

    pub fn room(&self) -> &Arc<Room> {
        &self.room
    }

    /// Who was in the room when this member joined (this member included).
    pub fn members_at_join(&self) -> &[Member] {
        &self.members_at_join
    }

    pub fn post(&self, author: &str, body: &str) -> Seq {
        self.room.post(author, body)
    }

    /// Waits for the room's next event. Never ends while the membership lives: the
    /// membership itself keeps the room's sender alive.
    pub async fn next_event(&mut self) -> Event {
        match self.events.recv().await {
            Ok(frame) => Event::Frame(frame),
            Err(RecvError::Lagged(missed)) => Event::Lagged { missed },
            Err(RecvError::Closed) => unreachable!("a room outlives its memberships"),
        }
    }

    /// The next event if one is ready now, for batching writes.
    pub fn try_next_event(&mut self) -> Option<Event> {
        match self.events.try_recv() {
            Ok(frame) => Some(Event::Frame(frame)),
            Err(broadcast::error::TryRecvError::Lagged(missed)) => Some(Event::Lagged { missed }),
            Err(_) => None,
        }
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        self.hub.leave(&self.room, self.id);
    }
}
