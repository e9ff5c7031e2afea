//! The one path a message takes from a member to the room: stored first, then
//! broadcast, then acknowledged.
//!
//! A single task takes every post, stores what has queued up in one transaction
//! (group commit) and then, in seq order, broadcasts each new message and answers
//! its sender. One writer keeps SQLite free of lock contention, and broadcasting
//! from that one place keeps every room's broadcast order equal to its seq order.
//!
//! Under load the writer paces itself ([`super::pacing`]): while posts come
//! faster than commits, a commit waits a moment for more, so the store syncs and
//! members wake fewer times a second. A post that finds the writer idle is
//! stored at once.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError};

use app::protocol::{ChatError, ChatMessage, Seq, ServerMsg};
use app::room_name::RoomName;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::changes::ChangeRequest;
use super::lists::{Lists, Posted};
use super::pacing::Pacing;
use super::relay::Relay;
use super::room::{Frame, Room};
use super::Registry;
use crate::store::{Appended, MessageWriter, NewMessage, Store};

/// Most posts stored in one transaction. Reached only when posts come faster
/// than commits: many small rooms, each post on pages of its own room, commit
/// about 130 µs a post in batches of 256 and 115 in batches of 1,024; side by
/// side, 1,000 rooms of 10 at 20,000 posts/s offered stored 7,900-7,980/s
/// against 6,950-7,160 (BENCHMARKS.md). One busy room's batches stay far below.
pub const MAX_BATCH: usize = 1024;
/// Posts waiting to be stored before senders wait to add more.
pub const QUEUE: usize = 4096;
/// Edits and deletes waiting likewise.
const CHANGE_QUEUE: usize = 256;

/// What the poster task takes requests from.
struct Queues {
    posts: mpsc::Receiver<Box<PostRequest>>,
    changes: mpsc::Receiver<ChangeRequest>,
}
/// A commit that takes longer than this is logged: every post in it waited.
/// With a full batch ([`MAX_BATCH`]) that is the writer's pace under more posts
/// than it can store; with a small one, the disk.
const SLOW_COMMIT: Duration = Duration::from_millis(50);
/// Slow commits are logged at most this often, with how many there were: under
/// more posts than the writer can store every full batch is slow, and a warning
/// per commit (about nine a second) would drown the log.
const SLOW_LOG_EVERY: Duration = Duration::from_secs(10);

/// Slow commits since the last warning.
#[derive(Default)]
struct SlowCommits {
    warned: Option<Instant>,
    count: u32,
    worst: Duration,
}

impl SlowCommits {
    /// A commit took `took`. Returns what to warn of now, if anything: the
    /// slow commits since the last warning (this one among them) and the
    /// longest of them.
    fn note(&mut self, took: Duration, now: Instant) -> Option<(u32, Duration)> {
        if took <= SLOW_COMMIT {
            return None;
        }
        self.count += 1;
        self.worst = self.worst.max(took);
        if self.warned.is_some_and(|at| now < at + SLOW_LOG_EVERY) {
            return None;
        }
        self.warned = Some(now);
        Some((std::mem::take(&mut self.count), std::mem::take(&mut self.worst)))
    }
}

pub type SharedStore = Arc<dyn Store>;
/// The one writer of messages, owned by the poster task.
pub type Writer = Box<dyn MessageWriter>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PostError {
    /// Refused before storing: not signed in, a bad id or body, too fast.
    #[error("{0}")]
    Refused(ChatError),
    #[error("the message could not be stored ({0})")]
    Store(String),
    #[error("the server is shutting down")]
    Closed,
}

/// Boxed on its way: the sending connection's waiting state then needs room
/// for a pointer, not for the request.
pub(super) struct PostRequest {
    /// The room it was posted in, if it has members, for pacing only: the
    /// broadcast goes to the room registered under the message's room name once
    /// it is stored.
    pub room: Option<Arc<Room>>,
    pub message: NewMessage,
    pub reply: oneshot::Sender<Result<Appended, PostError>>,
}

