//! Percent-encoding for what the app puts in its own addresses (a room name in a
//! path, a `next` or a username in a query).

/// Keeps letters, digits and `-_.~/`; encodes every other byte as `%XX`.
pub fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn encodes_all_but_the_safe_bytes() {
        assert_eq!(super::encode("/chat/tea-room/"), "/chat/tea-room/");
        assert_eq!(super::encode("a b&c=é"), "a%20b%26c%3D%C3%A9");
    }
}
