//! `server backup` and `server restore` for an SQLite deployment.
//!
//! A backup is SQLite's `VACUUM INTO` from a read-only connection: one read
//! transaction, so the copy is the database as it was at one instant, taken
//! while the server goes on writing (WAL mode lets a reader run beside the
//! writer), never a copy of the file, which could catch a page half-written.
//! Uploaded files (named by their content's SHA-256, never changed once
//! written) are then copied into the directory beside the copy, the layout
//! `server --db` expects, so the copy opens as a deployment of its own.
//!
//! A restore checks the copy (`PRAGMA integrity_check`), keeps the current
//! database beside itself (`<db>.before-restore-<time>`, with its log), and
//! puts the copy in its place; the server must be stopped.

use std::path::{Path, PathBuf};

use sqlx::{ConnectOptions, Connection};

use super::sqlite::file_options;
use crate::files::Blobs;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0} exists already: a backup never overwrites")]
    Exists(PathBuf),
    #[error("{0} does not exist")]
    Missing(PathBuf),
    #[error("the database: {0}")]
    Sqlite(#[from] sqlx::Error),
    #[error("the copy is damaged: {0}")]
    Damaged(String),
    #[error("files: {0}")]
    Io(#[from] std::io::Error),
}

/// What a backup or restore copied.
#[derive(Debug)]
pub struct Copied {
    pub messages: i64,
    pub files: u64,
}

/// Copies the live database `db` into `to` (a new file) and its uploads
/// beside it.
pub async fn backup(db: &Path, to: &Path) -> Result<Copied, BackupError> {
    if !db.exists() {
        return Err(BackupError::Missing(db.to_owned()));
    }
    if to.exists() {
        return Err(BackupError::Exists(to.to_owned()));
    }
    if let Some(dir) = to.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut source =
        file_options(db).read_only(true).busy_timeout(std::time::Duration::from_secs(10)).connect().await?;
    let target = to.to_str().ok_or_else(|| BackupError::Damaged(format!("{} is not UTF-8", to.display())))?;
    sqlx::query("VACUUM INTO ?").bind(target).execute(&mut source).await?;
    source.close().await?;
    let messages = count_messages(to).await?;
    let files = copy_files(Blobs::beside(db).dir(), Blobs::beside(to).dir())?;
    Ok(Copied { messages, files })
}

/// Puts the backup `from` in the place of `db` (the server stopped), keeping
/// what was there beside it.
pub async fn restore(from: &Path, db: &Path) -> Result<Copied, BackupError> {
    if !from.exists() {
        return Err(BackupError::Missing(from.to_owned()));
    }
    let mut check = file_options(from).read_only(true).connect().await?;
    let verdict: String = sqlx::query_scalar("PRAGMA integrity_check").fetch_one(&mut check).await?;
    check.close().await?;
    if verdict != "ok" {
        return Err(BackupError::Damaged(verdict));
    }
    if db.exists() {
        let kept = format!("before-restore-{}", crate::clock::now().0);
        for suffix in ["", "-wal", "-shm"] {
            let path = PathBuf::from(format!("{}{suffix}", db.display()));
            if path.exists() {
                std::fs::rename(&path, format!("{}.{kept}{suffix}", db.display()))?;
            }
        }
    } else if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    // Copied under a temporary name, then renamed: never half a database in place.
    let partial = PathBuf::from(format!("{}.restoring", db.display()));
    std::fs::copy(from, &partial)?;
    std::fs::rename(&partial, db)?;
    let files = copy_files(Blobs::beside(from).dir(), Blobs::beside(db).dir())?;
    Ok(Copied { messages: count_messages(db).await?, files })
}

async fn count_messages(db: &Path) -> Result<i64, BackupError> {
    let mut copy = file_options(db).read_only(true).connect().await?;
    let messages = sqlx::query_scalar("SELECT count(*) FROM messages").fetch_one(&mut copy).await?;
    copy.close().await?;
    Ok(messages)
}

/// Copies the contents under `from` that `to` lacks (not the temporary ones,
/// nor the lock file); returns how many.
fn copy_files(from: &Path, to: &Path) -> std::io::Result<u64> {
    if !from.exists() {
        return Ok(0);
    }
    let mut copied = 0;
    for shard in std::fs::read_dir(from)? {
        let shard = shard?;
        if !shard.file_type()?.is_dir() || shard.file_name() == "tmp" {
            continue;
        }
        let target = to.join(shard.file_name());
        std::fs::create_dir_all(&target)?;
        for content in std::fs::read_dir(shard.path())? {
            let content = content?;
            let destination = target.join(content.file_name());
            if content.file_type()?.is_file() && !destination.exists() {
                std::fs::copy(content.path(), &destination)?;
                copied += 1;
            }
        }
    }
    Ok(copied)
}