/// The poster task, owned by the hub, and the task the store's writer is owned
/// by: [`Poster::close`] stops it taking posts, lets it store those already
/// queued, close the writer, and waits for it to end. Dropped without closing (a
/// test's hub), it ends when every sender is gone.
pub(super) struct Poster {
    stop: CancellationToken,
    task: std::sync::Mutex<Option<JoinHandle<()>>>,
}

impl Poster {
    pub(super) fn start(
        writer: Writer,
        pace: Duration,
        rooms: Registry,
        lists: Lists,
        relay: Option<Arc<Relay>>,
    ) -> (Self, mpsc::Sender<Box<PostRequest>>, mpsc::Sender<ChangeRequest>) {
        let (posts, requests) = mpsc::channel(QUEUE);
        let (changes, change_requests) = mpsc::channel(CHANGE_QUEUE);
        let stop = CancellationToken::new();
        let queues = Queues { posts: requests, changes: change_requests };
        let task = tokio::spawn(run(writer, pace, Delivery { registry: rooms, lists, relay }, queues, stop.clone()));
        (Poster { stop, task: std::sync::Mutex::new(Some(task)) }, posts, changes)
    }

    pub(super) async fn close(&self) {
        self.stop.cancel();
        let task = self.task.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(task) = task {
            if let Err(error) = task.await {
                tracing::error!(%error, "the poster task failed");
            }
        }
    }
}

/// Where a commit's events go: this process's rooms, the room lists, and
/// with a bus the other processes.
pub(super) struct Delivery {
    pub registry: Registry,
    pub lists: Lists,
    pub relay: Option<Arc<Relay>>,
}

impl Delivery {
    /// A commit's events of `room`, serialised once: to the room's members
    /// here (if it has any) and, with a bus, to the other processes.
    pub(super) fn deliver(&self, room: Option<&Arc<Room>>, name: &RoomName, frames: Vec<(Seq, Frame)>) {
        if let Some(relay) = &self.relay {
            relay.publish(name, &frames);
        }
        if let (Some(room), false) = (room, frames.is_empty()) {
            if room.deliver(frames) {
                if let Some(relay) = &self.relay {
                    relay.gap_in(name);
                }
            }
        }
    }
}

