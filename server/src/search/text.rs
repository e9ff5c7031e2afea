//! Search text: what is indexed for a message, what a typed query matches,
//! and which words of a found message to highlight.
//!
//! SQLite's `unicode61` tokenizer splits words at spaces and punctuation,
//! which Chinese and Japanese do not use: a whole sentence would be one
//! token, and no word in it findable. So a run of those scripts is indexed as
//! its overlapping pairs of characters (bigrams, as Lucene's CJK analyser
//! does), and a query's run is matched as the phrase of its pairs: "会議"
//! finds "明日の会議は", "東京会議" finds the pairs 東京 京会 会議 side by side.
//! (SQLite's trigram tokenizer needs three characters, and many such words
//! have two.) Hand-written because no tokenizer crate plugs into SQLite's
//! FTS5 from sqlx; this is small and tested here.
//!
//! A query is never handed to FTS5's syntax: each of its words becomes a
//! quoted string of letters and digits, so operators, quotes or brackets a
//! person types are only separators, and no query can make an error.

/// Most words of a query used (the rest are ignored).
pub const MAX_TERMS: usize = 12;

/// Characters of scripts written without spaces between words.
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF     // Hiragana, Katakana
        | 0x31F0..=0x31FF   // Katakana extensions
        | 0x3400..=0x4DBF   // CJK extension A
        | 0x4E00..=0x9FFF   // CJK unified ideographs
        | 0xAC00..=0xD7AF   // Hangul syllables
        | 0xF900..=0xFAFF   // CJK compatibility ideographs
        | 0xFF66..=0xFF9F   // Half-width Katakana
        | 0x20000..=0x2FA1F // CJK extensions B and on
    )
}

/// A piece of text, as far as search is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece<'a> {
    /// Letters and digits of a spaced script.
    Word(&'a str),
    /// A run of [`is_cjk`] characters.
    Run(&'a str),
}

/// The words and runs of `text`, in order (everything else separates them).
fn pieces(text: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut start: Option<(usize, bool)> = None;
    for (at, c) in text.char_indices() {
        let kind = if is_cjk(c) {
            Some(true)
        } else if c.is_alphanumeric() {
            Some(false)
        } else {
            None
        };
        match (start, kind) {
            (Some((_, cjk)), Some(now)) if cjk == now => {}
            (Some((from, cjk)), _) => {
                out.push(piece(&text[from..at], cjk));
                start = kind.map(|cjk| (at, cjk));
            }
            (None, Some(cjk)) => start = Some((at, cjk)),
            (None, None) => {}
        }
    }
    if let Some((from, cjk)) = start {
        out.push(piece(&text[from..], cjk));
    }
    out
}

fn piece(text: &str, cjk: bool) -> Piece<'_> {
    if cjk {
        Piece::Run(text)
    } else {
        Piece::Word(text)
    }
}

/// A run as its overlapping pairs of characters (one character: itself).
fn bigrams(run: &str) -> Vec<&str> {
    let bounds: Vec<usize> = run.char_indices().map(|(at, _)| at).chain([run.len()]).collect();
    if bounds.len() <= 2 {
        return vec![run];
    }
    bounds.windows(3).map(|w| &run[w[0]..w[2]]).collect()
}

/// What the index holds for a message's body: its words, and each run as
/// its bigrams.
pub fn indexed(body: &str) -> String {
    let mut out = String::with_capacity(body.len() * 2);
    for piece in pieces(body) {
        match piece {
            Piece::Word(word) => out.push_str(word),
            Piece::Run(run) => out.push_str(&bigrams(run).join(" ")),
        }
        out.push(' ');
    }
    out
}

/// The FTS5 expression for what a person typed: every word must be there
/// (a run: its bigrams side by side; one character alone: any pair starting
/// with it). `None` when it holds no word at all.
pub fn match_expression(query: &str) -> Option<String> {
    let terms: Vec<String> = pieces(query)
        .into_iter()
        .take(MAX_TERMS)
        .map(|piece| match piece {
            Piece::Word(word) => format!("\"{word}\""),
            Piece::Run(run) if run.chars().count() == 1 => format!("\"{run}\"*"),
            Piece::Run(run) => format!("\"{}\"", bigrams(run).join(" ")),
        })
        .collect();
    (!terms.is_empty()).then(|| terms.join(" "))
}

