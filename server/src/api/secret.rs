//! The secrets of API tokens and webhook addresses: 32 random bytes in hex
//! behind a prefix that says what they are (so a secret scanner, or a person,
//! can tell a leaked one); the database keeps only the SHA-256 of the whole
//! string, and its first characters to tell it by in a list.

use sha2::{Digest, Sha256};

/// What starts a personal API token.
pub const TOKEN_PREFIX: &str = "chat_pat_";
/// What starts an incoming webhook's secret (the last part of its address).
pub const WEBHOOK_PREFIX: &str = "chat_hook_";
/// Characters of the random part shown in lists after the prefix.
const SHOWN: usize = 6;

/// A secret just made: shown to its owner once, then only its hash is kept.
pub struct Secret {
    pub text: String,
}

impl Secret {
    pub fn generate(prefix: &str) -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)?;
        Ok(Secret { text: format!("{prefix}{}", hex::encode(bytes)) })
    }

    /// What lists show of it: the prefix and the first few characters.
    pub fn shown(&self) -> String {
        let cut = self.text.len() - 64 + SHOWN;
        format!("{}…", &self.text[..cut])
    }

    pub fn hash(&self) -> String {
        hash(&self.text)
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// The hash a secret is kept and found by; `None` for a string that is not a
/// secret of this kind (it is then never looked up).
pub fn hash_of(text: &str, prefix: &str) -> Option<String> {
    let random = text.strip_prefix(prefix)?;
    (random.len() == 64 && random.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())).then(|| hash(text))
}

fn hash(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// A fresh id for a message posted without one (each such request is a new message).
pub fn request_id() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    Ok(format!("api-{}", hex::encode(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_found_by_its_hash_and_shown_by_its_start() {
        let secret = Secret::generate(TOKEN_PREFIX).unwrap();
        assert_eq!(hash_of(&secret.text, TOKEN_PREFIX), Some(secret.hash()));
        assert!(secret.shown().starts_with(TOKEN_PREFIX) && secret.shown().len() < 20, "{}", secret.shown());
        assert_ne!(secret.text, Secret::generate(TOKEN_PREFIX).unwrap().text);
        assert!(!secret.hash().contains(&secret.text[TOKEN_PREFIX.len()..]));
    }

    #[test]
    fn other_strings_are_no_secrets() {
        let secret = Secret::generate(TOKEN_PREFIX).unwrap();
        assert_eq!(hash_of(&secret.text, WEBHOOK_PREFIX), None, "a token is not a webhook's secret");
        assert_eq!(hash_of(&secret.text.to_uppercase(), TOKEN_PREFIX), None);
        assert_eq!(hash_of(&secret.text[..secret.text.len() - 1], TOKEN_PREFIX), None);
        assert_eq!(hash_of("", TOKEN_PREFIX), None);
    }
}
