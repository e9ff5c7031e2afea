//! Outgoing webhooks: a bot with an address is told, by a POST of JSON there,
//! when a message mentions it or is sent to it directly; a reply in the
//! answer (`{"text": "…"}`) is posted in the same room as the bot.
//!
//! After each commit the hub offers this process's new messages that mention
//! someone or are direct ([`BotOffer`], a non-blocking hand-off; with several
//! processes each message is offered once, by the process that stored it). One
//! task takes them, finds the bots among those they name (one indexed query),
//! and sends each POST with a short timeout, a few at a time (two per bot at
//! most: past that a notice is dropped, so one bot's slow address costs the
//! others nothing), retrying a network failure, a 429 or a 5xx twice with a
//! growing pause. A message by a
//! bot is never offered on (bots do not wake each other in a loop). The reply
//! takes the bot's own send limit and the room's rules, and its id is made from
//! the message it answers, so a retried delivery never posts twice.
//!
//! Each POST is signed, as Slack's and GitHub's are, so the bot's end can tell
//! the chat's requests from anyone's: `X-Chat-Timestamp` (ms since the epoch)
//! and `X-Chat-Signature: sha256=` the hex HMAC-SHA256, under the bot's
//! signing secret (on its owner's account page), of the timestamp, a `.`, and
//! the body.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use app::protocol::{ChatMessage, ClientMsgId};
use app::room_name::RoomName;

use super::store::{BotRecord, IntegrationStore};
use crate::hub::{Author, Hub, SubmitError};
use crate::push::deliver::{http_client, HttpClient};
use crate::store::AccountId;

/// Commits waiting for the task; past it, deliveries are dropped (logged).
const QUEUE: usize = 1024;
/// POSTs in flight at once, and to any one bot: past either, a notice is
/// dropped (counted), so a bot whose address hangs holds two slots at most
/// and the queue keeps being read.
const CONCURRENT: usize = 32;
const PER_BOT: usize = 2;
/// How long one POST may take, answer included.
const TIMEOUT: Duration = Duration::from_secs(5);
/// Tries of one delivery, and the pause before the second (doubling).
const TRIES: u32 = 3;
const FIRST_PAUSE: Duration = Duration::from_millis(500);
/// Longest answer read.
const MAX_ANSWER: usize = 64 * 1024;
/// Longest address a bot may have.
pub const MAX_URL_LEN: usize = 1024;
/// What starts a bot's signing secret.
pub const SIGNING_PREFIX: &str = "chat_sign_";

/// What a bot is sent.
#[derive(Debug, Clone, Serialize)]
pub struct Notice {
    /// `mention`, or `direct_message`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The bot told (its username).
    pub bot: String,
    /// The room, as the HTTP API names it: its name, or `@username` (the
    /// conversation with the author).
    pub room: String,
    pub seq: u64,
    pub author: NoticeAuthor,
    pub text: String,
    pub sent_at: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct NoticeAuthor {
    pub username: String,
    pub display_name: String,
}

/// What a bot may answer.
#[derive(Debug, Deserialize)]
struct Reply {
    #[serde(default)]
    text: Option<String>,
}

/// A commit's messages in one room that name someone, with their authors.
struct Job {
    room: RoomName,
    messages: Vec<(AccountId, ChatMessage)>,
}

/// The poster's side: cheap to clone, never waits.
#[derive(Clone)]
pub struct BotOffer {
    jobs: mpsc::Sender<Job>,
}

impl BotOffer {
    /// After a commit: the room's new messages stored here, with their authors.
    pub fn offer(&self, room: &RoomName, messages: &[(AccountId, &ChatMessage)]) {
        let direct = room.is_direct();
        let wanted: Vec<(AccountId, ChatMessage)> = messages
            .iter()
            .filter(|(_, m)| direct || !m.mentions.is_empty())
            .map(|(author, m)| (*author, (*m).clone()))
            .collect();
        if wanted.is_empty() {
            return;
        }
        match self.jobs.try_send(Job { room: room.clone(), messages: wanted }) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                crate::metrics::METRICS.bot_notices.with_label_values(&["dropped"]).inc();
                tracing::warn!("the outgoing webhooks' queue is full: a commit's notices are dropped");
            }
            // Shutting down: the task has ended.
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }
}