async fn run(mut writer: Writer, pace: Duration, delivery: Delivery, queues: Queues, stop: CancellationToken) {
    let Delivery { registry, lists, .. } = &delivery;
    let Queues { posts: mut requests, mut changes } = queues;
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut pacing = Pacing::new(pace);
    let mut slow_commits = SlowCommits::default();
    loop {
        let received = tokio::select! {
            // recv_many is cancel safe: nothing taken is lost when stopping wins.
            received = requests.recv_many(&mut batch, MAX_BATCH) => received,
            // Between commits: an edit or delete, stored and told on its own.
            Some(change) = changes.recv() => {
                super::changes::apply(&mut writer, &delivery, change).await;
                continue;
            }
            () = stop.cancelled(), if !requests.is_closed() => {
                // No new posts or changes from here on; those queued are still stored.
                requests.close();
                changes.close();
                continue;
            }
        };
        if received == 0 {
            break;
        }
        if let Some(until) = pacing.hold(&batch, MAX_BATCH, Instant::now()) {
            let held = Instant::now();
            tokio::time::sleep_until(until).await;
            crate::metrics::METRICS.commit_holds.observe(held.elapsed().as_secs_f64());
            // Whatever came in meanwhile joins this commit.
            while batch.len() < MAX_BATCH {
                match requests.try_recv() {
                    Ok(request) => batch.push(request),
                    Err(_) => break,
                }
            }
        }
        pacing.started(&batch, Instant::now());
        // Which room each post is for: one name per distinct room, an index per post.
        let (names, room_of) = rooms_of(&batch);
        let (replies, messages): (Vec<_>, Vec<_>) =
            batch.drain(..).map(|request| (request.reply, request.message)).unzip();
        let authors: Vec<_> = messages.iter().map(|m| (m.author_id, m.author_username.clone())).collect();
        let posts = messages.len();
        let committing = Instant::now();
        let result = writer.append_batch(messages).await;
        let took = committing.elapsed();
        let metrics = &crate::metrics::METRICS;
        metrics.commit_seconds.observe(took.as_secs_f64());
        metrics.batch_size.observe(posts as f64);
        if let Some((slow, worst)) = slow_commits.note(took, Instant::now()) {
            tracing::warn!(
                posts,
                took_ms = took.as_millis() as u64,
                slow,
                worst_ms = worst.as_millis() as u64,
                "commits were slow; every post in them waited (slow: how many since the last warning)"
            );
        }
        match result {
            Ok(stored) => {
                // One broadcast per room for the whole batch, then the acks, so
                // each sender's ack follows its message.
                let mut per_room: Vec<Vec<ChatMessage>> = vec![Vec::new(); names.len()];
                let mut posted: Vec<Vec<Posted>> = vec![Vec::new(); names.len()];
                let mut answers = Vec::with_capacity(stored.len());
                for (((reply, at), appended), (account, username)) in
                    replies.into_iter().zip(room_of).zip(stored).zip(authors)
                {
                    if !appended.duplicate {
                        metrics.messages_in.inc();
                        per_room[at].push(appended.message.clone());
                        let seq = appended.message.seq;
                        posted[at].push(Posted { account, username, seq, joined: appended.joined });
                    }
                    answers.push((reply, appended));
                }
                // The rooms as they are now that the messages are committed: a
                // member who joins from here on reads them from the store.
                let live: Vec<Option<Arc<Room>>> = {
                    let registry = registry.lock().unwrap_or_else(PoisonError::into_inner);
                    names.iter().map(|name| registry.get(name).cloned()).collect()
                };
                for (((room, messages), posted), name) in live.into_iter().zip(per_room).zip(posted).zip(&names) {
                    lists.announce(name, &messages, &posted);
                    // Serialised only when someone is to get them.
                    if room.is_some() || delivery.relay.is_some() {
                        let frames = messages
                            .into_iter()
                            .map(|message| (message.seq, Frame::from(ServerMsg::Message(message).to_json())))
                            .collect();
                        delivery.deliver(room.as_ref(), name, frames);
                    }
                }
                for (reply, appended) in answers {
                    answer(reply, Ok(appended));
                }
            }
            Err(error) => {
                tracing::error!(%error, posts = replies.len(), "storing messages failed");
                let error = PostError::Store(error.to_string());
                for reply in replies {
                    answer(reply, Err(error.clone()));
                }
            }
        }
    }
    // The last write is done: the store's own last pass, then its connections.
    writer.close().await;
}

/// The distinct rooms of a batch, in order of first appearance, and for each
/// post the index of its room: one name cloned per room, none per post.
fn rooms_of(batch: &[Box<PostRequest>]) -> (Vec<RoomName>, Vec<usize>) {
    let mut names = Vec::new();
    let mut index: HashMap<&RoomName, usize> = HashMap::new();
    let room_of = batch
        .iter()
        .map(|request| {
            *index.entry(&request.message.room).or_insert_with(|| {
                names.push(request.message.room.clone());
                names.len() - 1
            })
        })
        .collect();
    (names, room_of)
}

fn answer(reply: oneshot::Sender<Result<Appended, PostError>>, result: Result<Appended, PostError>) {
    if reply.send(result).is_err() {
        tracing::trace!("a sender left before its message was acknowledged");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_commits_are_told_at_once_then_counted_until_the_next_warning() {
        let mut slow = SlowCommits::default();
        let start = Instant::now();
        let long = SLOW_COMMIT * 2;
        assert_eq!(slow.note(SLOW_COMMIT, start), None, "a commit within the limit is not slow");
        assert_eq!(slow.note(long, start), Some((1, long)), "the first is told at once");
        assert_eq!(slow.note(long * 2, start + Duration::from_secs(1)), None);
        assert_eq!(slow.note(long, start + Duration::from_secs(2)), None);
        assert_eq!(
            slow.note(long, start + SLOW_LOG_EVERY),
            Some((3, long * 2)),
            "the next warning counts every slow commit since, and the worst"
        );
        assert_eq!(slow.note(long, start + SLOW_LOG_EVERY + Duration::from_secs(1)), None);
    }
}
