use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use app::protocol::{ClientMsgId, MemberId, Person, ServerMsg};
use futures::future::Either;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::sync::oneshot;

use super::post::PostError;
use super::{Extras, Hub, Room, RoomEvent};
use crate::store::{AccountId, Appended};

/// One connection's place in a room. Receives the room's events; leaves the room
/// when dropped.
pub struct Membership {
    hub: Hub,
    room: Arc<Room>,
    id: MemberId,
    /// Whose tab this is; `None` for a signed-out reader.
    username: Option<String>,
    /// What the tab last said: hidden or idle.
    away: bool,
    events: broadcast::Receiver<RoomEvent>,
    /// How many people were here when it joined, and the first page of them.
    welcome: Option<(u32, Vec<Person>)>,
}

/// A message queued for storing: resolves to what was stored, once it is durable.
#[must_use = "a pending post does nothing; await it for the message's seq"]
pub struct PendingPost {
    answer: oneshot::Receiver<Result<Appended, PostError>>,
}

impl PendingPost {
    pub(super) fn new(answer: oneshot::Receiver<Result<Appended, PostError>>) -> Self {
        PendingPost { answer }
    }
}

impl Future for PendingPost {
    type Output = Result<Appended, PostError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // The writer dropping the reply means it is gone: the server is stopping.
        Pin::new(&mut self.answer).poll(cx).map(|answer| answer.unwrap_or(Err(PostError::Closed)))
    }
}

/// Who posts a message: taken from the session, never from the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Author {
    pub id: AccountId,
    pub username: String,
    pub display_name: String,
}

impl Author {
    pub fn of(account: &crate::store::Account) -> Self {
        Author { id: account.id, username: account.username.clone(), display_name: account.display_name.clone() }
    }
}

/// What the next event of the room is, for this member.
#[derive(Debug)]
pub enum Event {
    Room(RoomEvent),
    /// This member fell behind by `missed` events; the next call goes on from the
    /// oldest event still buffered.
    Lagged {
        missed: u64,
    },
}

impl Membership {
    pub(super) fn new(
        hub: Hub,
        room: Arc<Room>,
        id: MemberId,
        username: Option<String>,
        events: broadcast::Receiver<RoomEvent>,
        welcome: (u32, Vec<Person>),
    ) -> Self {
        Membership { hub, room, id, username, away: false, events, welcome: Some(welcome) }
    }

    pub fn id(&self) -> MemberId {
        self.id
    }

    pub fn room(&self) -> &Arc<Room> {
        &self.room
    }

    /// How many people were here when this tab joined (its person included)
    /// and the first page of them; taken once, for the welcome.
    pub fn take_welcome(&mut self) -> (u32, Vec<Person>) {
        self.welcome.take().unwrap_or_default()
    }

    /// This tab is hidden or idle (`true`), or back; the person is away when
    /// all their tabs are. Nothing for a reader, or when nothing changed.
    pub fn set_away(&mut self, away: bool) {
        if let (Some(username), true) = (&self.username, self.away != away) {
            self.away = away;
            self.hub.set_away(&self.room, username, away);
        }
    }

    /// Tells the room this person is typing (a reader cannot be).
    pub fn typing(&self, author: &Author) {
        if self.username.is_some() {
            let frame = super::Frame::from(
                ServerMsg::Typing { username: author.username.clone(), display_name: author.display_name.clone() }
                    .to_json(),
            );
            // The room's members on other processes too (never stored, and
            // lost with nothing to repair if the bus drops it).
            if let Some(relay) = &self.hub.inner.relay {
                relay.publish_notice(self.room.name(), &frame);
            }
            self.room.publish_notice(frame);
        }
    }

    /// Stores a message and broadcasts it to the room; returns once it is durable.
    pub async fn post(&self, author: &Author, body: &str, client_id: ClientMsgId) -> Result<Appended, PostError> {
        self.submit(Some(author), body.to_owned(), client_id, Extras::default()).await?.await
    }

    /// Checks a message ([`Hub::check`]) and hands it to the room's writer;
    /// returns as soon as it is queued (waiting only while the queue is full).
    /// The returned post resolves once the message is durable and broadcast. A
    /// connection can so have several messages on their way at once, each
    /// acknowledged in the order sent.
    ///
    /// Not an `async fn`: the check is made at once and the future is only the
    /// wait for the queue, small enough for every connection to hold.
    pub fn submit(
        &self,
        author: Option<&Author>,
        body: String,
        client_id: ClientMsgId,
        extras: Extras,
    ) -> impl Future<Output = Result<PendingPost, PostError>> + '_ {
        match self.hub.check_post(author, &client_id, &body, &extras) {
            Ok(author) => Either::Left(self.hub.enqueue(
                Some(self.room.clone()),
                self.room.name().clone(),
                author,
                (body, extras),
                client_id,
            )),
            Err(refusal) => Either::Right(std::future::ready(Err(PostError::Refused(refusal)))),
        }
    }

    /// Waits for the room's next event. Never ends while the membership lives: the
    /// membership itself keeps the room's sender alive.
    pub async fn next_event(&mut self) -> Event {
        match self.events.recv().await {
            Ok(event) => Event::Room(event),
            Err(RecvError::Lagged(missed)) => Event::Lagged { missed },
            Err(RecvError::Closed) => unreachable!("a room outlives its memberships"),
        }
    }

    /// The next event if one is ready now, for batching writes.
    pub fn try_next_event(&mut self) -> Option<Event> {
        match self.events.try_recv() {
            Ok(event) => Some(Event::Room(event)),
            Err(broadcast::error::TryRecvError::Lagged(missed)) => Some(Event::Lagged { missed }),
            Err(_) => None,
        }
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        self.hub.leave(&self.room, self.username.as_deref(), self.away);
    }
}
