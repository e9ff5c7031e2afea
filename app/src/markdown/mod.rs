//! The small Markdown subset that chat messages support, parsed into a tree.
//!
//! [`parse`] turns a message body into [`Block`]s and [`Inline`]s. The view builds
//! DOM nodes from that tree with text content only, so raw HTML in a message is
//! always shown exactly as typed and never interpreted.
//!
//! What is understood:
//! - paragraphs, separated by blank lines; a single newline is an [`Inline::LineBreak`];
//! - fenced code blocks: a line of three or more backticks (an info string after it is
//!   ignored) up to a line of at least as many backticks, or to the end of the message;
//! - `` `code` ``, `*em*` / `_em_`, `**strong**` / `__strong__`, following CommonMark's
//!   delimiter rules, so `snake_case_name` stays plain text;
//! - `[text](url)` links and bare `http://`, `https://` and `mailto:` autolinks, whose
//!   targets must pass [`safe_href`]; a bracketed link with any other target is shown
//!   as its literal source;
//! - backslash escapes of ASCII punctuation (`\*` is a literal `*`).
//!
//! Anything not understood is text. The parser never panics and runs in roughly
//! linear time: there is no backtracking, emphasis nests at most
//! [`MAX_EMPHASIS_DEPTH`] levels, and link targets and bare URLs longer than
//! 2048 characters are not links.

use std::collections::HashSet;

/// The `rel` attribute for every link the view renders from a message.
pub const LINK_REL: &str = "noopener noreferrer ugc";

/// The deepest emphasis nesting (`*`, `_`, `**`, `__`) on any path through a
/// paragraph, and separately through a link's text; beyond it markers are text.
pub const MAX_EMPHASIS_DEPTH: usize = 8;

/// How far after `](` a link's closing `)` is looked for.
const MAX_LINK_DEST_CHARS: usize = 2048;

/// The longest bare URL made a link; a longer one stays text.
const MAX_AUTOLINK_CHARS: usize = 2048;

/// A block of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    /// Running text.
    Paragraph(Vec<Inline>),
    /// A fenced code block: its lines verbatim, without the fence lines.
    Code { text: String },
}

/// A piece of running text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inline {
    /// Plain text, shown as is. Adjacent texts are always merged.
    Text(String),
    /// `*x*` or `_x_`.
    Emphasis(Vec<Inline>),
    /// `**x**` or `__x__`.
    Strong(Vec<Inline>),
    /// `` `x` ``: verbatim text.
    Code(String),
    /// `[text](url)` or a bare URL. `href` has passed [`safe_href`]; links never nest.
    Link { href: String, children: Vec<Inline> },
    /// A single newline inside a paragraph.
    LineBreak,
}

/// Parses a message body (after [`strip_unsafe_chars`]) into blocks.
///
/// An empty or all-blank body gives no blocks.
pub fn parse(body: &str) -> Vec<Block> {
    let body = strip_unsafe_chars(body);
    let mut blocks = Vec::new();
    let mut paragraph: Vec<&str> = Vec::new();
    let mut lines = body.split('\n');
    while let Some(line) = lines.next() {
        if let Some(fence) = opening_fence(line) {
            flush_paragraph(&mut paragraph, &mut blocks);
            let mut code: Vec<&str> = Vec::new();
            let mut closed = false;
            for line in lines.by_ref() {
                if is_closing_fence(line, fence) {
                    closed = true;
                    break;
                }
                code.push(line);
            }
            if !closed {
                // An unclosed block ends with the message, less its trailing blank lines.
                while code.last().is_some_and(|l| l.trim().is_empty()) {
                    code.pop();
                }
            }
            blocks.push(Block::Code { text: code.join("\n") });
        } else if line.trim().is_empty() {
            flush_paragraph(&mut paragraph, &mut blocks);
        } else {
            paragraph.push(line);
        }
    }
    flush_paragraph(&mut paragraph, &mut blocks);
    blocks
}

/// The backtick count of a line that opens a code block: three or more backticks,
/// then an info string without backticks (so ```` ```x``` ```` on one line stays inline).
fn opening_fence(line: &str) -> Option<usize> {
    let line = line.trim();
    let n = line.chars().take_while(|&c| c == '`').count();
    (n >= 3 && !line[n..].contains('`')).then_some(n)
}

fn is_closing_fence(line: &str, fence: usize) -> bool {
    let line = line.trim();
    line.len() >= fence && line.chars().all(|c| c == '`')
}

fn flush_paragraph(lines: &mut Vec<&str>, blocks: &mut Vec<Block>) {
    if !lines.is_empty() {
        blocks.push(Block::Paragraph(parse_inlines(&lines.join("\n"))));
        lines.clear();
    }
}

mod inline;
pub mod mentions;
mod sanitize;

use inline::parse_inlines;
pub use sanitize::{safe_href, strip_unsafe_chars};

#[cfg(test)]
mod tests;
