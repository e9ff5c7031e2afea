use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use app::protocol::{Person, Seq, ServerMsg};
use app::room_name::RoomName;
use axum::extract::ws::Utf8Bytes;
use tokio::sync::broadcast;

use super::presence::{Heard, Presence, Report};
use super::sequencer::Sequencer;

/// One serialised server event, shared by every member it goes to (serialised once).
pub type Frame = Utf8Bytes;

/// What a room broadcasts.
#[derive(Debug, Clone)]
pub enum RoomEvent {
    /// Stored messages in seq order, each serialised once: all of a group
    /// commit's messages for this room in one event, so a member wakes once and
    /// writes them with one flush.
    Messages(Arc<[(Seq, Frame)]>),
    /// Who is here changed, or someone is typing.
    Notice(Frame),
    /// A moderator removed this account from the room: its connections close.
    Removed(crate::store::AccountId),
}

#[cfg(test)]
impl RoomEvent {
    /// The event's frames, each with its seq when it is a message.
    pub fn frames(&self) -> Vec<(Option<Seq>, &Frame)> {
        match self {
            RoomEvent::Messages(messages) => messages.iter().map(|(seq, frame)| (Some(*seq), frame)).collect(),
            RoomEvent::Notice(frame) => vec![(None, frame)],
            RoomEvent::Removed(_) => Vec::new(),
        }
    }
}

pub struct Room {
    name: RoomName,
    events: broadcast::Sender<RoomEvent>,
    presence: Mutex<Presence>,
    /// Waiting for the hub's next round of presence notices.
    marked: AtomicBool,
    /// With a bus: waiting for its changes here to be reported to the others.
    reporting: AtomicBool,
    /// With other processes writing to the room (a bus): its events in seq
    /// order whatever order they come in, from the store when the bus lost
    /// them. Held while an event is sent, so that two deliverers (the poster,
    /// the bus) keep the broadcast in seq order.
    sequence: Option<Mutex<Sequencer<Frame>>>,
}

impl Room {
    /// A room; `anchor`, with a bus: its newest seq as the store had it before
    /// the room's first member here joined (what that member and later ones
    /// need after it comes live, in order).
    pub(super) fn new(name: RoomName, buffer: usize, anchor: Option<Seq>) -> Self {
        let (events, _) = broadcast::channel(buffer);
        Room {
            name,
            events,
            presence: Mutex::new(if anchor.is_some() { Presence::reported() } else { Presence::default() }),
            marked: AtomicBool::new(false),
            reporting: AtomicBool::new(false),
            sequence: anchor.map(|anchor| Mutex::new(Sequencer::new(anchor))),
        }
    }

    pub fn name(&self) -> &RoomName {
        &self.name
    }

    /// Signed-in people (each once) and readers together.
    pub fn member_count(&self) -> usize {
        self.presence().headcount()
    }

    /// Open connections to the room.
    pub fn connections(&self) -> usize {
        self.presence().connections()
    }

    /// Serialised events of the room's sequence to its members: at once, or
    /// with a bus through the room's sequencer (in order, each once). Returns
    /// whether a gap is left waiting to be filled ([`Room::gap`]).
    pub(super) fn deliver(&self, frames: Vec<(Seq, Frame)>) -> bool {
        let Some(sequence) = &self.sequence else {
            self.send(RoomEvent::Messages(frames.into()));
            return false;
        };
        let mut sequence = sequence.lock().unwrap_or_else(PoisonError::into_inner);
        let now = std::time::Instant::now();
        let ready: Vec<(Seq, Frame)> =
            frames.into_iter().flat_map(|(seq, frame)| sequence.offer(seq, frame, now)).collect();
        if !ready.is_empty() {
            self.send(RoomEvent::Messages(ready.into()));
        }
        sequence.gap_due().is_some()
    }

    /// With a bus: the seqs missing before events held back, once they have
    /// waited long enough to be read from the store.
    pub(super) fn gap(&self, now: std::time::Instant) -> Option<(Seq, Seq)> {
        let sequence = self.sequence.as_ref()?.lock().unwrap_or_else(PoisonError::into_inner);
        sequence.gap(now)
    }

    /// With a bus: whether events are held behind a gap.
    pub(super) fn waiting(&self) -> bool {
        self.sequence
            .as_ref()
            .is_some_and(|sequence| sequence.lock().unwrap_or_else(PoisonError::into_inner).gap_due().is_some())
    }

    /// With a bus: the newest seq delivered to the members.
    pub(super) fn delivered(&self) -> Option<Seq> {
        Some(self.sequence.as_ref()?.lock().unwrap_or_else(PoisonError::into_inner).delivered())
    }

