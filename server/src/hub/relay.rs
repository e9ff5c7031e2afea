//! With a bus (`--bus redis://…`, several processes on one database): what
//! this process commits goes to the others, and what they commit comes to
//! this process's members, in seq order and each once, whatever the bus drops,
//! repeats or reorders.
//!
//! The poster publishes each commit's events on the room's channel after the
//! commit (never failing a post: `crate::bus`). Each room with members here
//! is subscribed to while it has them, and has a sequencer (`Room::deliver`):
//! this task hands it what the bus brings, reads from the store what a gap
//! lacks once it has waited, and every [`CHECK_EVERY`] (and after the bus
//! comes back) compares each room's newest delivered seq with the store's,
//! which also delivers what a process committed and died before publishing.

use std::collections::HashSet;
use std::fmt::Write;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use app::protocol::{Seq, ServerMsg};
use app::room_name::RoomName;

use super::lists::Lists;
use super::notices::Marker;
use super::presence::shared::SharedPresence;
use super::presence::{Heard, Report};
use super::room::{Frame, Room};
use super::{Registry, SharedStore};
use crate::bus::{Bus, BusEvent};
use crate::limits::{ConnectionCaps, KeyedBuckets, SharedLimits};
use crate::store::AccountId;

/// How often every room here is compared with the store. It bounds how late a
/// message comes when its process died between its commit and its publish.
pub const CHECK_EVERY: Duration = Duration::from_secs(2);
/// How often gaps that waited are looked at.
const GAP_TICK: Duration = Duration::from_millis(25);
/// Longest a join waits for its subscriptions to take effect on the bus.
const SETTLE_PATIENCE: Duration = Duration::from_secs(1);
/// Most events read from the store for one gap at a time.
const FILL_LIMIT: u32 = 1000;

/// Where sign-outs go (every process listens: they are rare).
pub const SESSIONS_CHANNEL: &str = "chat:sessions";

/// The room's channel on the bus.
pub fn channel(room: &RoomName) -> String {
    format!("chat:room:{room}")
}

/// A commit's events of one room as one bus message: the room's name on the
/// first line, then each event as its seq and its frame (JSON has no raw
/// newline). Hand-written: three lines of format, and the frames are already
/// serialised once for the members.
pub fn encode(room: &RoomName, frames: &[(Seq, Frame)]) -> Vec<u8> {
    let mut out = String::with_capacity(room.as_str().len() + frames.iter().map(|(_, f)| f.len() + 12).sum::<usize>());
    out.push_str(room.as_str());
    for (seq, frame) in frames {
        let _ = write!(out, "\n{} {}", seq.0, frame.as_str());
    }
    out.into_bytes()
}

/// A notice of a room (typing: never stored, no seq) as a bus message on the
/// room's channel: `~`, the room's name, a newline, the frame. (A room's name
/// never starts with `~`.)
pub fn encode_notice(room: &RoomName, frame: &Frame) -> Vec<u8> {
    format!("~{room}\n{}", frame.as_str()).into_bytes()
}

/// Another process's report of its people in a room (`presence::shared`) as
/// a bus message on the room's channel: `^`, the room's name, a newline, the
/// report as JSON.
pub(super) fn encode_report(room: &RoomName, report: &Report) -> Vec<u8> {
    let json = serde_json::to_string(report).expect("a report serialises");
    format!("^{room}\n{json}").into_bytes()
}

/// [`encode_report`]'s message read back.
pub(super) fn decode_report(payload: &[u8]) -> Option<(RoomName, Report)> {
    let (room, json) = std::str::from_utf8(payload.strip_prefix(b"^")?).ok()?.split_once('\n')?;
    Some((RoomName::parse_key(room).ok()?, serde_json::from_str(json).ok()?))
}

/// [`encode_notice`]'s message read back.
pub fn decode_notice(payload: &[u8]) -> Option<(RoomName, Frame)> {
    let (room, frame) = std::str::from_utf8(payload.strip_prefix(b"~")?).ok()?.split_once('\n')?;
    Some((RoomName::parse_key(room).ok()?, Frame::from(frame.to_owned())))
}

/// [`encode`]'s message read back; `None` for anything else.
pub fn decode(payload: &[u8]) -> Option<(RoomName, Vec<(Seq, Frame)>)> {
    let text = std::str::from_utf8(payload).ok()?;
    let mut lines = text.split('\n');
    let room = RoomName::parse_key(lines.next()?).ok()?;
    let frames = lines
        .map(|line| {
            let (seq, frame) = line.split_once(' ')?;
            Some((Seq(seq.parse().ok()?), Frame::from(frame.to_owned())))
        })
        .collect::<Option<Vec<_>>>()?;
    Some((room, frames))
}

