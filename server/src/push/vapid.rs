//! The server's VAPID identity (RFC 8292): one P-256 key pair, made on first
//! start and kept in the database (a push service ties every subscription to
//! the key it was made with, so the key must outlive restarts), and the signed
//! token each push carries.
//!
//! The token is a JWT signed with ES256, written here in a few lines with
//! `p256`'s ECDSA rather than through a JWT crate: the claims are three fixed
//! fields, and web-push-native's own VAPID feature ties the token's expiry to
//! the message's TTL and leaves the port out of the audience.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};

/// How long a token is good for (push services refuse more than 24 hours).
const TOKEN_LIFETIME_S: i64 = 12 * 60 * 60;

#[derive(Clone)]
pub struct Vapid {
    key: SigningKey,
    /// `mailto:` or `https:` contact the push services may use.
    contact: String,
}

#[derive(Debug, thiserror::Error)]
pub enum VapidError {
    #[error("the stored VAPID key is not a P-256 private key")]
    BadKey,
    #[error("the push endpoint has no host")]
    NoHost,
}

impl Vapid {
    /// A fresh key pair; [`Vapid::private_key`] is what to keep.
    pub fn generate(contact: String) -> Self {
        let mut bytes = [0u8; 32];
        loop {
            getrandom::fill(&mut bytes).expect("the system has randomness");
            if let Ok(key) = SigningKey::from_slice(&bytes) {
                return Vapid { key, contact };
            }
        }
    }

    /// The key pair kept as [`Vapid::private_key`] wrote it.
    pub fn from_private_key(private_key: &str, contact: String) -> Result<Self, VapidError> {
        let bytes = B64.decode(private_key.trim()).map_err(|_| VapidError::BadKey)?;
        let key = SigningKey::from_slice(&bytes).map_err(|_| VapidError::BadKey)?;
        Ok(Vapid { key, contact })
    }

    /// The private scalar, base64url.
    pub fn private_key(&self) -> String {
        B64.encode(self.key.to_bytes())
    }

    /// The public key as a browser's `applicationServerKey` takes it: the
    /// uncompressed point, base64url.
    pub fn public_key(&self) -> String {
        B64.encode(self.key.verifying_key().to_encoded_point(false).as_bytes())
    }

    /// The `Authorization` header for a push to `endpoint`, valid from `now_s`
    /// (seconds since the epoch).
    pub fn authorization(&self, endpoint: &http::Uri, now_s: i64) -> Result<String, VapidError> {
        let host = endpoint.host().ok_or(VapidError::NoHost)?;
        let scheme = endpoint.scheme_str().unwrap_or("https");
        let audience = match endpoint.port_u16() {
            Some(port) => format!("{scheme}://{host}:{port}"),
            None => format!("{scheme}://{host}"),
        };
        let header = B64.encode(br#"{"typ":"JWT","alg":"ES256"}"#);
        let claims = serde_json::json!({ "aud": audience, "exp": now_s + TOKEN_LIFETIME_S, "sub": self.contact });
        let claims = B64.encode(claims.to_string());
        let signed = format!("{header}.{claims}");
        let signature: Signature = self.key.sign(signed.as_bytes());
        Ok(format!("vapid t={signed}.{}, k={}", B64.encode(signature.to_bytes()), self.public_key()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::Verifier;
    use p256::ecdsa::VerifyingKey;

    #[test]
    fn a_kept_key_comes_back_and_its_tokens_verify() {
        let vapid = Vapid::generate("mailto:ops@example.com".into());
        let again = Vapid::from_private_key(&vapid.private_key(), "mailto:ops@example.com".into()).unwrap();
        assert_eq!(again.public_key(), vapid.public_key());
        assert_eq!(B64.decode(vapid.public_key()).unwrap().len(), 65, "an uncompressed P-256 point");

        let endpoint: http::Uri = "http://127.0.0.1:8080/push/1".parse().unwrap();
        let header = again.authorization(&endpoint, 1_000).unwrap();
        let (token, key) = header.strip_prefix("vapid t=").unwrap().split_once(", k=").unwrap();
        assert_eq!(key, vapid.public_key());
        let (signed, signature) = token.rsplit_once('.').unwrap();
        let verifying = VerifyingKey::from_sec1_bytes(&B64.decode(key).unwrap()).unwrap();
        let signature = Signature::from_slice(&B64.decode(signature).unwrap()).unwrap();
        verifying.verify(signed.as_bytes(), &signature).expect("the token is signed by the key");
        let claims: serde_json::Value =
            serde_json::from_slice(&B64.decode(signed.split_once('.').unwrap().1).unwrap()).unwrap();
        assert_eq!(claims["aud"], "http://127.0.0.1:8080");
        assert_eq!(claims["exp"], 1_000 + TOKEN_LIFETIME_S);
        assert_eq!(claims["sub"], "mailto:ops@example.com");
        assert!(Vapid::from_private_key("not a key", String::new()).is_err());
    }
}
