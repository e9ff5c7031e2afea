//! `@username` mentions: found in a message's running text (never inside code),
//! by the server when it stores the message (it alone decides who was mentioned,
//! keeping those that name an account), and split out of text by the view to
//! highlight the ones the server kept.

use super::{parse, Block, Inline};

/// Most distinct names one message can mention; the rest are plain text.
pub const MAX_MENTIONS: usize = 20;

/// The lowercased names `@`-mentioned in `body`'s text, each once, in order of
/// first appearance. Code spans and code blocks mention nobody; neither does an
/// `@` inside a word (`ada@example.com`).
pub fn mentions(body: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for block in parse(body) {
        if let Block::Paragraph(inlines) = block {
            collect(&inlines, &mut found);
        }
    }
    found
}

fn collect(inlines: &[Inline], found: &mut Vec<String>) {
    for inline in inlines {
        match inline {
            Inline::Text(text) => {
                for piece in split(text) {
                    if let Piece::Mention(name) = piece {
                        let name = name.to_ascii_lowercase();
                        if found.len() < MAX_MENTIONS && !found.contains(&name) {
                            found.push(name);
                        }
                    }
                }
            }
            Inline::Emphasis(children) | Inline::Strong(children) | Inline::Link { children, .. } => {
                collect(children, found)
            }
            Inline::Code(_) | Inline::LineBreak => {}
        }
    }
}

/// A piece of text: plain, or an `@name` (the name without its `@`, as typed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece<'a> {
    Text(&'a str),
    Mention(&'a str),
}

/// Splits text into plain runs and `@name`s: an `@` at the start or after a
/// character that cannot be part of a name or an address, followed by 3 to 32
/// letters, digits, `-` or `_` (the username rule, in either case).
pub fn split(text: &str) -> Vec<Piece<'_>> {
    let mut pieces = Vec::new();
    let mut plain_from = 0;
    let mut previous: Option<char> = None;
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        if c == '@' && previous.is_none_or(|p| !(p.is_alphanumeric() || matches!(p, '_' | '-' | '.' | '@'))) {
            let rest = &text[at + 1..];
            let len = rest.bytes().take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_')).count();
            let next_ok = rest[len..].chars().next().is_none_or(|n| !(n.is_alphanumeric() || n == '@'));
            if (3..=32).contains(&len) && next_ok {
                if plain_from < at {
                    pieces.push(Piece::Text(&text[plain_from..at]));
                }
                pieces.push(Piece::Mention(&rest[..len]));
                plain_from = at + 1 + len;
                // Skip the name's characters (ASCII, so one byte each).
                for _ in 0..len {
                    chars.next();
                }
                previous = rest[..len].chars().last();
                continue;
            }
        }
        previous = Some(c);
    }
    if plain_from < text.len() {
        pieces.push(Piece::Text(&text[plain_from..]));
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_text_emphasis_and_links_count_once_in_lowercase() {
        assert_eq!(
            mentions("hi @Ada and @bob_2, *@carol-x* [@dan](https://x.org) @ada"),
            ["ada", "bob_2", "carol-x", "dan"]
        );
    }

    #[test]
    fn code_addresses_and_short_or_long_names_mention_nobody() {
        assert!(mentions("`@ada` and\n```\n@bob\n```").is_empty());
        assert!(mentions("mail ada@example.com or @@ada or x@bob").is_empty());
        assert!(mentions("@ab is too short").is_empty());
        assert!(mentions(&format!("@{}", "a".repeat(33))).is_empty());
        assert!(mentions("@adaé is not a name").is_empty());
    }

    #[test]
    fn punctuation_around_a_name_is_not_part_of_it() {
        assert_eq!(mentions("(@ada), @bob: @carol. @dan!"), ["ada", "bob", "carol", "dan"]);
    }

    #[test]
    fn a_message_mentions_at_most_the_limit() {
        let body: String = (0..30).map(|i| format!("@user{i:02} ")).collect();
        assert_eq!(mentions(&body).len(), MAX_MENTIONS);
    }

    #[test]
    fn split_keeps_every_character() {
        let text = "to @Ada, cc ada@x.org and @bo";
        let pieces = split(text);
        assert_eq!(pieces, [Piece::Text("to "), Piece::Mention("Ada"), Piece::Text(", cc ada@x.org and @bo")]);
        let joined: String = pieces
            .iter()
            .map(|p| {
                if let Piece::Mention(m) = p {
                    format!("@{m}")
                } else if let Piece::Text(t) = p {
                    t.to_string()
                } else {
                    unreachable!()
                }
            })
            .collect();
        assert_eq!(joined, text);
    }
}
