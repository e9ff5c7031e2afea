//! The room list on a signed-in person's socket: the whole list after the
//! welcome, then its changes (activity in the other rooms of the list, read
//! positions, rooms joined and left), multiplexed on the one connection a tab
//! has for its open room.
//!
//! Resuming is exact without a log of list events: every connection starts
//! with the whole list as the server has it, and what follows only moves
//! positions forward (a tab keeps the furthest it has seen), so a change seen
//! twice, once in the list and once as an event, changes nothing.

use axum::extract::ws::Message;
use futures::StreamExt;
use tokio_stream::StreamMap;

use app::protocol::ServerMsg;
use app::room_name::RoomName;

use crate::hub::{Activity, Hub, Inbox, ListChange};
use crate::store::{AccountId, StoreError};

/// What the list asks of the session next.
pub(super) enum ListItem {
    /// A frame for the client.
    Frame(Message),
    /// The connection fell behind the list's events: send the whole list again.
    Resync,
}

pub(super) struct ListFeed {
    hub: Hub,
    account: AccountId,
    /// The room this connection has open: its messages come in full, no activity.
    open: RoomName,
    inbox: Inbox,
    activity: StreamMap<RoomName, Activity>,
}

impl ListFeed {
    /// Subscribes to the account's changes, then reads its list; returns the
    /// feed and the list to send.
    pub(super) async fn start(hub: &Hub, account: AccountId, open: RoomName) -> Result<(Self, ServerMsg), StoreError> {
        let mut feed =
            ListFeed { hub: hub.clone(), account, open, inbox: hub.inbox(account), activity: StreamMap::new() };
        let list = feed.read().await?;
        Ok((feed, list))
    }

    /// The whole list, as it is now, with the feed listening to every room in it.
    pub(super) async fn read(&mut self) -> Result<ServerMsg, StoreError> {
        let mut rooms = self.hub.store().room_list(self.account).await?;
        self.activity.clear();
        for entry in &rooms {
            self.listen(entry.room.clone());
        }
        // Listening now, a message committed from here on comes as an event.
        // One committed between the read and the listening is newer than the
        // read and already in the writer's figures (set before any commit is
        // announced): then, and only then, read again (listening already, so
        // nothing falls between). Rooms joined meanwhile come by the inbox.
        // With other processes, listening is in effect on the bus only once
        // it settles, and their commits are not in this writer's figures:
        // read again after that, always.
        let store = self.hub.store();
        let relayed = self.hub.is_relayed();
        if relayed {
            self.hub.settled().await;
        }
        if relayed || rooms.iter().any(|e| store.committed_seq(&e.room).is_some_and(|seq| seq > e.last_seq)) {
            rooms = store.room_list(self.account).await?;
            for entry in &rooms {
                self.listen(entry.room.clone());
            }
        }
        Ok(ServerMsg::Rooms { rooms })
    }

    fn listen(&mut self, room: RoomName) {
        if room != self.open && !self.activity.contains_key(&room) {
            let activity = self.hub.activity(room.clone());
            self.activity.insert(room, activity);
        }
    }

    /// The next thing to forward. Cancel safe.
    pub(super) async fn next(&mut self) -> ListItem {
        tokio::select! {
            event = self.inbox.next() => match event {
                Some(Ok(event)) => {
                    match event.change {
                        ListChange::Resync => return ListItem::Resync,
                        ListChange::Nothing => {}
                        ListChange::Joined(room) => self.listen(room),
                        ListChange::Left(room) => {
                            self.activity.remove(&room);
                        }
                    }
                    ListItem::Frame(Message::Text(event.frame))
                }
                Some(Err(_lagged)) => ListItem::Resync,
                // The inbox lives as long as the feed: it never ends.
                None => std::future::pending().await,
            },
            Some((_room, event)) = self.activity.next(), if !self.activity.is_empty() => match event {
                Ok(frame) => ListItem::Frame(Message::Text(frame)),
                Err(_lagged) => ListItem::Resync,
            },
        }
    }
}
