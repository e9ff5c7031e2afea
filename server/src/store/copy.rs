//! Moving an SQLite deployment to PostgreSQL (`server copy-to-postgres`): every
//! table of the SQLite file, row for row, into a PostgreSQL database whose
//! schema is the same version (both are brought up to date first), in one
//! transaction, so a copy that fails leaves the database empty; then the
//! identities moved past the copied ids, and the files' directory copied.
//!
//! Generic over the tables on purpose: the columns are read from PostgreSQL's
//! catalogue (its schema is the target), each either a 64-bit integer or text
//! in both dialects, so a column added later to both schemas is copied without
//! a change here. Only search differs: SQLite's index is not copied, each
//! message's tsvector is made from its body as the PostgreSQL writer makes it.

use std::path::Path;

use futures::TryStreamExt;
use sqlx::{Postgres, QueryBuilder, Row};

use super::{PgStore, Result, SqliteStore, StoreError};

/// The tables, in an order their foreign keys allow.
const TABLES: &[&str] = &[
    "accounts",
    "sessions",
    "rooms",
    "messages",
    "changes",
    "memberships",
    "mentions",
    "reactions",
    "push_subscriptions",
    "server_keys",
    "moderators",
    "removals",
    "moderation_log",
    "uploads",
    "api_tokens",
    "webhooks",
];

/// Tables whose ids PostgreSQL makes (identity columns): moved past the copy.
const IDENTITIES: &[&str] = &["accounts", "rooms", "push_subscriptions", "moderation_log", "api_tokens", "webhooks"];

/// Rows per insert statement (at most 16 columns: well under PostgreSQL's
/// 65,535 parameters).
const CHUNK: usize = 500;

/// What a copy moved.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Copied {
    /// Rows per table, in [`TABLES`] order.
    pub rows: Vec<(&'static str, u64)>,
    pub files: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("the PostgreSQL database already holds {table}: copy into an empty one")]
    NotEmpty { table: &'static str },
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("copying the files: {0}")]
    Files(#[from] std::io::Error),
}

/// A column's kind, as both dialects keep it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Integer,
    Text,
    /// `messages.search`: made from the body, not copied.
    Search,
}

/// One value of a row.
enum Value {
    Integer(Option<i64>),
    Text(Option<String>),
}

/// Copies the SQLite file `from` (and its files) into the PostgreSQL
/// database at `to` (files into `files`), which must be empty.
pub async fn sqlite_to_postgres(from: &Path, to: &str, files: &Path) -> Result<Copied, CopyError> {
    let (sqlite, _) = SqliteStore::open(from).await?;
    let (pg, _) = PgStore::open(to, files).await?;
    let mut tx = pg.pool().begin().await?;
    for table in TABLES {
        let any: bool = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT EXISTS (SELECT 1 FROM {table})")))
            .fetch_one(&mut *tx)
            .await?;
        if any {
            return Err(CopyError::NotEmpty { table });
        }
    }
    let mut copied = Copied::default();
    for table in TABLES {
        let columns: Vec<(String, String)> = sqlx::query_as(
            "SELECT column_name::text, data_type::text FROM information_schema.columns
              WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
        )
        .bind(table)
        .fetch_all(&mut *tx)
        .await?;
        let columns: Vec<(String, Kind)> = columns
            .into_iter()
            .map(|(name, kind)| {
                let kind = match kind.as_str() {
                    "tsvector" => Kind::Search,
                    "text" => Kind::Text,
                    _ => Kind::Integer,
                };
                (name, kind)
            })
            .collect();
        let read: Vec<&str> = columns.iter().filter(|(_, k)| *k != Kind::Search).map(|(n, _)| n.as_str()).collect();
        let select = format!("SELECT {} FROM {table}", read.join(", "));
        let mut rows = sqlx::query(sqlx::AssertSqlSafe(select)).fetch(sqlite.readers());
        let mut batch: Vec<Vec<Value>> = Vec::with_capacity(CHUNK);
        let mut count = 0u64;
        while let Some(row) = rows.try_next().await? {
            let mut values = Vec::with_capacity(columns.len());
            for (i, (_, kind)) in columns.iter().filter(|(_, k)| *k != Kind::Search).enumerate() {
                values.push(match kind {
                    Kind::Integer => Value::Integer(row.try_get(i)?),
                    // PostgreSQL's text holds no NUL (SQLite's may).
                    _ => Value::Text(row.try_get::<Option<String>, _>(i)?.map(crate::hub::storable)),
                });
            }
            batch.push(values);
            if batch.len() == CHUNK {
                count += insert(&mut tx, table, &columns, std::mem::take(&mut batch)).await?;
            }
        }
        count += insert(&mut tx, table, &columns, batch).await?;
        copied.rows.push((table, count));
    }
    for table in IDENTITIES {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE(max(id), 0) + 1, false) FROM {table}"
        )))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    copied.files = copy_dir(sqlite.blobs().dir(), files)?;
    sqlite.close().await;
    pg.close().await;
    Ok(copied)
}

