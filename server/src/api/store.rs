//! What the HTTP API and the webhooks keep: personal API tokens, bot accounts
//! and incoming webhooks, in the same database as the messages (both stores
//! implement it: `store/sqlite/integrations.rs`, `store/postgres/integrations.rs`).

use futures::future::BoxFuture;

use crate::store::{Account, AccountId, Result};

/// Most live tokens one account holds; most webhooks one person makes.
pub const MAX_TOKENS_PER_ACCOUNT: i64 = 50;
pub const MAX_WEBHOOKS_PER_ACCOUNT: i64 = 50;
/// Most bots one person owns.
pub const MAX_BOTS_PER_ACCOUNT: i64 = 20;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Scopes {
    pub read: bool,
    pub post: bool,
}

/// A token as its owner's list shows it (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub id: i64,
    pub account: AccountId,
    pub name: String,
    /// The secret's first characters, to tell it by.
    pub prefix: String,
    pub scopes: Scopes,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// An incoming webhook: a POST to its address posts in `room` as `bot`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRecord {
    pub id: i64,
    pub room: String,
    pub bot: Account,
    pub created_by: AccountId,
    pub prefix: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// A bot account, as its owner's list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotRecord {
    pub account: Account,
    pub owner: AccountId,
    /// Where it is told of mentions and direct messages (`None`: nowhere).
    pub url: Option<String>,
    /// What its POSTs are signed with (made with its first address).
    pub secret: Option<String>,
}

/// Why a bot could not be made or used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BotRefusal {
    /// The username is a person's, or another person's bot.
    Taken,
    /// The owner has [`MAX_BOTS_PER_ACCOUNT`] bots already.
    TooMany,
}

pub trait IntegrationStore: Send + Sync + 'static {
    /// Stores a token under the hash of its secret (`secret`: the hash, and
    /// what lists show of it); `None` when the account
    /// has [`MAX_TOKENS_PER_ACCOUNT`] already.
    fn create_token<'a>(
        &'a self,
        account: AccountId,
        name: &'a str,
        secret: (&'a str, &'a str),
        scopes: Scopes,
        now: i64,
    ) -> BoxFuture<'a, Result<Option<TokenRecord>>>;

    /// The account's tokens, newest first.
    fn tokens(&self, account: AccountId) -> BoxFuture<'_, Result<Vec<TokenRecord>>>;

    /// Deletes the account's token `id`; says whether there was one.
    fn revoke_token(&self, account: AccountId, id: i64) -> BoxFuture<'_, Result<bool>>;

    /// The token with this hash and its account, unless the account is deactivated.
    fn token<'a>(&'a self, hash: &'a str) -> BoxFuture<'a, Result<Option<(TokenRecord, Account)>>>;

    /// Notes that the token (`webhook`: the webhook) was used at `now`.
    fn touch(&self, id: i64, webhook: bool, now: i64) -> BoxFuture<'_, Result<()>>;

    /// The bot `username` of `owner`: made (with `display_name` and a password
    /// hash nobody can match) when there is none, else the owner's own.
    fn bot<'a>(
        &'a self,
        owner: AccountId,
        username: &'a str,
        display_name: &'a str,
        password_hash: &'a str,
        now: i64,
    ) -> BoxFuture<'a, Result<std::result::Result<Account, BotRefusal>>>;

    /// The owner's bots, by username.
    fn bots(&self, owner: AccountId) -> BoxFuture<'_, Result<Vec<BotRecord>>>;

    /// Sets where the owner's bot is told of mentions and messages (`told.0`),
    /// and its signing secret to `told.1` if it has none yet; says whether the
    /// owner has that bot.
    fn set_bot_url<'a>(
        &'a self,
        owner: AccountId,
        bot: AccountId,
        told: (Option<&'a str>, &'a str),
    ) -> BoxFuture<'a, Result<bool>>;

    /// Deletes the owner's bot `username`: deactivated (its name stays
    /// taken, its messages stay), its address, secret and webhooks gone.
    /// Says whether the owner had it.
    fn delete_bot<'a>(&'a self, owner: AccountId, username: &'a str, now: i64) -> BoxFuture<'a, Result<bool>>;

    /// Gives the owner's bot `username` a new signing secret; says whether
    /// the owner has that bot.
    fn rotate_bot_secret<'a>(
        &'a self,
        owner: AccountId,
        username: &'a str,
        secret: &'a str,
    ) -> BoxFuture<'a, Result<bool>>;

    /// The live bots among these usernames that have an address.
    fn bots_named<'a>(&'a self, usernames: &'a [String]) -> BoxFuture<'a, Result<Vec<BotRecord>>>;

    /// The bot with this account id, if it is a live bot.
    fn bot_by_id(&self, bot: AccountId) -> BoxFuture<'_, Result<Option<BotRecord>>>;

    /// Stores a webhook; `None` when its maker has [`MAX_WEBHOOKS_PER_ACCOUNT`].
    fn create_webhook<'a>(
        &'a self,
        room: &'a str,
        bot: &'a Account,
        created_by: AccountId,
        secret: (&'a str, &'a str),
        now: i64,
    ) -> BoxFuture<'a, Result<Option<WebhookRecord>>>;

    /// The webhooks `created_by` made, newest first.
    fn webhooks(&self, created_by: AccountId) -> BoxFuture<'_, Result<Vec<WebhookRecord>>>;

    /// Deletes the webhook `id` its maker made; says whether there was one.
    fn delete_webhook(&self, created_by: AccountId, id: i64) -> BoxFuture<'_, Result<bool>>;

    /// The webhook with this hash, unless its bot or its maker is deactivated.
    fn webhook<'a>(&'a self, hash: &'a str) -> BoxFuture<'a, Result<Option<WebhookRecord>>>;
}
