//! Which store a server keeps its data in, and the parts of it the server's
//! pieces are handed once it is open: the embedded SQLite file (the default:
//! one process, nothing to install) or a PostgreSQL server that several
//! processes share.

use std::path::PathBuf;
use std::sync::Arc;

use super::{AccountStore, MessageWriter, PgStore, PgWriter, Result, SqliteStore, SqliteWriter, Store};
use crate::admin::store::AdminStore;
use crate::api::store::IntegrationStore;
use crate::files::Blobs;
use crate::push::PushStore;

/// Where the messages, accounts and files are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// One SQLite file (created on first start); files beside it.
    Sqlite(PathBuf),
    /// A PostgreSQL database at `url`; files in `files`, a directory every
    /// process of the deployment shares.
    Postgres { url: String, files: PathBuf },
}

/// An address as it may be shown (logged): its password, if any, hidden.
pub fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => match parsed.set_password(Some("***")) {
            Ok(()) => parsed.to_string(),
            // A URL that cannot hold a password cannot have one to hide; hide it all.
            Err(()) => "(an address with a password)".to_owned(),
        },
        Ok(parsed) => parsed.to_string(),
        Err(_) => "(an address that does not parse)".to_owned(),
    }
}

impl Database {
    pub async fn open(&self) -> Result<Opened> {
        match self {
            Database::Sqlite(path) => Ok(SqliteStore::open(path).await?.into()),
            Database::Postgres { url, files } => Ok(PgStore::open(url, files).await?.into()),
        }
    }

    /// Where it is, for the log: a PostgreSQL address without its password.
    pub fn describe(&self) -> String {
        match self {
            Database::Sqlite(path) => format!("SQLite file {}", path.display()),
            Database::Postgres { url, files } => format!("PostgreSQL {}, files in {}", redacted(url), files.display()),
        }
    }
}

/// An open store, as the server's pieces take it.
pub struct Opened {
    pub store: Arc<dyn Store>,
    pub accounts: Arc<dyn AccountStore>,
    pub push: Arc<dyn PushStore>,
    pub integrations: Arc<dyn IntegrationStore>,
    pub admin: Arc<dyn AdminStore>,
    pub blobs: Blobs,
    /// This process's one writer of messages (the hub's poster owns it).
    pub writer: Box<dyn MessageWriter>,
}

impl From<(SqliteStore, SqliteWriter)> for Opened {
    fn from((store, writer): (SqliteStore, SqliteWriter)) -> Self {
        let blobs = store.blobs().clone();
        opened(Arc::new(store), Box::new(writer), blobs)
    }
}

impl From<(PgStore, PgWriter)> for Opened {
    fn from((store, writer): (PgStore, PgWriter)) -> Self {
        let blobs = store.blobs().clone();
        opened(Arc::new(store), Box::new(writer), blobs)
    }
}

/// One store, handed to each piece as the part it uses.
fn opened<S>(store: Arc<S>, writer: Box<dyn MessageWriter>, blobs: Blobs) -> Opened
where
    S: Store + AccountStore + PushStore + IntegrationStore + AdminStore,
{
    Opened {
        store: store.clone(),
        accounts: store.clone(),
        push: store.clone(),
        integrations: store.clone(),
        admin: store,
        blobs,
        writer,
    }
}
