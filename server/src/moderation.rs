//! The moderation server functions' side on the server: who acts (the
//! session), what the store allows them (owner, moderator), and, for a
//! removal, closing the removed person's connections to the room.

use http::request::Parts;

use app::account::Answer;
use app::moderation::{
    LogEntry, ModAction, ModerationError, ModerationService, MAX_REMOVAL_MINUTES, MAX_SLOW_MODE_SECONDS,
};
use app::protocol::Timestamp;
use app::room_name::RoomName;

use crate::accounts::Accounts;
use crate::hub::Hub;
use crate::store::AccountId;

/// Entries of the log a moderator reads at once.
const LOG_ENTRIES: u32 = 200;

#[derive(Clone)]
pub struct Moderation {
    accounts: Accounts,
    hub: Hub,
}

impl Moderation {
    pub fn new(accounts: Accounts, hub: Hub) -> Self {
        Moderation { accounts, hub }
    }

    async fn actor(&self, request: &Parts) -> Result<AccountId, ModerationError> {
        match self.accounts.session_of(&request.headers).await {
            Ok(Some(signed_in)) => Ok(signed_in.account.id),
            Ok(None) => Err(ModerationError::SignInRequired),
            Err(error) => {
                tracing::warn!(%error, "moderation: sessions unreadable");
                Err(ModerationError::Unavailable)
            }
        }
    }

    async fn act(
        &self,
        request: &Parts,
        room: RoomName,
        action: ModAction,
        username: String,
        amount: Option<u32>,
    ) -> Result<(), ModerationError> {
        let actor = self.actor(request).await?;
        // A direct conversation has nobody to moderate it.
        if room.is_direct() {
            return Err(ModerationError::NotModerator);
        }
        let until = match (action, amount) {
            (ModAction::Remove, Some(minutes)) => {
                let minutes = i64::from(minutes.clamp(1, MAX_REMOVAL_MINUTES));
                Some(Timestamp(crate::clock::now().0 + minutes * 60_000))
            }
            _ => None,
        };
        let seconds = match action {
            ModAction::SlowMode => amount.unwrap_or(0).min(MAX_SLOW_MODE_SECONDS),
            _ => 0,
        };
        let store = self.hub.store();
        let target = store.moderate(&room, actor, action, &username, (until, seconds)).await.map_err(|error| {
            tracing::error!(%error, "moderation failed");
            ModerationError::Unavailable
        })??;
        match (action, target) {
            (ModAction::Remove, Some(target)) => {
                if let Some(live) = self.hub.room(&room) {
                    live.expel(target);
                }
            }
            (ModAction::SlowMode, _) => self.hub.set_slow_mode(&room, seconds),
            _ => {}
        }
        Ok(())
    }

    async fn read_log(&self, request: &Parts, room: RoomName) -> Result<Vec<LogEntry>, ModerationError> {
        let actor = self.actor(request).await?;
        let store = self.hub.store();
        let unavailable = |error: crate::store::StoreError| {
            tracing::error!(%error, "reading the moderation log failed");
            ModerationError::Unavailable
        };
        let standing = store.standing(&room, actor, crate::clock::now()).await.map_err(unavailable)?;
        if !standing.moderator {
            return Err(ModerationError::NotModerator);
        }
        store.moderation_log(&room, LOG_ENTRIES).await.map_err(unavailable)
    }
}

impl ModerationService for Moderation {
    fn moderate(
        &self,
        request: &Parts,
        room: RoomName,
        action: ModAction,
        username: String,
        amount: Option<u32>,
    ) -> Answer<Result<(), ModerationError>> {
        let (this, request) = (self.clone(), request.clone());
        Box::pin(async move { this.act(&request, room, action, username, amount).await })
    }

    fn log(&self, request: &Parts, room: RoomName) -> Answer<Result<Vec<LogEntry>, ModerationError>> {
        let (this, request) = (self.clone(), request.clone());
        Box::pin(async move { this.read_log(&request, room).await })
    }
}
