//! Searching the messages of the rooms a person can read (every room, and
//! their own direct conversations): what a result is, the server function
//! (`GET /api/search?q=…`, for scripts as well as the page), and the service
//! the server provides for it. Matching and ranking are the server's
//! (`server::search`).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::protocol::{Seq, Timestamp};

/// Most results a search returns.
pub const MAX_RESULTS: usize = 50;
/// Longest query read, in characters (the rest is ignored).
pub const MAX_QUERY_CHARS: usize = 200;

/// One message found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchHit {
    /// `#room`, or the other person's name in a direct conversation.
    pub place: String,
    /// The page that opens the room at the message (`…/#m<seq>`).
    pub link: String,
    pub seq: Seq,
    pub author: String,
    pub sent_at: Timestamp,
    /// The part of its text shown, in pieces; `true` marks a matched word.
    pub snippet: Vec<(String, bool)>,
}

/// What a search is asked: words, and optionally a room and an author.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SearchQuery {
    pub q: String,
    /// A room's name (`general`), or empty for every room.
    pub room: String,
    /// An author's username, or empty for anyone.
    pub author: String,
}

/// Why a search gave no results: a code the page renders in words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum SearchError {
    #[error("That is not a room name.")]
    BadRoomName,
    #[error("You are searching too fast. Wait a moment.")]
    RateLimited,
    #[error("Search is unavailable right now. Try again in a moment.")]
    Unavailable,
    #[error("Could not reach the server. Check your connection and try again.")]
    Unreachable,
}

crate::server_fns::server_fn_error!(SearchError);

#[cfg(feature = "ssr")]
pub use service::{SearchService, SharedSearch};

#[cfg(feature = "ssr")]
mod service {
    use http::request::Parts;

    use super::{SearchError, SearchHit, SearchQuery};
    use crate::account::Answer;

    /// The server's search, handed to Leptos as context; the request's session
    /// says whose rooms are searched.
    pub trait SearchService: Send + Sync + 'static {
        fn search(&self, request: &Parts, query: SearchQuery) -> Answer<Result<Vec<SearchHit>, SearchError>>;
    }

    pub type SharedSearch = std::sync::Arc<dyn SearchService>;
}

/// The messages matching `q` (every word of it, in any order), best first.
#[server(endpoint = "search", input = leptos::server_fn::codec::GetUrl)]
pub async fn search(q: String, room: String, author: String) -> Result<Vec<SearchHit>, SearchError> {
    let (search, parts) = crate::server_fns::context::<SharedSearch, _>(SearchError::Unavailable)?;
    let answer = search.search(&parts, SearchQuery { q, room, author }).await;
    if let Err(error) = &answer {
        crate::pages::set_status(error.status());
    }
    answer
}

impl SearchError {
    /// The HTTP status a refusal is answered with.
    pub fn status(self) -> u16 {
        match self {
            SearchError::BadRoomName => 400,
            SearchError::RateLimited => 429,
            SearchError::Unavailable | SearchError::Unreachable => 503,
        }
    }
}
