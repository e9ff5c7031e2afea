//! What is taken out of a message before parsing, and which link targets are allowed.

use crate::display_name::is_bidi_control;

/// Removes characters that could disguise a message: bidirectional controls
/// (U+202A..=U+202E, U+2066..=U+2069, U+061C, U+200E, U+200F) and every other C0 or C1
/// control character except `'\n'` and `'\t'`. `"\r\n"` and a lone `'\r'` become
/// `'\n'`. Other invisible characters such as U+200D (needed by emoji) are kept.
pub fn strip_unsafe_chars(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push('\n');
            }
            '\n' | '\t' => out.push(c),
            c if is_bidi_control(c) || c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// The link allow-list: returns the trimmed `url` if it is an `http:` or `https:` URL
/// with a host, or a non-empty `mailto:` URL (scheme case-insensitive), and `None` for
/// anything else: other schemes (`javascript:`, `data:`, `file:`…), relative URLs, and
/// URLs with white space, control or bidi characters inside.
pub fn safe_href(url: &str) -> Option<String> {
    let url = url.trim();
    if url.chars().any(|c| c.is_whitespace() || c.is_control() || is_bidi_control(c)) {
        return None;
    }
    let (scheme, rest) = url.split_once(':')?;
    let mut scheme_chars = scheme.chars();
    let scheme_ok = scheme_chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && scheme_chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok {
        return None;
    }
    let allowed = match scheme.to_ascii_lowercase().as_str() {
        "http" | "https" => has_host(rest),
        "mailto" => !rest.is_empty(),
        _ => false,
    };
    allowed.then(|| url.to_owned())
}

/// Whether the part of an http(s) URL after the scheme's `:` is `//` and a host.
fn has_host(rest: &str) -> bool {
    let Some(after_slashes) = rest.strip_prefix("//") else {
        return false;
    };
    let authority = after_slashes.split(['/', '?', '#', '\\']).next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let host = host_port.split(':').next().unwrap_or_default();
    !host.is_empty()
}
