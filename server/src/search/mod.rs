//! Search, as the pages' server function asks it: whose search it is (the
//! session), how often one may search, and the results as a page shows them
//! (where each is, a link there, the words found marked).

pub mod text;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use http::request::Parts;

use app::account::Answer;
use app::room_name::RoomName;
use app::search::{SearchError, SearchHit, SearchQuery, SearchService, MAX_QUERY_CHARS, MAX_RESULTS};

use crate::accounts::Accounts;
use crate::hub::SharedStore;
use crate::limits::KeyedBuckets;
use crate::store::SearchRequest;

/// Who is searching, for the limit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Searcher {
    Account(i64),
    Address(IpAddr),
}

#[derive(Clone)]
pub struct Search {
    accounts: Accounts,
    store: SharedStore,
    searches: Arc<KeyedBuckets<Searcher>>,
}

impl Search {
    /// Searches `store` for the sessions of `accounts`, as often as `policy` allows.
    pub fn new(accounts: Accounts, store: SharedStore, policy: &crate::policy::Policy) -> Self {
        let searches = Arc::new(KeyedBuckets::new(policy.search_burst, policy.searches_per_second));
        Search { accounts, store, searches }
    }

    async fn run(&self, request: &Parts, query: SearchQuery) -> Result<Vec<SearchHit>, SearchError> {
        let viewer = match self.accounts.session_of(&request.headers).await {
            Ok(signed_in) => signed_in.map(|s| s.account.id),
            Err(error) => {
                tracing::warn!(%error, "search: sessions unreadable");
                return Err(SearchError::Unavailable);
            }
        };
        let searcher =
            viewer.map_or_else(|| Searcher::Address(crate::http::client_ip(request)), |id| Searcher::Account(id.0));
        if self.searches.take(&searcher, Instant::now()).is_err() {
            return Err(SearchError::RateLimited);
        }
        let q: String = query.q.chars().take(MAX_QUERY_CHARS).collect();
        let Some(mut request) = SearchRequest::new(&q, viewer, MAX_RESULTS as u32) else { return Ok(Vec::new()) };
        let room = match query.room.trim().trim_start_matches('#') {
            "" => None,
            name => Some(RoomName::parse_key(name).map_err(|_| SearchError::BadRoomName)?),
        };
        let author = match query.author.trim().trim_start_matches('@') {
            "" => None,
            name => Some(name.to_lowercase()),
        };
        (request.room, request.author) = (room, author);
        let found = self.store.search(&request).await.map_err(|error| {
            tracing::error!(%error, "searching failed");
            SearchError::Unavailable
        })?;
        Ok(found
            .into_iter()
            .map(|found| {
                let (place, page) = match &found.with {
                    Some((username, name)) => (name.clone(), format!("/chat/@{username}/")),
                    None => (format!("#{}", found.room), found.room.path()),
                };
                SearchHit {
                    place,
                    link: format!("{page}#m{}", found.seq.0),
                    seq: found.seq,
                    author: found.author,
                    sent_at: found.sent_at,
                    snippet: text::snippet(&found.body, &q),
                }
            })
            .collect())
    }
}

impl SearchService for Search {
    fn search(&self, request: &Parts, query: SearchQuery) -> Answer<Result<Vec<SearchHit>, SearchError>> {
        let (this, request) = (self.clone(), request.clone());
        Box::pin(async move { this.run(&request, query).await })
    }
}
