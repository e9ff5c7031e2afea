//! Where files' bytes are kept: one file per content, named by its SHA-256
//! under the data directory (`<db>-files/ab/abcdef…`), never by a name a
//! client chose. An upload is written to a temporary file beside them while
//! it is hashed and counted, and put in its place (an atomic rename) only
//! once its record is stored; a content nobody's upload names any more is
//! removed.
//!
//! Naming a content (storing the upload's record and putting its bytes in
//! place) and removing one nobody names (asking the store, then unlinking)
//! take turns ([`Blobs::naming`]): otherwise a new upload of the same bytes,
//! recorded between a removal's question and its unlink, would lose them. An
//! async mutex held across those awaits, on purpose: each turn is a few file
//! and database operations, and only uploads and deletions of files take it.
//! In a directory several processes share (with PostgreSQL), the turn is also
//! the deployment's: an advisory lock (`flock`) on `naming.lock` in it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

/// The directory of the contents.
#[derive(Debug, Clone)]
pub struct Blobs {
    dir: PathBuf,
    /// Whose turn it is to name or remove contents (shared by clones).
    naming: Arc<tokio::sync::Mutex<()>>,
    /// Other processes use the directory too: a turn locks it for them.
    shared: bool,
}

/// A turn to name or remove contents ([`Blobs::naming`]); ends when dropped.
pub struct Turn<'a> {
    _here: tokio::sync::MutexGuard<'a, ()>,
    /// The lock file, locked (closing it unlocks).
    _deployment: Option<std::fs::File>,
}

/// An upload written to its temporary file; removed with it unless kept.
#[derive(Debug)]
pub struct Staged {
    pub temp: PathBuf,
    /// SHA-256, in hex.
    pub hash: String,
    pub size: u64,
    /// Its first bytes, to tell what it is.
    pub head: Vec<u8>,
    kept: bool,
}

/// Why an upload was not written.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    #[error("the upload is larger than {0} bytes")]
    TooLarge(u64),
    #[error("the upload was cut off: {0}")]
    Body(String),
    #[error("cannot write the upload: {0}")]
    Io(#[from] std::io::Error),
}

/// How many of its first bytes an upload is told by.
const HEAD: usize = 8192;

impl Blobs {
    /// The contents beside the database file `db` (`data/chat.db`: `data/chat-files/`).
    pub fn beside(db: &Path) -> Self {
        let stem = db.file_stem().map_or_else(|| "chat".into(), |s| s.to_string_lossy().into_owned());
        Blobs { dir: db.with_file_name(format!("{stem}-files")), naming: Arc::default(), shared: false }
    }

    /// The contents in `dir` (with a database server, a directory every
    /// process of the deployment shares).
    pub fn in_dir(dir: PathBuf) -> Self {
        Blobs { dir, naming: Arc::default(), shared: true }
    }

    /// A turn to name contents (record an upload and put its bytes and
    /// thumbnail in place) or to remove the ones nobody names; held until
    /// dropped. In a shared directory, every process's turns alternate.
    pub async fn naming(&self) -> Turn<'_> {
        let here = self.naming.lock().await;
        let deployment = if self.shared {
            match lock_exclusively(self.dir.join("naming.lock")).await {
                Ok(file) => Some(file),
                Err(error) => {
                    // Uploads go on; only a race with another process's removal is left open.
                    tracing::error!(%error, dir = %self.dir.display(), "cannot lock the files' directory for naming");
                    None
                }
            }
        } else {
            None
        };
        Turn { _here: here, _deployment: deployment }
    }

    /// The directory the contents are in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the content of `hash` is (or would be).
    pub fn path(&self, hash: &str) -> PathBuf {
        let shard = hash.get(..2).unwrap_or("00");
        self.dir.join(shard).join(hash)
    }

    /// Writes `body` to a temporary file, hashing it; refuses it once it
    /// passes `max` bytes (what was written is removed).
    pub async fn stage<S, E>(&self, mut body: S, max: u64) -> Result<Staged, StageError>
    where
        S: Stream<Item = Result<bytes::Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let tmp = self.dir.join("tmp");
        tokio::fs::create_dir_all(&tmp).await?;
        let mut name = [0u8; 16];
        getrandom::fill(&mut name).map_err(|e| std::io::Error::other(e.to_string()))?;
        let temp = tmp.join(hex::encode(name));
        let mut staged = Staged { temp, hash: String::new(), size: 0, head: Vec::new(), kept: false };
        let mut file = tokio::fs::File::create(&staged.temp).await?;
        let mut hasher = Sha256::new();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| StageError::Body(e.to_string()))?;
            staged.size += chunk.len() as u64;
            if staged.size > max {
                return Err(StageError::TooLarge(max));
            }
            if staged.head.len() < HEAD {
                let take = (HEAD - staged.head.len()).min(chunk.len());
                staged.head.extend_from_slice(&chunk[..take]);
            }
            hasher.update(&chunk);
            file.write_all(&chunk).await?;
        }
        file.sync_all().await?;
        staged.hash = hex::encode(hasher.finalize());
        Ok(staged)
    }

    /// Replaces a staged upload's bytes with `bytes` (its metadata removed).
    pub async fn restage(&self, staged: &mut Staged, bytes: Vec<u8>) -> std::io::Result<()> {
        tokio::fs::write(&staged.temp, &bytes).await?;
        staged.hash = hex::encode(Sha256::digest(&bytes));
        staged.size = bytes.len() as u64;
        Ok(())
    }

    /// Puts a staged upload in its place (the same content there already is
    /// the same bytes: replaced all the same, atomically).
    pub async fn keep(&self, mut staged: Staged) -> std::io::Result<()> {
        let path = self.path(&staged.hash);
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        tokio::fs::rename(&staged.temp, &path).await?;
        staged.kept = true;
        Ok(())
    }

    /// Stores `bytes` (a thumbnail) under their hash; returns it.
    pub async fn put(&self, bytes: &[u8]) -> std::io::Result<String> {
        let hash = hex::encode(Sha256::digest(bytes));
        let path = self.path(&hash);
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        // A name of its own: another process may be putting the same bytes.
        let mut name = [0u8; 16];
        getrandom::fill(&mut name).map_err(|e| std::io::Error::other(e.to_string()))?;
        let tmp = self.dir.join("tmp").join(format!("{}.part", hex::encode(name)));
        tokio::fs::create_dir_all(self.dir.join("tmp")).await?;
        tokio::fs::write(&tmp, bytes).await?;
        tokio::fs::rename(&tmp, &path).await?;
        Ok(hash)
    }

    /// Removes the content of `hash` (none there is no error).
    pub async fn remove(&self, hash: &str) {
        match tokio::fs::remove_file(self.path(hash)).await {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => tracing::warn!(%error, hash, "a file's content could not be removed"),
        }
    }
}

