//! The room-list server functions' side on the server: whose list a request
//! is about (its session), the limit on how fast a person changes their list,
//! and the hub that stores the change and tells the person's tabs.

use std::time::Instant;

use http::request::Parts;

use app::account::Answer;
use app::room_name::RoomName;
use app::rooms::{RoomEntry, RoomListError, RoomListService};

use crate::accounts::Accounts;
use crate::hub::Hub;
use crate::limits::KeyedBuckets;
use crate::store::AccountId;

/// Joins and leaves one account may make: a burst, then one every two seconds.
const CHANGE_BURST: u32 = 20;
const CHANGES_PER_SECOND: f64 = 0.5;

#[derive(Clone)]
pub struct RoomLists {
    accounts: Accounts,
    hub: Hub,
    changes: std::sync::Arc<KeyedBuckets<AccountId>>,
}

impl RoomLists {
    pub fn new(accounts: Accounts, hub: Hub) -> Self {
        RoomLists { accounts, hub, changes: std::sync::Arc::new(KeyedBuckets::new(CHANGE_BURST, CHANGES_PER_SECOND)) }
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
}