/// The relay's task and this process's end of the bus.
pub(super) struct Relay {
    bus: Bus,
    /// Rooms whose own commits left events held behind a gap (the task fills them).
    gaps: mpsc::UnboundedSender<RoomName>,
    stop: CancellationToken,
    task: Mutex<Option<JoinHandle<()>>>,
    /// What a session that ended in another process does here (set once the
    /// server's accounts exist).
    sessions_ended: Arc<std::sync::OnceLock<SessionEnded>>,
    /// Who is in this process's rooms on the others, and its people told to them.
    presence: SharedPresence,
    /// Connection caps and send rates over every process (once the server's caps exist).
    limits: Arc<std::sync::OnceLock<SharedLimits>>,
}

/// Told the hash of a session's token that ended in another process.
pub type SessionEnded = Arc<dyn Fn(&str) + Send + Sync>;

impl Relay {
    /// Starts the relay's task, and shared presence (reports kept on Redis
    /// for `presence_ttl`).
    pub(super) fn start(
        (bus, heard): (Bus, mpsc::Receiver<BusEvent>),
        (registry, lists, marker): (Registry, Lists, Marker),
        store: SharedStore,
        presence_ttl: Duration,
    ) -> Self {
        let stop = CancellationToken::new();
        let sessions_ended = Arc::new(std::sync::OnceLock::new());
        let (gaps, gapped) = mpsc::unbounded_channel();
        bus.subscribe(SESSIONS_CHANNEL.to_owned());
        let presence = SharedPresence::start(bus.clone(), registry.clone(), marker.clone(), presence_ttl);
        let limits = Arc::new(std::sync::OnceLock::new());
        let heed = Heed {
            registry,
            lists,
            sessions_ended: sessions_ended.clone(),
            marker,
            presence: presence.clone(),
            limits: limits.clone(),
        };
        let task = tokio::spawn(run((heard, gapped), heed, store, stop.clone()));
        Relay { bus, gaps, stop, task: Mutex::new(Some(task)), sessions_ended, presence, limits }
    }

    /// Holds `caps` and the send buckets over every process from now on.
    pub(super) fn share_limits(&self, caps: ConnectionCaps, sends: Option<Arc<KeyedBuckets<AccountId>>>) {
        let mut started = false;
        self.limits.get_or_init(|| {
            started = true;
            SharedLimits::start(self.bus.clone(), caps, sends)
        });
        if !started {
            tracing::warn!("limits were shared a second time; the first stay");
        }
    }

    /// Whether `account` has sockets open on another process (as the limits' tallies say).
    pub(super) fn online_elsewhere(&self, account: AccountId) -> bool {
        self.limits.get().is_some_and(|limits| limits.held_elsewhere(account) > 0)
    }

    /// Whether Redis answers within `patience`.
    pub(super) async fn ping(&self, patience: Duration) -> bool {
        self.bus.ping(patience).await
    }

    /// Shared presence, for the hub (rooms new or emptied here) and its notices.
    pub(super) fn presence(&self) -> &SharedPresence {
        &self.presence
    }

    /// A room whose events this process delivered left some held behind a gap.
    pub(super) fn gap_in(&self, room: &RoomName) {
        let _ = self.gaps.send(room.clone());
    }

    /// Tells the other processes that a session ended here.
    pub(super) fn session_ended(&self, hash: &str) {
        self.bus.publish(SESSIONS_CHANNEL.to_owned(), hash.as_bytes().to_vec());
    }

    /// What to do here when a session ended in another process.
    pub(super) fn when_session_ended(&self, then: SessionEnded) {
        if self.sessions_ended.set(then).is_err() {
            tracing::warn!("sign-outs from other processes were given a second handler; the first stays");
        }
    }

    /// Tells the other processes of a commit's events in `room` (this
    /// process's members have them from the poster).
    pub(super) fn publish(&self, room: &RoomName, frames: &[(Seq, Frame)]) {
        if !frames.is_empty() {
            self.bus.publish(channel(room), encode(room, frames));
        }
    }

    /// Tells the room's members on the other processes a notice (typing).
    pub(super) fn publish_notice(&self, room: &RoomName, frame: &Frame) {
        self.bus.publish(channel(room), encode_notice(room, frame));
    }