/// The PostgreSQL `tsquery` for what a person typed, matching what
/// [`match_expression`] matches in FTS5 (every word; a run as its bigrams side
/// by side; one character alone as any pair starting with it), for text
/// indexed as [`indexed`] says. Each word is quoted and holds only letters and
/// digits, so no query can make an error. `None` when it holds no word.
pub fn ts_query(query: &str) -> Option<String> {
    let terms: Vec<String> = pieces(query)
        .into_iter()
        .take(MAX_TERMS)
        .map(|piece| match piece {
            Piece::Word(word) => format!("'{word}'"),
            Piece::Run(run) if run.chars().count() == 1 => format!("'{run}':*"),
            Piece::Run(run) => {
                let pairs: Vec<String> = bigrams(run).into_iter().map(|pair| format!("'{pair}'")).collect();
                format!("({})", pairs.join(" <-> "))
            }
        })
        .collect();
    (!terms.is_empty()).then(|| terms.join(" & "))
}

/// `expression` (a [`match_expression`]) for the message text only, within
/// `room` and by `author` when given: they are the index's other columns,
/// matched as the phrases of their words (the store then checks them
/// exactly: a phrase matches a longer name too).
pub fn narrowed(expression: &str, room: Option<&str>, author: Option<&str>) -> String {
    let mut out = format!("body : ({expression})");
    for (column, name) in [("room", room), ("author", author)] {
        let Some(name) = name else { continue };
        let words: Vec<&str> = name.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
        if !words.is_empty() {
            out.push_str(&format!(" AND {column} : \"{}\"", words.join(" ")));
        }
    }
    out
}

/// The query's words as the index holds them, where that is sure: words of
/// ASCII lowercased, runs as their bigrams (a word with accents is folded by
/// the tokenizer in ways not copied here, and a lone character is a prefix:
/// neither is counted).
pub fn terms(query: &str) -> Vec<String> {
    let mut out = Vec::new();
    for piece in pieces(query).into_iter().take(MAX_TERMS) {
        match piece {
            Piece::Word(word) if word.is_ascii() => out.push(word.to_ascii_lowercase()),
            Piece::Word(_) => {}
            Piece::Run(run) if run.chars().count() > 1 => out.extend(bigrams(run).into_iter().map(str::to_owned)),
            Piece::Run(_) => {}
        }
    }
    out
}

/// About how many characters a result shows of a long message.
pub const SNIPPET_CHARS: usize = 200;

/// The part of `body` a result shows, as pieces of text and whether each is
/// a match of `query` (to highlight). Words match without regard to case;
/// runs as they are written.
pub fn snippet(body: &str, query: &str) -> Vec<(String, bool)> {
    let wanted = pieces(query);
    let words: Vec<String> = wanted
        .iter()
        .filter_map(|p| match p {
            Piece::Word(w) => Some(w.to_lowercase()),
            Piece::Run(_) => None,
        })
        .collect();
    let mut marks: Vec<(usize, usize)> = Vec::new();
    // Words, by the same splitting as the index's.
    let mut at = 0;
    for piece in pieces(body) {
        let Piece::Word(word) = piece else { continue };
        let from = at + body[at..].find(word).unwrap_or(0);
        at = from + word.len();
        if words.contains(&word.to_lowercase()) {
            marks.push((from, at));
        }
    }
    for run in wanted.iter().filter_map(|p| match p {
        Piece::Run(r) => Some(*r),
        Piece::Word(_) => None,
    }) {
        marks.extend(body.match_indices(run).map(|(from, m)| (from, from + m.len())));
    }
    marks.sort_unstable();
    // The window: all of a short message; around the first match of a long one.
    let (start, end) = window(body, marks.first().map(|m| m.0));
    let mut out = Vec::new();
    if start > 0 {
        out.push(("…".to_owned(), false));
    }
    let mut cursor = start;
    for (from, to) in marks {
        if to <= cursor || from >= end {
            continue;
        }
        let from = from.max(cursor);
        let to = to.min(end);
        if from > cursor {
            out.push((body[cursor..from].to_owned(), false));
        }
        out.push((body[from..to].to_owned(), true));
        cursor = to;
    }
    if cursor < end {
        out.push((body[cursor..end].to_owned(), false));
    }
    if end < body.len() {
        out.push(("…".to_owned(), false));
    }
    out
}