    /// With a bus: the room's events read from the store after the newest
    /// delivered; they and what waited behind them go to the members. Returns
    /// whether a gap is still waiting.
    pub(super) fn fill(&self, stored: Vec<(Seq, Frame)>) -> bool {
        let Some(sequence) = &self.sequence else { return false };
        let mut sequence = sequence.lock().unwrap_or_else(PoisonError::into_inner);
        let ready = sequence.fill(stored, std::time::Instant::now());
        if !ready.is_empty() {
            self.send(RoomEvent::Messages(ready.into()));
        }
        sequence.gap_due().is_some()
    }

    /// Closes `account`'s connections to the room (each ends when it reads this).
    pub fn expel(&self, account: crate::store::AccountId) {
        self.send(RoomEvent::Removed(account));
    }

    pub(super) fn publish(&self, msg: &ServerMsg) {
        self.publish_notice(Frame::from(msg.to_json()));
    }

    /// A notice (not an event of the sequence) to every member here.
    pub(super) fn publish_notice(&self, frame: Frame) {
        self.send(RoomEvent::Notice(frame));
    }

    pub(super) fn subscribe(&self) -> broadcast::Receiver<RoomEvent> {
        self.events.subscribe()
    }

    /// Adds a tab of a signed-in person (username, display name), or a reader;
    /// returns how many people are here and the first page of them.
    pub(super) fn add(&self, person: Option<(&str, &str)>) -> (u32, Vec<Person>) {
        self.presence().add(person)
    }

    /// Removes a tab (`away`: what it last said) or a reader; returns whether
    /// the room is empty now.
    pub(super) fn remove(&self, username: Option<&str>, away: bool) -> bool {
        let mut presence = self.presence();
        presence.remove(username, away);
        presence.is_empty()
    }

    pub(super) fn set_away(&self, username: &str, away: bool) {
        self.presence().set_away(username, away);
    }

    /// A page of the people here (see [`Presence::page`]).
    pub fn people(&self, after: Option<&str>) -> (Vec<Person>, Option<String>) {
        self.presence().page(after)
    }

    /// Marks the room for the next round of notices; `false` if it already was.
    pub(super) fn mark_for_notice(&self) -> bool {
        !self.marked.swap(true, Ordering::AcqRel)
    }

    /// Marks the room for a report of its changes here; `false` if it already was.
    pub(super) fn mark_for_report(&self) -> bool {
        !self.reporting.swap(true, Ordering::AcqRel)
    }

    /// Unmarked before its report is taken: a change after it marks it again.
    pub(super) fn unmark_for_report(&self) {
        self.reporting.store(false, Ordering::Release);
    }

    /// With a bus: this process's changes among its people here since the
    /// last report (see [`Presence::take_report`]).
    pub(super) fn take_report(&self, full: bool) -> Option<super::presence::Changes> {
        self.presence().take_report(full)
    }

    /// Another process's report of its people here.
    pub(super) fn heard_report(&self, report: Report) -> Heard {
        self.presence().heard(report)
    }

    /// Forgets what another process said of its people here; whether it had said anything.
    pub(super) fn forget_node(&self, node: u64) -> bool {
        self.presence().forget(node)
    }

    /// The version of another process's report of its people here, if any.
    pub(super) fn presence_version(&self, node: u64) -> Option<u64> {
        self.presence().version_of(node)
    }

    /// The other processes that said who of theirs is here.
    pub(super) fn presence_nodes(&self) -> Vec<u64> {
        self.presence().nodes()
    }

    /// Sends the notice of what changed since the last one, if anything did.
    pub(super) fn send_notice(&self) {
        // Unmarked first: a change after this marks the room for the next round.
        self.marked.store(false, Ordering::Release);
        let notice = self.presence().notice();
        if let Some(notice) = notice {
            self.publish(&notice);
        }
    }

    fn send(&self, event: RoomEvent) {
        let events = match &event {
            RoomEvent::Messages(messages) => messages.len(),
            RoomEvent::Notice(_) => 1,
            RoomEvent::Removed(_) => 0,
        };
        match self.events.send(event) {
            // One add per broadcast (the send counts its receivers), not per member.
            Ok(members) => crate::metrics::METRICS.deliveries.inc_by((events * members) as u64),
            // Nobody is subscribed: the last member left between the lookup
            // and now, and there is no one to tell.
            Err(_) => tracing::trace!(room = %self.name, "event for an empty room dropped"),
        }
    }

    fn presence(&self) -> MutexGuard<'_, Presence> {
        self.presence.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