/// The task, owned by the server state and closed at shutdown.
pub struct Outgoing {
    stop: CancellationToken,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Outgoing {
    /// Starts the task and hands the hub its offer.
    pub fn start(hub: &Hub, store: Arc<dyn IntegrationStore>) -> Arc<Self> {
        let (jobs, incoming) = mpsc::channel(QUEUE);
        hub.attach_bots(BotOffer { jobs });
        let stop = CancellationToken::new();
        let task = tokio::spawn(run(hub.clone(), store, incoming, stop.clone()));
        Arc::new(Outgoing { stop, task: Mutex::new(Some(task)) })
    }

    /// Stops taking messages; deliveries under way are ended.
    pub async fn close(&self) {
        self.stop.cancel();
        let task = self.task.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(task) = task {
            if let Err(error) = task.await {
                tracing::error!(%error, "the outgoing webhooks' task failed");
            }
        }
    }
}

async fn run(hub: Hub, store: Arc<dyn IntegrationStore>, mut jobs: mpsc::Receiver<Job>, stop: CancellationToken) {
    let client = http_client();
    let mut sending: JoinSet<AccountId> = JoinSet::new();
    let mut per_bot: HashMap<AccountId, usize> = HashMap::new();
    loop {
        let job = tokio::select! {
            () = stop.cancelled() => break,
            Some(done) = sending.join_next(), if !sending.is_empty() => {
                match done {
                    Ok(bot) => {
                        if let Some(n) = per_bot.get_mut(&bot) {
                            *n -= 1;
                            if *n == 0 {
                                per_bot.remove(&bot);
                            }
                        }
                    }
                    Err(error) => tracing::error!(%error, "an outgoing webhook's delivery failed"),
                }
                continue;
            }
            job = jobs.recv() => match job {
                Some(job) => job,
                None => break,
            },
        };
        for (author, message) in job.messages {
            let bots = match bots_told(store.as_ref(), &job.room, author, &message).await {
                Ok(bots) => bots,
                Err(error) => {
                    tracing::warn!(%error, room = %job.room, "finding the bots a message names failed");
                    continue;
                }
            };
            for bot in bots {
                let id = bot.account.id;
                let busy = per_bot.get(&id).copied().unwrap_or(0);
                if sending.len() >= CONCURRENT || busy >= PER_BOT {
                    crate::metrics::METRICS.bot_notices.with_label_values(&["dropped"]).inc();
                    tracing::warn!(bot = %bot.account.username, busy, "too many notices under way: one dropped");
                    continue;
                }
                per_bot.insert(id, busy + 1);
                let delivery = Delivery { hub: hub.clone(), client: client.clone(), stop: stop.clone() };
                let (room, message) = (job.room.clone(), message.clone());
                sending.spawn(async move {
                    delivery.run(bot, room, message).await;
                    id
                });
            }
        }
    }
    sending.abort_all();
    while sending.join_next().await.is_some() {}
}

/// The bots with an address that `message` (by `author`) is for: those it
/// mentions, or the other one of a direct conversation. None when the author
/// is a bot.
async fn bots_told(
    store: &dyn IntegrationStore,
    room: &RoomName,
    author: AccountId,
    message: &ChatMessage,
) -> crate::store::Result<Vec<BotRecord>> {
    let mut bots = if let Some((a, b)) = room.direct_pair() {
        let other = if a == author.0 { b } else { a };
        store.bot_by_id(AccountId(other)).await?.into_iter().collect()
    } else {
        store.bots_named(&message.mentions).await?
    };
    bots.retain(|bot| bot.url.is_some() && bot.account.id != author);
    if bots.is_empty() || store.bot_by_id(author).await?.is_some() {
        return Ok(Vec::new());
    }
    Ok(bots)
}

struct Delivery {
    hub: Hub,
    client: HttpClient,
    stop: CancellationToken,
}

impl Delivery {
    async fn run(self, bot: BotRecord, room: RoomName, message: ChatMessage) {
        let Some(url) = bot.url.clone() else { return };
        let notice = Notice {
            kind: if room.is_direct() { "direct_message" } else { "mention" },
            bot: bot.account.username.clone(),
            room: if room.is_direct() { format!("@{}", message.username) } else { room.as_str().to_owned() },
            seq: message.seq.0,
            author: NoticeAuthor { username: message.username.clone(), display_name: message.author.clone() },
            text: message.body.clone(),
            sent_at: message.sent_at.0,
        };
        let body = match serde_json::to_vec(&notice) {
            Ok(body) => Bytes::from(body),
            Err(error) => return tracing::error!(%error, "an outgoing webhook's notice did not serialise"),
        };
        let mut pause = FIRST_PAUSE;
        for attempt in 1..=TRIES {
            match self.send(&url, bot.secret.as_deref(), body.clone()).await {
                Ok(reply) => {
                    crate::metrics::METRICS.bot_notices.with_label_values(&["answered"]).inc();
                    return self.answer(&bot, &room, &message, reply).await;
                }
                Err(Failure::Final(why)) => {
                    crate::metrics::METRICS.bot_notices.with_label_values(&["refused"]).inc();
                    return tracing::info!(bot = %bot.account.username, %why, "a bot's webhook refused a notice");
                }
                Err(Failure::Again(why)) if attempt < TRIES => {
                    tracing::debug!(bot = %bot.account.username, %why, attempt, "a bot's webhook failed; trying again");
                    tokio::select! {
                        () = self.stop.cancelled() => return,
                        () = tokio::time::sleep(pause) => {}
                    }
                    pause *= 2;
                }
                Err(Failure::Again(why)) => {
                    crate::metrics::METRICS.bot_notices.with_label_values(&["failed"]).inc();
                    tracing::warn!(bot = %bot.account.username, %why, "a bot's webhook failed every try");
                }
            }
        }
    }

