//! The one rule for room names, used by the lobby form, the room page, the
//! WebSocket route and the hub alike.
//!
//! A name is normalised before it is checked: surrounding white space is dropped,
//! letters are lower-cased and each run of inner white space becomes one `-`.
//! So `"  Rust Nation "` and `"rust-nation"` are the same room. What remains must be
//! 1 to [`MAX_ROOM_NAME_LEN`] characters of `a-z`, `0-9`, `-` and `_`, and start
//! with a letter or a digit.
//!
//! A direct conversation between two accounts is a room too, named by the pair
//! of account ids, lower first: `@3.17`. No typed name can take that form (`@`
//! and `.` are not in the rule), so nobody can create or join it by name; only
//! [`RoomName::direct`] makes one, and its two people are in its name, so
//! who may read it is decided without a database read.

use std::fmt;

use serde::{Deserialize, Serialize};

pub const MAX_ROOM_NAME_LEN: usize = 40;

/// The rule in one sentence, for forms and error pages.
pub const ROOM_NAME_RULE: &str = "Room names are 1 to 40 characters: letters a to z, digits, \
     '-' and '_', starting with a letter or a digit.";

/// A valid, normalised room name: the room's identity and its URL segment.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct RoomName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoomNameError {
    #[error("Please enter a room name.")]
    Empty,
    #[error("“{0}” is too long: room names have at most {MAX_ROOM_NAME_LEN} characters.")]
    TooLong(String),
    #[error("“{name}” contains “{bad}”: room names use only letters a to z, digits, '-' and '_'.")]
    InvalidCharacter { name: String, bad: char },
    #[error("“{0}” must start with a letter or a digit.")]
    BadStart(String),
}

impl RoomNameError {
    /// The stable word tools and tests match on (`data-code` on the page).
    pub fn code(&self) -> &'static str {
        match self {
            RoomNameError::Empty => "empty",
            RoomNameError::TooLong(_) => "too_long",
            RoomNameError::InvalidCharacter { .. } => "invalid_character",
            RoomNameError::BadStart(_) => "bad_start",
        }
    }
}

impl RoomName {
    /// Normalises `input` and checks it against the rule.
    pub fn parse(input: &str) -> Result<Self, RoomNameError> {
        let name = normalise(input);
        let Some(first) = name.chars().next() else {
            return Err(RoomNameError::Empty);
        };
        if let Some(bad) =
            name.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '_'))
        {
            return Err(RoomNameError::InvalidCharacter { name: input.trim().to_owned(), bad });
        }
        if name.len() > MAX_ROOM_NAME_LEN {
            return Err(RoomNameError::TooLong(input.trim().to_owned()));
        }
        if !first.is_ascii_alphanumeric() {
            return Err(RoomNameError::BadStart(input.trim().to_owned()));
        }
        Ok(RoomName(name))
    }

    /// The direct conversation of two accounts (by id): one per pair, the
    /// same whichever of them starts it.
    pub fn direct(a: i64, b: i64) -> Self {
        let (low, high) = if a <= b { (a, b) } else { (b, a) };
        RoomName(format!("@{low}.{high}"))
    }

    /// A room name as stored or sent by the server: a typed name's form, or a
    /// direct conversation's. Not for names a person types.
    pub fn parse_key(input: &str) -> Result<Self, RoomNameError> {
        match Self::direct_ids(input) {
            Some((a, b)) => Ok(Self::direct(a, b)),
            None => Self::parse(input),
        }
    }

    /// The two account ids of a direct conversation; `None` for a room.
    pub fn direct_pair(&self) -> Option<(i64, i64)> {
        Self::direct_ids(&self.0)
    }

    pub fn is_direct(&self) -> bool {
        self.0.starts_with('@')
    }

    /// Whether the account may read this room: anyone may read a room, only
    /// its two people a direct conversation.
    pub fn readable_by(&self, account: Option<i64>) -> bool {
        match self.direct_pair() {
            None => true,
            Some((a, b)) => account.is_some_and(|id| id == a || id == b),
        }
    }

    fn direct_ids(input: &str) -> Option<(i64, i64)> {
        let (a, b) = input.strip_prefix('@')?.split_once('.')?;
        let id = |s: &str| {
            // Canonical digits only: no sign, no leading zero, no padding.
            let canonical = !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
            canonical.then(|| s.parse::<i64>().ok()).flatten()
        };
        let (a, b) = (id(a)?, id(b)?);
        (a <= b).then_some((a, b))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The room page's path, `/chat/<name>/`.
    pub fn path(&self) -> String {
        format!("/chat/{}/", self.0)
    }
}

