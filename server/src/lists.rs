//! The room-list server functions' side on the server: whose list a request
//! is about (its session), the limit on how fast a person changes their list,
//! and the hub that stores the change and tells the person's tabs.

use std::time::Instant;

use http::request::Parts;

use app::account::Answer;
use app::room_name::RoomName;
use app::rooms::{
    Correspondent, DirectRoom, NotifyLevel, RoomEntry, RoomListError, RoomListService, MENTION_CANDIDATES,
};

use crate::accounts::Accounts;
use crate::hub::Hub;
use crate::limits::KeyedBuckets;
use crate::store::AccountId;

/// Joins and leaves one account may make: a burst, then one every two seconds.
const CHANGE_BURST: u32 = 20;
const CHANGES_PER_SECOND: f64 = 0.5;
/// New direct conversations one account may start: a few, then one every six
/// seconds (ten a minute). Opening one that exists is free.
const CONVERSATION_BURST: u32 = 5;
const CONVERSATIONS_PER_SECOND: f64 = 1.0 / 6.0;

/// Look-ups of people to mention one account may make (one per pause in
/// typing after an `@`): a burst, then several a second.
const LOOKUP_BURST: u32 = 30;
const LOOKUPS_PER_SECOND: f64 = 5.0;

#[derive(Clone)]
pub struct RoomLists {
    accounts: Accounts,
    hub: Hub,
    changes: std::sync::Arc<KeyedBuckets<AccountId>>,
    conversations: std::sync::Arc<KeyedBuckets<AccountId>>,
    lookups: std::sync::Arc<KeyedBuckets<AccountId>>,
}

impl RoomLists {
    pub fn new(accounts: Accounts, hub: Hub) -> Self {
        RoomLists {
            accounts,
            hub,
            changes: std::sync::Arc::new(KeyedBuckets::new(CHANGE_BURST, CHANGES_PER_SECOND)),
            conversations: std::sync::Arc::new(KeyedBuckets::new(CONVERSATION_BURST, CONVERSATIONS_PER_SECOND)),
            lookups: std::sync::Arc::new(KeyedBuckets::new(LOOKUP_BURST, LOOKUPS_PER_SECOND)),
        }
    }

    /// The request's account; `None` when signed out.
    async fn account(&self, request: &Parts) -> Result<Option<AccountId>, RoomListError> {
        match self.accounts.session_of(&request.headers).await {
            Ok(signed_in) => Ok(signed_in.map(|s| s.account.id)),
            Err(error) => {
                tracing::warn!(%error, "room list: sessions unreadable");
                Err(RoomListError::Unavailable)
            }
        }
    }

    async fn changer(&self, request: &Parts) -> Result<AccountId, RoomListError> {
        let account = self.account(request).await?.ok_or(RoomListError::SignInRequired)?;
        self.changes.take(&account, Instant::now()).map_err(|_| RoomListError::RateLimited)?;
        Ok(account)
    }
}

fn unavailable(error: crate::store::StoreError) -> RoomListError {
    tracing::error!(%error, "room list: the store failed");
    RoomListError::Unavailable
}

impl RoomListService for RoomLists {
    fn list(&self, request: &Parts) -> Answer<Result<Vec<RoomEntry>, RoomListError>> {
        let (this, request) = (self.clone(), request.clone());
        Box::pin(async move {
            match this.account(&request).await? {
                Some(account) => this.hub.store().room_list(account).await.map_err(unavailable),
                None => Ok(Vec::new()),
            }
        })
    }

    fn join(&self, request: &Parts, room: RoomName) -> Answer<Result<RoomEntry, RoomListError>> {
        let (this, request) = (self.clone(), request.clone());
        Box::pin(async move {
            let account = this.changer(&request).await?;
            this.hub.join_list(account, &room).await.map_err(unavailable)?.ok_or(RoomListError::ListFull)
        })
    }

    fn leave(&self, request: &Parts, room: RoomName) -> Answer<Result<(), RoomListError>> {
        let (this, request) = (self.clone(), request.clone());
        Box::pin(async move {
            let account = this.changer(&request).await?;
            this.hub.leave_list(account, &room).await.map_err(unavailable)?;
            Ok(())
        })
    }

    fn set_notify(&self, request: &Parts, room: RoomName, level: NotifyLevel) -> Answer<Result<String, RoomListError>> {
        let (this, request) = (self.clone(), request.clone());
        Box::pin(async move {
            let account = this.changer(&request).await?;
            if !this.hub.set_notify(account, &room, level).await.map_err(unavailable)? {
                return Err(RoomListError::NotInList);
            }
            let Some((a, b)) = room.direct_pair() else { return Ok(room.path()) };
            // A conversation's page is the other person's address.
            let other = if a == account.0 { b } else { a };
            match this.accounts.by_id(AccountId(other)).await {
                Ok(Some(other)) => Ok(format!("/chat/@{}/", other.username)),
                Ok(None) => Ok("/chat/".to_owned()),
                Err(error) => {
                    tracing::warn!(%error, "notification level: accounts unreadable");
                    Err(RoomListError::Unavailable)
                }
            }
        })
    }

    fn open_direct(&self, request: &Parts, username: String) -> Answer<Result<DirectRoom, RoomListError>> {
        let (this, request) = (self.clone(), request.clone());
        Box::pin(async move {
            let me = this.account(&request).await?.ok_or(RoomListError::SignInRequired)?;
            let other = match this.accounts.find(&username).await {
                Ok(Some(other)) => other,
                Ok(None) => return Err(RoomListError::NoSuchPerson),
                Err(error) => {
                    tracing::warn!(%error, "direct conversation: accounts unreadable");
                    return Err(RoomListError::Unavailable);
                }
            };
            let room = RoomName::direct(me.0, other.id.0);
            let with = Correspondent { username: other.username, display_name: other.display_name };
            if this.hub.store().in_list(me, &room).await.map_err(unavailable)? {
                return Ok(DirectRoom { room, with });
            }
            // A new conversation: in both lists, within the starter's allowance.
            this.conversations.take(&me, Instant::now()).map_err(|_| RoomListError::TooManyConversations)?;
            this.hub.join_list(me, &room).await.map_err(unavailable)?;
            if other.id != me {
                // Their list may be full: the conversation still opens for them by address.
                this.hub.join_list(other.id, &room).await.map_err(unavailable)?;
            }
            Ok(DirectRoom { room, with })
        })
    }

    fn people_named(
        &self,
        request: &Parts,
        room: RoomName,
        prefix: String,
    ) -> Answer<Result<Vec<Correspondent>, RoomListError>> {
        let (this, request) = (self.clone(), request.clone());
        Box::pin(async move {
            let account = this.account(&request).await?.ok_or(RoomListError::SignInRequired)?;
            if !room.readable_by(Some(account.0)) {
                return Err(RoomListError::Private);
            }
            this.lookups.take(&account, Instant::now()).map_err(|_| RoomListError::RateLimited)?;
            let people = this.hub.store().people_named(&room, &prefix, MENTION_CANDIDATES);
            people.await.map_err(unavailable)
        })
    }

    fn may_read(&self, request: &Parts, room: RoomName) -> Answer<Result<(), RoomListError>> {
        let (this, request) = (self.clone(), request.clone());
        Box::pin(async move {
            let account = this.account(&request).await?;
            match account {
                _ if room.readable_by(account.map(|a| a.0)) => Ok(()),
                None => Err(RoomListError::SignInRequired),
                Some(_) => Err(RoomListError::Private),
            }
        })
    }
}