/// Inserts a batch of rows; a message's search column is made from its body.
async fn insert(
    tx: &mut sqlx::PgConnection,
    table: &str,
    columns: &[(String, Kind)],
    batch: Vec<Vec<Value>>,
) -> Result<u64, CopyError> {
    if batch.is_empty() {
        return Ok(0);
    }
    let names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
    let body_at = columns.iter().filter(|(_, k)| *k != Kind::Search).position(|(n, _)| n == "body");
    let deleted_at = columns.iter().filter(|(_, k)| *k != Kind::Search).position(|(n, _)| n == "deleted_at");
    let mut insert: QueryBuilder<Postgres> = QueryBuilder::new(format!("INSERT INTO {table} ({}) ", names.join(", ")));
    let rows = batch.len() as u64;
    insert.push_values(batch, |mut row, values| {
        let body = body_at.and_then(|at| match &values[at] {
            Value::Text(Some(body)) => Some(body.clone()),
            _ => None,
        });
        let deleted = deleted_at.is_some_and(|at| matches!(values[at], Value::Integer(Some(_))));
        let mut values = values.into_iter();
        for (_, kind) in columns {
            match kind {
                Kind::Search => match (&body, deleted) {
                    (Some(body), false) => {
                        row.push("to_tsvector('simple', chat_unaccent(")
                            .push_bind_unseparated(crate::search::text::indexed(body))
                            .push_unseparated("))");
                    }
                    _ => {
                        row.push("NULL");
                    }
                },
                _ => match values.next() {
                    Some(Value::Integer(value)) => {
                        row.push_bind(value);
                    }
                    Some(Value::Text(value)) => {
                        row.push_bind(value);
                    }
                    None => {
                        row.push("NULL");
                    }
                },
            }
        }
    });
    insert.build().execute(&mut *tx).await?;
    Ok(rows)
}

