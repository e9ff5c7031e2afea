//! When the writer's next commit may start. Every commit costs the same
//! whatever it holds: a few round trips to the store's thread, its log written
//! and synced, and a wake-up for each member of each room in it. So while posts
//! come faster than commits, a commit waits a little for more:
//!
//! - after a commit that stored several posts (posts are queueing), the next
//!   starts at least [`GATHER`] after it, unless it has [`GATHER_BELOW`] posts
//!   already;
//! - after a commit that stored several posts for one room of
//!   [`PACE_FROM_MEMBERS`] members or more, the next that has a post for such a
//!   room starts at least the pace after it (by default
//!   [`DEFAULT_COMMIT_PACE`]): each broadcast to a crowd then carries more
//!   messages, and every member wakes and writes fewer times a second.
//!
//! A post that finds the writer idle is never held, nor a lone poster waiting
//! for each ack (a commit of one post holds nothing back), nor a full batch.
//! A pace of 0 (`--commit-pace-ms 0`) holds nothing at all.
//!
//! Side by side, 1,000 rooms of ten at 2,000 posts/s: 0.53-0.64 cores against
//! 0.87-0.88, for 1.2 ms more at the median and no more at p99 (BENCHMARKS.md).

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::post::PostRequest;
use super::room::Room;

/// Least time between the starts of two commits while posts queue up.
pub const GATHER: Duration = Duration::from_millis(2);
/// A batch of this many posts or more is not held for [`GATHER`]: it is worth
/// its commit already, and near saturation the timer's lateness would add to
/// every post's wait.
const GATHER_BELOW: usize = 4;
/// Least time between the starts of two commits while a crowded room is busy.
pub const DEFAULT_COMMIT_PACE: Duration = Duration::from_millis(5);
/// Rooms with fewer members than this are not paced beyond [`GATHER`]:
/// batching their broadcasts saves little.
const PACE_FROM_MEMBERS: usize = 100;

pub(super) struct Pacing {
    pace: Duration,
    gather: Duration,
    /// When the last commit started, if it stored several posts.
    gathered: Option<Instant>,
    /// When the last commit started, if it stored several posts for one crowded room.
    busy: Option<Instant>,
}

impl Pacing {
    pub(super) fn new(pace: Duration) -> Self {
        Pacing { pace, gather: pace.min(GATHER), gathered: None, busy: None }
    }

    /// Until when a commit of `batch` waits for more posts, if it waits at all.
    pub(super) fn hold(&self, batch: &[Box<PostRequest>], max_batch: usize, now: Instant) -> Option<Instant> {
        if batch.len() >= max_batch {
            return None;
        }
        let gathered = self.gathered.filter(|_| batch.len() < GATHER_BELOW).map(|at| at + self.gather);
        let busy = self.busy.filter(|_| batch.iter().any(|r| r.room.as_deref().is_some_and(is_large)));
        let until = gathered.max(busy.map(|at| at + self.pace))?;
        (until > now).then_some(until)
    }

    /// A commit of `batch` starts at `now`.
    pub(super) fn started(&mut self, batch: &[Box<PostRequest>], now: Instant) {
        self.gathered = (batch.len() > 1).then_some(now);
        self.busy = is_busy(batch).then_some(now);
    }
}

fn is_large(room: &Room) -> bool {
    room.member_count() >= PACE_FROM_MEMBERS
}

/// Whether the batch holds several posts for one large room: that room is busy,
/// and the next commit is worth pacing.
fn is_busy(batch: &[Box<PostRequest>]) -> bool {
    let mut rooms: Vec<&Arc<Room>> = batch.iter().filter_map(|request| request.room.as_ref()).collect();
    rooms.sort_by_key(|room| Arc::as_ptr(room));
    rooms.windows(2).any(|pair| Arc::ptr_eq(pair[0], pair[1]) && is_large(pair[0]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{AccountId, NewMessage};
    use app::protocol::{ClientMsgId, Timestamp};
    use app::room_name::RoomName;

    /// `n` posts for a room nobody here has joined (a room of no members),
    /// boxed as the writer's queue carries them.
    #[allow(clippy::vec_box)]
    fn batch(n: usize) -> Vec<Box<PostRequest>> {
        (0..n)
            .map(|i| {
                let (reply, _) = tokio::sync::oneshot::channel();
                let message = NewMessage {
                    room: RoomName::parse("pacing").unwrap(),
                    author_id: AccountId(1),
                    author: "Ann".into(),
                    author_username: "ann".into(),
                    mentioned: Vec::new(),
                    body: "hi".into(),
                    client_id: ClientMsgId(format!("id-{i}")),
                    sent_at: Timestamp(0),
                    reply: None,
                    file: None,
                };
                Box::new(PostRequest { room: None, message, reply })
            })
            .collect()
    }

    #[tokio::test]
    async fn an_idle_writer_and_a_lone_poster_hold_nothing_back() {
        let mut pacing = Pacing::new(DEFAULT_COMMIT_PACE);
        let now = Instant::now();
        assert_eq!(pacing.hold(&batch(1), 1024, now), None, "the first commit waits for nothing");
        pacing.started(&batch(1), now);
        assert_eq!(pacing.hold(&batch(1), 1024, now), None, "a commit of one post holds none back");
    }

    #[tokio::test]
    async fn posts_queueing_up_wait_for_more_until_the_gather_is_over() {
        let mut pacing = Pacing::new(DEFAULT_COMMIT_PACE);
        let start = Instant::now();
        pacing.started(&batch(3), start);
        assert_eq!(pacing.hold(&batch(1), 1024, start), Some(start + GATHER));
        assert_eq!(pacing.hold(&batch(2), 1024, start + GATHER / 2), Some(start + GATHER));
        assert_eq!(pacing.hold(&batch(2), 1024, start + GATHER), None, "held no longer than the gather");
        assert_eq!(pacing.hold(&batch(4), 4, start), None, "a full batch is never held");
        assert_eq!(pacing.hold(&batch(GATHER_BELOW), 1024, start), None, "nor one worth its commit already");
    }

    #[tokio::test]
    async fn a_pace_of_zero_holds_nothing_and_a_short_pace_caps_the_gather() {
        let start = Instant::now();
        let mut unpaced = Pacing::new(Duration::ZERO);
        unpaced.started(&batch(3), start);
        assert_eq!(unpaced.hold(&batch(3), 1024, start), None);
        let mut short = Pacing::new(Duration::from_millis(1));
        short.started(&batch(3), start);
        assert_eq!(short.hold(&batch(3), 1024, start), Some(start + Duration::from_millis(1)));
    }
}