    pub(super) fn subscribe(&self, room: &RoomName) {
        self.bus.subscribe(channel(room));
    }

    pub(super) fn unsubscribe(&self, room: &RoomName) {
        self.bus.unsubscribe(channel(room));
    }

    /// Waits until the subscriptions asked for so far are in effect (at most
    /// [`SETTLE_PATIENCE`]: with Redis away, joins go on and the checks repair).
    pub(super) async fn settled(&self) {
        self.bus.settled(SETTLE_PATIENCE).await;
    }

    pub(super) async fn close(&self) {
        self.stop.cancel();
        let task = self.task.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(task) = task {
            if let Err(error) = task.await {
                tracing::error!(%error, "the relay task failed");
            }
        }
        self.presence.close().await;
        if let Some(limits) = self.limits.get() {
            limits.close().await;
        }
        self.bus.close().await;
    }
}

/// What the relay's task hands what it hears to.
struct Heed {
    registry: Registry,
    lists: Lists,
    sessions_ended: Arc<std::sync::OnceLock<SessionEnded>>,
    marker: Marker,
    presence: SharedPresence,
    limits: Arc<std::sync::OnceLock<SharedLimits>>,
}

async fn run(
    (mut heard, mut gapped): (mpsc::Receiver<BusEvent>, mpsc::UnboundedReceiver<RoomName>),
    Heed { registry, lists, sessions_ended, marker, presence, limits }: Heed,
    store: SharedStore,
    stop: CancellationToken,
) {
    // Rooms with events held behind a gap.
    let mut gappy: HashSet<RoomName> = HashSet::new();
    // Another process said it lost something since the last check.
    let mut lost = false;
    let mut tick = tokio::time::interval(GAP_TICK);
    let mut check = tokio::time::interval(CHECK_EVERY);
    for timer in [&mut tick, &mut check] {
        timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    }
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            Some(room) = gapped.recv() => {
                gappy.insert(room);
            }
            event = heard.recv() => match event {
                None => return,
                Some(BusEvent::Message { payload, channel }) if channel == SESSIONS_CHANNEL => {
                    match (std::str::from_utf8(&payload), sessions_ended.get()) {
                        (Ok(hash), Some(then)) => then(hash),
                        (Ok(_), None) => {}
                        (Err(_), _) => tracing::warn!("a sign-out on the bus that is not text; ignored"),
                    }
                }
                Some(BusEvent::Message { payload, channel }) if channel == crate::limits::shared::CHANNEL => {
                    if let Some(limits) = limits.get() {
                        limits.heard(&payload);
                    }
                }
                Some(BusEvent::Message { payload, channel }) if channel.starts_with("chat:account:") => {
                    match super::lists::decode_inbox(&payload) {
                        Some((account, event)) => lists.heard_inbox(account, event),
                        None => tracing::warn!(channel, "a bus message that is not an inbox event; ignored"),
                    }
                }
                Some(BusEvent::Message { payload, channel }) if channel.starts_with("chat:activity:") => {
                    match super::lists::decode_activity(&payload) {
                        Some((room, frame)) => lists.heard_activity(&room, frame),
                        None => tracing::warn!(channel, "a bus message that is not a room's activity; ignored"),
                    }
                }
                Some(BusEvent::Message { payload, channel }) if payload.starts_with(b"^") => {
                    let Some((name, report)) = decode_report(&payload) else {
                        tracing::warn!(channel, "a bus message that is not a presence report; ignored");
                        continue;
                    };
                    if let Some(room) = live(&registry, &name) {
                        let node = report.node;
                        match room.heard_report(report) {
                            Heard::Applied => marker.mark(&room),
                            Heard::Stale => {}
                            Heard::Resync => presence.resync(&name, node),
                        }
                    }
                }
                Some(BusEvent::Message { payload, .. }) if payload.starts_with(b"~") => {
                    if let Some((name, frame)) = decode_notice(&payload) {
                        if let Some(room) = live(&registry, &name) {
                            room.publish_notice(frame);
                        }
                    }
                }
                Some(BusEvent::Message { payload, channel }) => {
                    let Some((name, frames)) = decode(&payload) else {
                        tracing::warn!(channel, "a bus message that is not a room's events; ignored");
                        continue;
                    };
                    if let Some(room) = live(&registry, &name) {
                        if room.deliver(frames) {
                            gappy.insert(name);
                        }
                    }
                }
                Some(BusEvent::Lost) => lost = true,
                Some(BusEvent::Reconnected) => {
                    presence.reload();
                    lists.resync_all();
                    check_all(&registry, &store, &mut gappy).await;
                }
            },
            _ = tick.tick(), if !gappy.is_empty() => {
                let now = Instant::now();
                for name in std::mem::take(&mut gappy) {
                    let Some(room) = live(&registry, &name) else { continue };
                    let pending = match room.gap(now) {
                        Some(_) => fill(&room, &store).await,
                        // Not due yet, or nothing held any more.
                        None => room.waiting(),
                    };
                    if pending {
                        gappy.insert(name);
                    }
                }
            }
            _ = check.tick() => {
                // Another process lost some of what it published: its room
                // events are found below, its list changes by reading lists again.
                if std::mem::take(&mut lost) {
                    lists.resync_all();
                }
                check_all(&registry, &store, &mut gappy).await;
            }
        }
    }
}

