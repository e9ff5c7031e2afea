//! Slow mode: in a room its moderators slowed, each person posts at most once
//! every so many seconds. Kept in memory, per room in slow mode only: the
//! room's setting (learnt from the store whenever someone who may post
//! connects, and set by the moderators' action) and each poster's last post.
//! A room not in slow mode costs a map look-up per post.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use app::room_name::RoomName;

use crate::store::AccountId;

/// A slowed room's map of posters is pruned of those whose pause is over
/// once it holds this many, then again each time it has doubled since (so a
/// room where everyone posted within the pause is not scanned at every post).
const PRUNE_FROM: usize = 10_000;

#[derive(Default)]
pub struct SlowRooms {
    rooms: Mutex<HashMap<RoomName, SlowRoom>>,
}

struct SlowRoom {
    every: Duration,
    last: HashMap<AccountId, Instant>,
    /// The size at which the map is pruned next.
    prune_at: usize,
}

impl SlowRooms {
    /// The room's slow mode is `seconds` (0: off).
    pub fn set(&self, room: &RoomName, seconds: u32) {
        let mut rooms = self.rooms.lock().unwrap_or_else(PoisonError::into_inner);
        if seconds == 0 {
            rooms.remove(room);
            return;
        }
        let every = Duration::from_secs(u64::from(seconds));
        rooms
            .entry(room.clone())
            .or_insert_with(|| SlowRoom { every, last: HashMap::new(), prune_at: PRUNE_FROM })
            .every = every;
    }

    /// Takes `account`'s turn to post in `room` at `now`; `Err` with the
    /// room's seconds and the wait when it is too soon.
    pub fn take(&self, room: &RoomName, account: AccountId, now: Instant) -> Result<(), (u32, Duration)> {
        let mut rooms = self.rooms.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(slow) = rooms.get_mut(room) else { return Ok(()) };
        if let Some(last) = slow.last.get(&account) {
            let next = *last + slow.every;
            if next > now {
                return Err((slow.every.as_secs() as u32, next - now));
            }
        }
        if slow.last.len() >= slow.prune_at {
            let every = slow.every;
            slow.last.retain(|_, last| now.duration_since(*last) < every);
            slow.prune_at = (slow.last.len() * 2).max(PRUNE_FROM);
        }
        slow.last.insert(account, now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_message_per_person_per_pause_in_a_slowed_room_only() {
        let slow = SlowRooms::default();
        let (room, calm) = (RoomName::parse("busy").unwrap(), RoomName::parse("calm").unwrap());
        let (ada, bob) = (AccountId(1), AccountId(2));
        let start = Instant::now();
        slow.set(&room, 30);
        assert!(slow.take(&room, ada, start).is_ok());
        assert!(slow.take(&room, bob, start).is_ok(), "each person has their own turn");
        let (seconds, wait) = slow.take(&room, ada, start + Duration::from_secs(10)).unwrap_err();
        assert_eq!((seconds, wait), (30, Duration::from_secs(20)));
        assert!(slow.take(&room, ada, start + Duration::from_secs(30)).is_ok());
        assert!(slow.take(&calm, ada, start).is_ok() && slow.take(&calm, ada, start).is_ok());
        slow.set(&room, 0);
        assert!(slow.take(&room, ada, start + Duration::from_secs(31)).is_ok(), "off");
    }
}