/// Byte bounds of the part of `body` shown: [`SNIPPET_CHARS`] characters,
/// starting a little before `first` (a match's start), on character bounds.
fn window(body: &str, first: Option<usize>) -> (usize, usize) {
    let chars: Vec<usize> = body.char_indices().map(|(at, _)| at).chain([body.len()]).collect();
    let count = chars.len() - 1;
    if count <= SNIPPET_CHARS {
        return (0, body.len());
    }
    let first = first.map_or(0, |byte| chars.partition_point(|&at| at < byte));
    let start = first.saturating_sub(SNIPPET_CHARS / 3).min(count - SNIPPET_CHARS);
    (chars[start], chars[start + SNIPPET_CHARS])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_are_indexed_as_pairs_and_words_as_they_are() {
        assert_eq!(indexed("Deploy at 10:30, ok?"), "Deploy at 10 30 ok ");
        assert_eq!(indexed("明日の会議は10時です"), "明日 日の の会 会議 議は 10 時で です ");
        assert_eq!(indexed("猫"), "猫 ");
        assert_eq!(indexed("café 東京"), "café 東京 ");
    }

    #[test]
    fn a_query_is_only_quoted_words_whatever_is_typed() {
        assert_eq!(match_expression("deploy failed").as_deref(), Some(r#""deploy" "failed""#));
        assert_eq!(match_expression("会議").as_deref(), Some(r#""会議""#));
        assert_eq!(match_expression("東京会議").as_deref(), Some(r#""東京 京会 会議""#));
        assert_eq!(match_expression("猫").as_deref(), Some(r#""猫"*"#));
        for hostile in [r#"" OR ""#, "NEAR(a b)", "a AND NOT b", "col:x", "^x*", "(((", "\"\"\"", "-", "*"] {
            let expr = match_expression(hostile).unwrap_or_default();
            let bare: String = expr.chars().filter(|c| !matches!(c, '"' | ' ' | '*')).collect();
            assert!(bare.chars().all(char::is_alphanumeric), "{hostile:?} -> {expr:?}");
        }
        assert_eq!(match_expression("  ?! "), None);
        let many = "w ".repeat(50);
        assert_eq!(match_expression(&many).unwrap().matches('"').count(), MAX_TERMS * 2);
    }

    #[test]
    fn a_postgres_query_is_only_quoted_words_whatever_is_typed() {
        assert_eq!(ts_query("deploy failed").as_deref(), Some("'deploy' & 'failed'"));
        assert_eq!(ts_query("東京会議").as_deref(), Some("('東京' <-> '京会' <-> '会議')"));
        assert_eq!(ts_query("猫 café").as_deref(), Some("'猫':* & 'café'"));
        for hostile in ["' | '", "a & !b", "x:*", "(((", "'''", "<->", "\\"] {
            let query = ts_query(hostile).unwrap_or_default();
            let bare: String = query.chars().filter(|c| !matches!(c, '\'' | ' ' | '&')).collect();
            assert!(bare.chars().all(char::is_alphanumeric), "{hostile:?} -> {query:?}");
        }
        assert_eq!(ts_query("  ?! "), None);
    }

    #[test]
    fn a_search_is_narrowed_by_the_index_s_columns() {
        assert_eq!(narrowed(r#""deploy""#, None, None), r#"body : ("deploy")"#);
        assert_eq!(
            narrowed(r#""deploy""#, Some("ops-team"), Some("ada-12")),
            r#"body : ("deploy") AND room : "ops team" AND author : "ada 12""#
        );
        assert_eq!(narrowed(r#""x""#, Some("@3.17"), None), r#"body : ("x") AND room : "3 17""#);
    }

    #[test]
    fn the_words_counted_are_the_index_s() {
        assert_eq!(terms("Deploy FAILED café 東京会議 猫"), ["deploy", "failed", "東京", "京会", "会議"]);
    }

    #[test]
    fn a_snippet_marks_the_words_found() {
        let marked = |parts: Vec<(String, bool)>| -> Vec<String> {
            parts.into_iter().filter(|(_, m)| *m).map(|(t, _)| t).collect()
        };
        let parts = snippet("The Deploy failed; deploying again.", "deploy");
        assert_eq!(parts.iter().map(|(t, _)| t.as_str()).collect::<String>(), "The Deploy failed; deploying again.");
        assert_eq!(marked(parts), ["Deploy"]);
        assert_eq!(marked(snippet("明日の会議は10時です", "会議")), ["会議"]);
        let long = format!("{} needle {}", "hay ".repeat(100), "hay ".repeat(100));
        let parts = snippet(&long, "needle");
        let shown: String = parts.iter().map(|(t, _)| t.as_str()).collect();
        assert!(shown.starts_with('…') && shown.ends_with('…') && shown.contains("needle"), "{shown}");
        assert!(shown.chars().count() <= SNIPPET_CHARS + 2);
        assert_eq!(marked(parts), ["needle"]);
    }
}