/// The room by that name, if it has members here.
fn live(registry: &Registry, name: &RoomName) -> Option<Arc<Room>> {
    registry.lock().unwrap_or_else(PoisonError::into_inner).get(name).cloned()
}

/// Reads the room's events after the newest delivered and hands them to its
/// sequencer; returns whether a gap is still waiting.
async fn fill(room: &Room, store: &SharedStore) -> bool {
    let Some(delivered) = room.delivered() else { return false };
    match store.after(room.name(), delivered, FILL_LIMIT).await {
        Ok(events) => {
            crate::metrics::METRICS.gap_repairs.inc_by(events.len() as u64);
            room.fill(frames_of(events))
        }
        Err(error) => {
            tracing::warn!(%error, room = %room.name(), "reading a gap's events failed; trying again");
            true
        }
    }
}

/// Compares every room here with the store (one query for all of them) and
/// fills what is behind, every [`CHECK_EVERY`].
async fn check_all(registry: &Registry, store: &SharedStore, gappy: &mut HashSet<RoomName>) {
    let rooms: Vec<Arc<Room>> = registry.lock().unwrap_or_else(PoisonError::into_inner).values().cloned().collect();
    let names: Vec<RoomName> = rooms.iter().map(|room| room.name().clone()).collect();
    let lasts = match store.last_seqs(&names).await {
        Ok(lasts) => lasts,
        Err(error) => {
            tracing::warn!(%error, rooms = names.len(), "comparing the rooms here with the store failed");
            return;
        }
    };
    for (room, last) in rooms.iter().zip(lasts) {
        if room.delivered().is_some_and(|delivered| last > delivered) && fill(room, store).await {
            gappy.insert(room.name().clone());
        }
    }
}

/// Stored events as the members' frames.
fn frames_of(events: Vec<ServerMsg>) -> Vec<(Seq, Frame)> {
    events.into_iter().filter_map(|event| Some((event.event_seq()?, Frame::from(event.to_json())))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commit_goes_on_the_bus_and_comes_back_the_same() {
        let room = RoomName::parse("ops").unwrap();
        let frames = vec![
            (Seq(7), Frame::from(r#"{"message":{"body":"a\nb"}}"#.to_owned())),
            (Seq(8), Frame::from("{}".to_owned())),
        ];
        let (back, events) = decode(&encode(&room, &frames)).unwrap();
        assert_eq!(back, room);
        assert_eq!(events, frames);
        let direct = RoomName::direct(3, 12);
        assert_eq!(decode(&encode(&direct, &frames)).unwrap().0, direct);
        for garbage in [&b""[..], b"\xff", b"ops\nseven {}", b"Not A Room!\n1 {}", b"ops\n1"] {
            assert!(decode(garbage).is_none(), "{garbage:?}");
        }
        let typing = Frame::from(r#"{"typing":{"username":"ada"}}"#.to_owned());
        let notice = encode_notice(&room, &typing);
        assert_eq!(decode_notice(&notice), Some((room.clone(), typing)));
        assert!(decode(&notice).is_none(), "a notice is not taken for events");
        let report = Report {
            node: 9,
            v: 3,
            prev: 2,
            set: vec![("ada".into(), "Ada \"A\"\n".into(), true)],
            gone: vec!["bob".into()],
            readers: 4,
            ..Report::default()
        };
        let heard = encode_report(&room, &report);
        assert_eq!(decode_report(&heard), Some((room.clone(), report)));
        assert!(decode(&heard).is_none() && decode_notice(&heard).is_none(), "a report is neither");
    }
}