/// Opens (making it) and locks `path` exclusively, waiting for the lock on
/// a blocking thread.
async fn lock_exclusively(path: PathBuf) -> std::io::Result<std::fs::File> {
    tokio::task::spawn_blocking(move || {
        use std::os::fd::AsRawFd;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path)?;
        loop {
            // SAFETY: flock on a descriptor this function owns, open for its call.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0 {
                return Ok(file);
            }
            let error = std::io::Error::last_os_error();
            if error.kind() != std::io::ErrorKind::Interrupted {
                return Err(error);
            }
        }
    })
    .await
    .map_err(std::io::Error::other)?
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.kept {
            // Synchronous, and small: one unlink of a file this upload made.
            if let Err(error) = std::fs::remove_file(&self.temp) {
                if error.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!(%error, path = %self.temp.display(), "an upload's temporary file stays");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(parts: &[&'static [u8]]) -> impl Stream<Item = Result<bytes::Bytes, std::io::Error>> + Unpin {
        futures::stream::iter(parts.iter().map(|p| Ok(bytes::Bytes::from_static(p))).collect::<Vec<_>>())
    }

    #[tokio::test]
    async fn a_content_is_kept_under_its_hash_and_an_oversized_one_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::beside(&dir.path().join("chat.db"));
        let staged = blobs.stage(chunks(&[b"hello ", b"world"]), 100).await.unwrap();
        assert_eq!(staged.hash, "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9");
        assert_eq!((staged.size, staged.head.as_slice()), (11, &b"hello world"[..]));
        let hash = staged.hash.clone();
        blobs.keep(staged).await.unwrap();
        assert_eq!(std::fs::read(blobs.path(&hash)).unwrap(), b"hello world");
        assert!(blobs.path(&hash).starts_with(dir.path().join("chat-files").join("b9")));

        let refused = blobs.stage(chunks(&[b"0123456789", b"0123456789"]), 15).await;
        assert!(matches!(refused, Err(StageError::TooLarge(15))));
        let left: Vec<_> = std::fs::read_dir(dir.path().join("chat-files/tmp")).unwrap().collect();
        assert!(left.is_empty(), "nothing of a refused upload stays: {left:?}");
        blobs.remove(&hash).await;
        assert!(!blobs.path(&hash).exists());
    }

    #[tokio::test]
    async fn processes_sharing_a_directory_take_turns_at_naming() {
        let dir = tempfile::tempdir().unwrap();
        // Two processes' views of one directory (each locks its own open file).
        let one = Blobs::in_dir(dir.path().to_owned());
        let other = Blobs::in_dir(dir.path().to_owned());
        let turn = one.naming().await;
        let waiting = tokio::time::timeout(std::time::Duration::from_millis(300), other.naming()).await;
        assert!(waiting.is_err(), "the other process waits while one names");
        drop(turn);
        let _turn = tokio::time::timeout(std::time::Duration::from_secs(5), other.naming())
            .await
            .expect("its turn comes once the first ends");
        // One process alone on its file never locks anything.
        let alone = Blobs::beside(&dir.path().join("chat.db"));
        let _mine = alone.naming().await;
        assert!(!dir.path().join("chat-files/naming.lock").exists());
    }
}