fn normalise(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    for (i, word) in input.split_whitespace().enumerate() {
        if i > 0 {
            out.push('-');
        }
        out.extend(word.chars().flat_map(char::to_lowercase));
    }
    out
}

impl fmt::Display for RoomName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for RoomName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for RoomName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        RoomName::parse_key(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn ok(input: &str, expected: &str) {
        assert_eq!(RoomName::parse(input).unwrap().as_str(), expected, "input {input:?}");
    }

    #[test]
    fn a_direct_conversation_is_one_per_pair_and_never_a_typed_name() {
        assert_eq!(RoomName::direct(17, 3), RoomName::direct(3, 17));
        assert_eq!(RoomName::direct(3, 17).as_str(), "@3.17");
        assert_eq!(RoomName::direct(3, 17).direct_pair(), Some((3, 17)));
        assert_eq!(RoomName::parse_key("@3.17").unwrap(), RoomName::direct(3, 17));
        assert!(RoomName::parse("@3.17").is_err(), "nobody types their way into a conversation");
        for odd in ["@17.3", "@03.17", "@3.+17", "@3.", "@.3", "@3.17.1", "@a.b", "@-1.2"] {
            assert!(RoomName::parse_key(odd).is_err(), "{odd}");
        }
        let dm = RoomName::direct(3, 17);
        assert!(dm.readable_by(Some(3)) && dm.readable_by(Some(17)));
        assert!(!dm.readable_by(Some(4)) && !dm.readable_by(None));
        assert!(RoomName::parse("general").unwrap().readable_by(None));
        assert!(!RoomName::parse("general").unwrap().is_direct());
    }

    #[test]
    fn accepts_and_normalises() {
        ok("general", "general");
        ok("rust-lang_2026", "rust-lang_2026");
        ok("7seas", "7seas");
        ok(&"a".repeat(MAX_ROOM_NAME_LEN), &"a".repeat(MAX_ROOM_NAME_LEN));
    }

    #[test]
    fn case_and_surrounding_space_lead_to_the_same_room() {
        let canonical = RoomName::parse("rust-nation").unwrap();
        for variant in ["Rust-Nation", "  rust-nation  ", "RUST NATION", "\trust   nation\n"] {
            assert_eq!(RoomName::parse(variant).unwrap(), canonical, "{variant:?}");
        }
    }

    #[test]
    fn rejects_with_a_reason() {
        assert_eq!(RoomName::parse("").unwrap_err(), RoomNameError::Empty);
        assert_eq!(RoomName::parse("   ").unwrap_err(), RoomNameError::Empty);
        assert!(matches!(RoomName::parse("a/b").unwrap_err(), RoomNameError::InvalidCharacter { bad: '/', .. }));
        assert!(matches!(RoomName::parse("café").unwrap_err(), RoomNameError::InvalidCharacter { bad: 'é', .. }));
        assert!(matches!(RoomName::parse("<script>").unwrap_err(), RoomNameError::InvalidCharacter { bad: '<', .. }));
        assert!(matches!(RoomName::parse(&"a".repeat(MAX_ROOM_NAME_LEN + 1)).unwrap_err(), RoomNameError::TooLong(_)));
        assert!(matches!(RoomName::parse("-x").unwrap_err(), RoomNameError::BadStart(_)));
        assert!(matches!(RoomName::parse("_x").unwrap_err(), RoomNameError::BadStart(_)));
    }

    #[test]
    fn errors_read_like_advice() {
        let msg = RoomName::parse("a b!").unwrap_err().to_string();
        assert!(msg.contains('!') && msg.contains("letters a to z"), "{msg}");
    }

    #[test]
    fn deserialising_applies_the_rule() {
        let name: RoomName = serde_json::from_str(r#""General""#).unwrap();
        assert_eq!(name.as_str(), "general");
        assert!(serde_json::from_str::<RoomName>(r#""no/slash""#).is_err());
    }

    #[test]
    fn path_is_the_room_url() {
        assert_eq!(RoomName::parse("Lobby Chat").unwrap().path(), "/chat/lobby-chat/");
    }
}