    /// One POST; the answer's reply text, if any.
    async fn send(&self, url: &str, secret: Option<&str>, body: Bytes) -> Result<Option<String>, Failure> {
        let at = crate::clock::now().0.to_string();
        let mut request = http::Request::post(url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::USER_AGENT, "chat-outgoing-webhook/1")
            .header("x-chat-timestamp", &at);
        if let Some(secret) = secret {
            request = request.header("x-chat-signature", signature(secret, &at, &body));
        }
        let request = request.body(Full::new(body)).map_err(|error| Failure::Final(format!("bad address: {error}")))?;
        let exchange = async {
            let response = self.client.request(request).await.map_err(|error| Failure::Again(error.to_string()))?;
            let status = response.status();
            if status.is_server_error() || status == http::StatusCode::TOO_MANY_REQUESTS {
                return Err(Failure::Again(format!("answered {status}")));
            }
            if !status.is_success() {
                return Err(Failure::Final(format!("answered {status}")));
            }
            let answer = Limited::new(response.into_body(), MAX_ANSWER)
                .collect()
                .await
                .map_err(|error| Failure::Final(format!("reading the answer: {error}")))?
                .to_bytes();
            Ok(serde_json::from_slice::<Reply>(&answer).ok().and_then(|reply| reply.text))
        };
        tokio::time::timeout(TIMEOUT, exchange).await.map_err(|_| Failure::Again("timed out".to_owned()))?
    }

    /// Posts the bot's reply (if it gave one) in the room of the message.
    async fn answer(&self, bot: &BotRecord, room: &RoomName, message: &ChatMessage, reply: Option<String>) {
        let Some(text) = reply.filter(|text| !text.trim().is_empty()) else { return };
        let id = ClientMsgId(format!("reply-{}", message.seq.0));
        match self.hub.submit(&Author::of(&bot.account), room, text, id).await {
            Ok(_) => {}
            Err(SubmitError::Refused(error)) => {
                tracing::info!(bot = %bot.account.username, code = error.code(), %room, "a bot's reply was refused");
            }
            Err(SubmitError::Unavailable(why)) => {
                tracing::warn!(bot = %bot.account.username, %why, %room, "a bot's reply could not be posted");
            }
        }
    }
}

/// `sha256=` and the hex HMAC-SHA256 of `at`, `.` and `body` under `secret`.
pub fn signature(secret: &str, at: &str, body: &[u8]) -> String {
    use hmac::Mac;
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(at.as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Why a POST did not get an answer.
enum Failure {
    /// Worth another try (the network, a timeout, 429, 5xx).
    Again(String),
    /// Not (a 4xx, a bad address).
    Final(String),
}
