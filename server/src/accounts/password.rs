//! Password hashes: argon2id with the crate's default cost (19 MiB, 2 passes), in
//! the PHC string format, so the parameters can be raised later without breaking
//! existing hashes. Hashing runs on the blocking pool, never on a runtime worker.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("could not hash the password: {0}")]
    Hash(String),
    #[error("the hashing task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

pub async fn hash(password: String) -> Result<String, PasswordError> {
    tokio::task::spawn_blocking(move || {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|e| PasswordError::Hash(e.to_string()))?;
        let salt = SaltString::encode_b64(&salt).map_err(|e| PasswordError::Hash(e.to_string()))?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| PasswordError::Hash(e.to_string()))
    })
    .await?
}

/// Whether `password` matches `stored`. With no stored hash (unknown username) it
/// spends the same work on a dummy, so timing does not tell which names exist.
pub async fn verify(password: String, stored: Option<String>) -> Result<bool, PasswordError> {
    tokio::task::spawn_blocking(move || {
        let stored = stored.unwrap_or_else(|| DUMMY_HASH.to_owned());
        let Ok(parsed) = PasswordHash::new(&stored) else {
            tracing::error!("a stored password hash is not in PHC format");
            return Ok(false);
        };
        let matches = Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok();
        Ok(matches && stored != DUMMY_HASH)
    })
    .await?
}

/// The argon2id hash of a random password nobody knows, with default parameters:
/// never a match ([`verify`] says so), so it is also what a bot account keeps.
pub(crate) const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0PyLk3gYJ7v8cZl3r8o9H2y7b0p7ZQ1mC1rQd0n9eXc";

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let stored = hash("correct horse battery".into()).await.unwrap();
        assert!(stored.starts_with("$argon2id$"), "{stored}");
        assert!(verify("correct horse battery".into(), Some(stored.clone())).await.unwrap());
        assert!(!verify("correct horse batterY".into(), Some(stored.clone())).await.unwrap());
        let again = hash("correct horse battery".into()).await.unwrap();
        assert_ne!(stored, again, "each hash has its own salt");
    }

    #[tokio::test]
    async fn an_unknown_account_never_matches() {
        assert!(!verify("anything at all".into(), None).await.unwrap());
        assert!(PasswordHash::new(DUMMY_HASH).is_ok(), "the dummy is a real hash, so it costs the same");
    }
}