/// Copies the files under `from` into `to` (the same layout); returns how many.
fn copy_dir(from: &Path, to: &Path) -> std::io::Result<u64> {
    if !from.is_dir() || from == to {
        return Ok(0);
    }
    std::fs::create_dir_all(to)?;
    let mut count = 0;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            count += copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
            count += 1;
        }
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use app::protocol::{Attachment, ClientMsgId, Seq, Timestamp};
    use app::room_name::RoomName;

    use super::*;
    use crate::store::{
        AccountId, AccountStore, ChangeKind, MessageWriter, NewChange, NewMessage, ReadMark, SearchRequest, Store,
        Upload,
    };

    fn post(room: &str, (author, name): (AccountId, &str), id: &str, body: &str) -> NewMessage {
        NewMessage {
            room: RoomName::parse(room).unwrap(),
            author_id: author,
            author: name.to_uppercase(),
            author_username: name.into(),
            mentioned: app::markdown::mentions::mentions(body),
            body: body.into(),
            client_id: ClientMsgId(id.into()),
            sent_at: Timestamp(1_795_000_000_000),
            reply: None,
            file: None,
        }
    }

    /// An SQLite deployment with a bit of everything, copied: PostgreSQL then
    /// answers every question as SQLite did, and goes on from where it stopped.
    #[tokio::test]
    async fn an_sqlite_deployment_copied_to_postgres_reads_the_same_and_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("chat.db");
        let (sqlite, mut writer) = SqliteStore::open(&file).await.unwrap();
        let ada = sqlite.create_account("ada", "Ada", "hash-a", 1).await.unwrap().unwrap();
        let bob = sqlite.create_account("bob", "Bob", "hash-b", 2).await.unwrap().unwrap();
        sqlite.create_session("token-a", ada.id, 3, i64::MAX).await.unwrap();
        let room = RoomName::parse("ops").unwrap();
        sqlite.join_room(ada.id, &room, Timestamp(4)).await.unwrap();
        let hash = sqlite.blobs().put(b"the plan").await.unwrap();
        let file_id = "upload-1".to_owned();
        let attachment = Attachment {
            id: file_id.clone(),
            name: "plan.txt".into(),
            size: 8,
            mime: "text/plain".into(),
            thumb: None,
        };
        let upload = Upload {
            account: bob.id,
            room: room.to_string(),
            seq: None,
            hash,
            thumb_hash: None,
            file: attachment.clone(),
            created_at: Timestamp(5),
        };
        sqlite.add_upload(&upload).await.unwrap();
        let mut with_file = post("ops", (bob.id, "bob"), "b2", "the plan, @ada");
        with_file.file = Some(Box::new(attachment));
        writer.append_batch(vec![post("ops", (ada.id, "ada"), "a1", "deploy failed"), with_file]).await.unwrap();
        let change = |target: u64, who: AccountId, kind| NewChange {
            room: room.clone(),
            target: Seq(target),
            author_id: who,
            at: Timestamp(6),
            kind,
        };
        writer
            .change(change(1, bob.id, ChangeKind::React { emoji: "👍".into(), on: true, username: "bob".into() }))
            .await
            .unwrap()
            .unwrap();
        let edit = ChangeKind::Edit { body: "deploy failed again".into(), mentioned: Vec::new() };
        writer.change(change(1, ada.id, edit)).await.unwrap().unwrap();
        sqlite.mark_read(vec![ReadMark { account: ada.id, room: room.clone(), seq: Seq(1) }]).await.unwrap();
        sqlite.moderate(&room, ada.id, app::moderation::ModAction::Moderator, "bob", (None, 0)).await.unwrap().unwrap();
        writer.close().await;

        let url = crate::store::fresh_postgres_database().await;
        let files = dir.path().join("pg-files");
        let copied = sqlite_to_postgres(&file, &url, &files).await.unwrap();
        assert!(copied.rows.contains(&("messages", 2)), "{copied:?}");
        assert!(copied.rows.contains(&("changes", 2)), "{copied:?}");
        assert_eq!(copied.files, 1);

        let (sqlite, _) = SqliteStore::open(&file).await.unwrap();
        let (pg, mut pg_writer) = PgStore::open(&url, &files).await.unwrap();
        assert_eq!(pg.select_page(&room, None, 50).await.unwrap(), sqlite.page(&room, None, 50).await.unwrap());
        assert_eq!(pg.select_after(&room, Seq(0), 50).await.unwrap(), sqlite.after(&room, Seq(0), 50).await.unwrap());
        assert_eq!(pg.room_list(ada.id).await.unwrap(), sqlite.room_list(ada.id).await.unwrap());
        assert_eq!(pg.room_list(bob.id).await.unwrap(), sqlite.room_list(bob.id).await.unwrap());
        assert_eq!(pg.moderation_log(&room, 10).await.unwrap(), sqlite.moderation_log(&room, 10).await.unwrap());
        assert_eq!(pg.upload(&file_id).await.unwrap(), sqlite.upload(&file_id).await.unwrap());
        assert!(pg.blobs().path(&upload.hash).is_file(), "the file's content came too");
        assert_eq!(pg.session("token-a", 10).await.unwrap().unwrap().account, ada);
        assert_eq!(pg.credentials("bob").await.unwrap().unwrap().password_hash, "hash-b");
        let found = pg.search(&SearchRequest::new("again", None, 10).unwrap()).await.unwrap();
        assert_eq!(found.len(), 1, "the edited body is what search finds");

        // It goes on: the next seq, the next account.
        let next = pg_writer.append_batch(vec![post("ops", (bob.id, "bob"), "b3", "back")]).await.unwrap();
        assert_eq!(next[0].message.seq, Seq(5));
        let cy = pg.create_account("cy", "Cy", "hash-c", 7).await.unwrap().unwrap();
        assert_eq!(cy.id, AccountId(3));
        // A second copy into it is refused, and changes nothing.
        let again = sqlite_to_postgres(&file, &url, &files).await.unwrap_err();
        assert!(matches!(again, CopyError::NotEmpty { table: "accounts" }), "{again}");
    }
}
