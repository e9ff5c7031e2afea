//! Uploads' records (their contents are `crate::files::Blobs`, in a directory
//! every process shares), as SQLite's (`store/sqlite/files.rs`).

use app::protocol::{Attachment, Seq, Timestamp};
use sqlx::PgPool;

use super::PgStore;
use crate::store::{AccountId, Result, Upload};

/// An upload's row.
#[derive(sqlx::FromRow)]
struct UploadRow {
    id: String,
    account_id: i64,
    room: String,
    seq: Option<i64>,
    hash: String,
    thumb_hash: Option<String>,
    name: String,
    size: i64,
    mime: String,
    thumb_w: Option<i64>,
    thumb_h: Option<i64>,
    created_at: i64,
}

impl From<UploadRow> for Upload {
    fn from(row: UploadRow) -> Self {
        Upload {
            account: AccountId(row.account_id),
            room: row.room,
            seq: row.seq.map(|s| Seq(s as u64)),
            hash: row.hash,
            thumb_hash: row.thumb_hash,
            file: Attachment {
                id: row.id,
                name: row.name,
                size: row.size as u64,
                mime: row.mime,
                thumb: row.thumb_w.zip(row.thumb_h).map(|(w, h)| (w as u32, h as u32)),
            },
            created_at: Timestamp(row.created_at),
        }
    }
}

/// Whether any upload holds the content `hash` (as its file or its thumbnail).
pub(super) async fn content_named(pool: &PgPool, hash: &str) -> Result<bool> {
    let named: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM uploads WHERE hash = $1) OR EXISTS (SELECT 1 FROM uploads WHERE thumb_hash = $1)",
    )
    .bind(hash)
    .fetch_one(pool)
    .await?;
    Ok(named)
}

impl PgStore {
    pub(super) async fn insert_upload(&self, upload: &Upload) -> Result<()> {
        sqlx::query(
            "INSERT INTO uploads (id, account_id, room, seq, hash, thumb_hash, name, size, mime, thumb_w, thumb_h, \
             created_at) VALUES ($1, $2, $3, NULL, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&upload.file.id)
        .bind(upload.account.0)
        .bind(&upload.room)
        .bind(&upload.hash)
        .bind(&upload.thumb_hash)
        .bind(&upload.file.name)
        .bind(upload.file.size as i64)
        .bind(&upload.file.mime)
        .bind(upload.file.thumb.map(|t| i64::from(t.0)))
        .bind(upload.file.thumb.map(|t| i64::from(t.1)))
        .bind(upload.created_at.0)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub(super) async fn select_upload(&self, id: &str) -> Result<Option<Upload>> {
        let row: Option<UploadRow> =
            sqlx::query_as("SELECT * FROM uploads WHERE id = $1").bind(id).fetch_optional(self.pool()).await?;
        Ok(row.map(Upload::from))
    }

    pub(super) async fn select_uploads_used(&self, account: AccountId, unsent_before: Timestamp) -> Result<u64> {
        let forgotten: Vec<(String, Option<String>)> = sqlx::query_as(
            "DELETE FROM uploads WHERE account_id = $1 AND seq IS NULL AND created_at < $2 RETURNING hash, thumb_hash",
        )
        .bind(account.0)
        .bind(unsent_before.0)
        .fetch_all(self.pool())
        .await?;
        if !forgotten.is_empty() {
            let _naming = self.blobs().naming().await;
            for hash in forgotten.into_iter().flat_map(|(hash, thumb)| std::iter::once(hash).chain(thumb)) {
                if !content_named(self.pool(), &hash).await? {
                    self.blobs().remove(&hash).await;
                }
            }
        }
        let used: i64 = sqlx::query_scalar("SELECT coalesce(sum(size), 0)::bigint FROM uploads WHERE account_id = $1")
            .bind(account.0)
            .fetch_one(self.pool())
            .await?;
        Ok(used as u64)
    }
}
