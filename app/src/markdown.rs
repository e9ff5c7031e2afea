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
use std::iter;

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
            blocks.push(Block::Code {
                text: code.join("\n"),
            });
        } else if line.trim().is_empty() {
            flush_paragraph(&mut paragraph, &mut blocks);
        } else {
            paragraph.push(line);
        }
    }
    flush_paragraph(&mut paragraph, &mut blocks);
    blocks
}

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
    if url
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || is_bidi_control(c))
    {
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
    let authority = after_slashes
        .split(['/', '?', '#', '\\'])
        .next()
        .unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let host = host_port.split(':').next().unwrap_or_default();
    !host.is_empty()
}

fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{061C}' | '\u{200E}' | '\u{200F}'
    )
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

fn parse_inlines(text: &str) -> Vec<Inline> {
    resolve(Scanner::new(text).run(), MAX_EMPHASIS_DEPTH)
}

/// A first-pass token: code spans, links and escapes are final; emphasis markers are
/// runs still to be paired by [`resolve`].
#[derive(Debug)]
enum Tok {
    Text(String),
    /// Source text shown as typed; its newlines become line breaks.
    Literal(String),
    Code(String),
    LineBreak,
    Delim {
        ch: char,
        len: usize,
        open: bool,
        close: bool,
    },
    Link {
        href: String,
        children: Vec<Tok>,
    },
}

/// A `[` that may still start a link.
struct Opener {
    /// Index of its `Text("[")` in the tokens.
    tok: usize,
    /// Index of the `[` in the source.
    pos: usize,
}

/// The first pass, left to right over the paragraph: code spans, escapes, autolinks,
/// emphasis runs (with CommonMark's flanking rules) and links (as in CommonMark: the
/// innermost `[` pairs with a `]` followed by `(target)`, and links never nest).
struct Scanner {
    chars: Vec<char>,
    toks: Vec<Tok>,
    /// Text not yet pushed as a token.
    text: String,
    openers: Vec<Opener>,
    /// Openers below this index are inactive: they are inside a link already.
    active_from: usize,
    /// Backtick run lengths with no closing run further on.
    unmatched_code_runs: HashSet<usize>,
}

impl Scanner {
    fn new(text: &str) -> Self {
        Scanner {
            chars: text.chars().collect(),
            toks: Vec::new(),
            text: String::new(),
            openers: Vec::new(),
            active_from: 0,
            unmatched_code_runs: HashSet::new(),
        }
    }

    fn run(mut self) -> Vec<Tok> {
        let mut i = 0;
        while let Some(&c) = self.chars.get(i) {
            i = match c {
                '\\' => self.escape(i),
                '`' => self.code_span(i),
                '*' | '_' => self.delimiter_run(i, c),
                '[' => {
                    self.flush();
                    self.openers.push(Opener {
                        tok: self.toks.len(),
                        pos: i,
                    });
                    self.toks.push(Tok::Text("[".to_owned()));
                    i + 1
                }
                ']' => self.close_bracket(i),
                '\n' => {
                    self.flush();
                    self.toks.push(Tok::LineBreak);
                    i + 1
                }
                _ => self.autolink(i).unwrap_or_else(|| {
                    self.text.push(c);
                    i + 1
                }),
            };
        }
        self.flush();
        self.toks
    }

    fn flush(&mut self) {
        if !self.text.is_empty() {
            self.toks.push(Tok::Text(std::mem::take(&mut self.text)));
        }
    }

    fn run_len(&self, i: usize, ch: char) -> usize {
        self.chars[i..].iter().take_while(|&&c| c == ch).count()
    }

    fn escape(&mut self, i: usize) -> usize {
        match self.chars.get(i + 1) {
            Some(&c) if c.is_ascii_punctuation() => {
                self.text.push(c);
                i + 2
            }
            _ => {
                self.text.push('\\');
                i + 1
            }
        }
    }

    /// A run of n backticks starts a code span if a run of exactly n follows;
    /// otherwise it is literal text.
    fn code_span(&mut self, i: usize) -> usize {
        let len = self.run_len(i, '`');
        let start = i + len;
        match self.find_code_closer(start, len) {
            Some(close) => {
                let content: String = self.chars[start..close]
                    .iter()
                    .map(|&c| if c == '\n' { ' ' } else { c })
                    .collect();
                self.flush();
                self.toks.push(Tok::Code(strip_one_space(content)));
                close + len
            }
            None => {
                self.text.extend(iter::repeat('`').take(len));
                start
            }
        }
    }

    fn find_code_closer(&mut self, from: usize, len: usize) -> Option<usize> {
        if self.unmatched_code_runs.contains(&len) {
            return None;
        }
        let mut j = from;
        while let Some(&c) = self.chars.get(j) {
            if c == '`' {
                let run = self.run_len(j, '`');
                if run == len {
                    return Some(j);
                }
                j += run;
            } else {
                j += 1;
            }
        }
        self.unmatched_code_runs.insert(len);
        None
    }

    fn delimiter_run(&mut self, i: usize, ch: char) -> usize {
        let len = self.run_len(i, ch);
        let before = i.checked_sub(1).and_then(|p| self.chars.get(p)).copied();
        let after = self.chars.get(i + len).copied();
        let (ws_before, ws_after) = (
            before.map_or(true, char::is_whitespace),
            after.map_or(true, char::is_whitespace),
        );
        let (p_before, p_after) = (
            before.is_some_and(is_punctuation),
            after.is_some_and(is_punctuation),
        );
        let left = !ws_after && (!p_after || ws_before || p_before);
        let right = !ws_before && (!p_before || ws_after || p_after);
        let (open, close) = if ch == '*' {
            (left, right)
        } else {
            // `_` inside a word (snake_case) neither opens nor closes.
            (left && (!right || p_before), right && (!left || p_after))
        };
        self.flush();
        self.toks.push(Tok::Delim {
            ch,
            len,
            open,
            close,
        });
        i + len
    }

    fn close_bracket(&mut self, i: usize) -> usize {
        let Some(opener) = self.openers.pop() else {
            self.text.push(']');
            return i + 1;
        };
        let active = self.openers.len() >= self.active_from;
        self.active_from = self.active_from.min(self.openers.len());
        let target = if active {
            self.link_target(i + 1)
        } else {
            None
        };
        let Some((target, end)) = target else {
            self.text.push(']');
            return i + 1;
        };
        self.flush();
        match safe_href(&target) {
            Some(href) => {
                let mut children: Vec<Tok> = self
                    .toks
                    .split_off(opener.tok + 1)
                    .into_iter()
                    .map(|t| match t {
                        // An autolink inside link text is just text.
                        Tok::Link { href, .. } => Tok::Text(href),
                        t => t,
                    })
                    .collect();
                let blank = children.iter().all(|t| match t {
                    Tok::Text(s) => s.trim().is_empty(),
                    Tok::LineBreak => true,
                    _ => false,
                });
                if blank {
                    children = vec![Tok::Text(href.clone())];
                }
                self.toks.truncate(opener.tok);
                self.toks.push(Tok::Link { href, children });
                // No links inside links: every `[` before this one is now plain text.
                self.active_from = self.openers.len();
            }
            None => {
                self.toks.truncate(opener.tok);
                let source: String = self.chars[opener.pos..end].iter().collect();
                self.toks.push(Tok::Literal(source));
            }
        }
        end
    }

    /// The target of `(target)` starting at `open`, up to the `)` that balances it,
    /// and the index just after that `)`.
    fn link_target(&self, open: usize) -> Option<(String, usize)> {
        if self.chars.get(open) != Some(&'(') {
            return None;
        }
        let mut depth = 0usize;
        for (j, &c) in self
            .chars
            .iter()
            .enumerate()
            .skip(open + 1)
            .take(MAX_LINK_DEST_CHARS)
        {
            match c {
                '(' => depth += 1,
                ')' if depth == 0 => {
                    return Some((self.chars[open + 1..j].iter().collect(), j + 1));
                }
                ')' => depth -= 1,
                _ => {}
            }
        }
        None
    }

    /// A bare URL starting at `i`, not inside a word, pushed as a link; returns the
    /// index after it. It ends at white space or `<>"`[]`; trailing `.,;:!?*_'` and
    /// unbalanced `)` are left out. Longer than [`MAX_AUTOLINK_CHARS`], it stays text.
    fn autolink(&mut self, i: usize) -> Option<usize> {
        if i.checked_sub(1)
            .and_then(|p| self.chars.get(p))
            .is_some_and(|c| c.is_alphanumeric())
        {
            return None;
        }
        if !["http://", "https://", "mailto:"]
            .iter()
            .any(|p| self.starts_with_ignore_case(i, p))
        {
            return None;
        }
        let mut end = i;
        let (mut opens, mut closes) = (0usize, 0usize);
        while let Some(&c) = self.chars.get(end) {
            if c.is_whitespace() || matches!(c, '<' | '>' | '"' | '`' | '[' | ']') {
                break;
            }
            if end - i >= MAX_AUTOLINK_CHARS {
                return None;
            }
            opens += usize::from(c == '(');
            closes += usize::from(c == ')');
            end += 1;
        }
        while end > i {
            let drop = match self.chars[end - 1] {
                '.' | ',' | ';' | ':' | '!' | '?' | '*' | '_' | '\'' => true,
                ')' if closes > opens => {
                    closes -= 1;
                    true
                }
                _ => false,
            };
            if !drop {
                break;
            }
            end -= 1;
        }
        let url: String = self.chars[i..end].iter().collect();
        let href = safe_href(&url)?;
        self.flush();
        self.toks.push(Tok::Link {
            href,
            children: vec![Tok::Text(url)],
        });
        Some(end)
    }

    fn starts_with_ignore_case(&self, i: usize, prefix: &str) -> bool {
        prefix.chars().enumerate().all(|(k, p)| {
            self.chars
                .get(i + k)
                .is_some_and(|c| c.to_ascii_lowercase() == p)
        })
    }
}

/// ASCII punctuation, plus any other non-ASCII character that is neither a letter,
/// a digit nor white space (an approximation of Unicode punctuation and symbols).
fn is_punctuation(c: char) -> bool {
    c.is_ascii_punctuation() || (!c.is_ascii() && !c.is_alphanumeric() && !c.is_whitespace())
}

/// `` ` a ` `` shows `a`: one space is dropped from each end if both ends have one.
fn strip_one_space(s: String) -> String {
    if s.len() >= 2 && s.starts_with(' ') && s.ends_with(' ') && !s.chars().all(|c| c == ' ') {
        s[1..s.len() - 1].to_owned()
    } else {
        s
    }
}

/// An emphasis run waiting for its closer.
struct Frame {
    ch: char,
    /// Markers of the run not used yet.
    count: usize,
    /// The run's length in the source, for CommonMark's "rule of three".
    orig: usize,
    /// Whether the run could both open and close.
    both: bool,
    children: Vec<Inline>,
}

/// The second pass: pairs emphasis runs into [`Inline::Emphasis`] and
/// [`Inline::Strong`], CommonMark's way, with a stack of open runs. A closer pairs
/// with the nearest compatible open run; runs between them become text.
///
/// The markers still open never add up to more than `budget`, which bounds the
/// nesting depth of the result by `budget`.
fn resolve(toks: Vec<Tok>, budget: usize) -> Vec<Inline> {
    let mut r = Resolver {
        root: Vec::new(),
        frames: Vec::new(),
        budget,
    };
    for tok in toks {
        match tok {
            Tok::Text(s) => r.push(Inline::Text(s)),
            Tok::Literal(s) => {
                for (k, part) in s.split('\n').enumerate() {
                    if k > 0 {
                        r.push(Inline::LineBreak);
                    }
                    r.push(Inline::Text(part.to_owned()));
                }
            }
            Tok::Code(s) => r.push(Inline::Code(s)),
            Tok::LineBreak => r.push(Inline::LineBreak),
            Tok::Link { href, children } => {
                let children = resolve(children, budget.saturating_sub(r.open_count()));
                r.push(Inline::Link { href, children });
            }
            Tok::Delim {
                ch,
                len,
                open,
                close,
            } => r.delimiter_run(ch, len, open, close),
        }
    }
    r.finish()
}

struct Resolver {
    root: Vec<Inline>,
    frames: Vec<Frame>,
    budget: usize,
}

impl Resolver {
    fn sink(&mut self) -> &mut Vec<Inline> {
        match self.frames.last_mut() {
            Some(frame) => &mut frame.children,
            None => &mut self.root,
        }
    }

    fn push(&mut self, node: Inline) {
        push_inline(self.sink(), node);
    }

    fn open_count(&self) -> usize {
        self.frames.iter().map(|f| f.count).sum()
    }

    /// Turns the innermost open run back into text.
    fn collapse_top(&mut self) {
        if let Some(frame) = self.frames.pop() {
            self.push(Inline::Text(
                iter::repeat(frame.ch).take(frame.count).collect(),
            ));
            for node in frame.children {
                self.push(node);
            }
        }
    }

    fn delimiter_run(&mut self, ch: char, len: usize, open: bool, close: bool) {
        let both = open && close;
        let mut left = len;
        while close && left > 0 {
            let Some(i) = self.frames.iter().rposition(|f| {
                f.ch == ch
                    && (!(f.both || both)
                        || (f.orig + len) % 3 != 0
                        || (f.orig % 3 == 0 && len % 3 == 0))
            }) else {
                break;
            };
            while self.frames.len() > i + 1 {
                self.collapse_top();
            }
            let Some(mut frame) = self.frames.pop() else {
                break;
            };
            let used = if frame.count >= 2 && left >= 2 { 2 } else { 1 };
            let children = std::mem::take(&mut frame.children);
            let node = if used == 2 {
                Inline::Strong(children)
            } else {
                Inline::Emphasis(children)
            };
            frame.count -= used;
            left -= used;
            if frame.count == 0 {
                self.push(node);
            } else {
                frame.children.push(node);
                self.frames.push(frame);
            }
        }
        if left == 0 {
            return;
        }
        if open && self.open_count() + left <= self.budget {
            self.frames.push(Frame {
                ch,
                count: left,
                orig: len,
                both,
                children: Vec::new(),
            });
        } else {
            self.push(Inline::Text(iter::repeat(ch).take(left).collect()));
        }
    }

    fn finish(mut self) -> Vec<Inline> {
        while !self.frames.is_empty() {
            self.collapse_top();
        }
        self.root
    }
}

/// Appends `node`, merging it into a preceding text and dropping empty texts.
fn push_inline(nodes: &mut Vec<Inline>, node: Inline) {
    match node {
        Inline::Text(s) if s.is_empty() => {}
        Inline::Text(s) => match nodes.last_mut() {
            Some(Inline::Text(last)) => last.push_str(&s),
            _ => nodes.push(Inline::Text(s)),
        },
        node => nodes.push(node),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Inline {
        Inline::Text(s.to_owned())
    }

    fn em(children: Vec<Inline>) -> Inline {
        Inline::Emphasis(children)
    }

    fn strong(children: Vec<Inline>) -> Inline {
        Inline::Strong(children)
    }

    fn code(s: &str) -> Inline {
        Inline::Code(s.to_owned())
    }

    fn link(href: &str, children: Vec<Inline>) -> Inline {
        Inline::Link {
            href: href.to_owned(),
            children,
        }
    }

    fn para(children: Vec<Inline>) -> Block {
        Block::Paragraph(children)
    }

    fn code_block(s: &str) -> Block {
        Block::Code { text: s.to_owned() }
    }

    /// The inlines of a body that must be exactly one paragraph.
    fn inlines(body: &str) -> Vec<Inline> {
        match parse(body).as_slice() {
            [Block::Paragraph(inlines)] => inlines.clone(),
            other => panic!("expected one paragraph for {body:?}, got {other:?}"),
        }
    }

    /// The body shown as one plain text.
    fn assert_plain(body: &str, shown: &str) {
        assert_eq!(inlines(body), vec![text(shown)], "body: {body:?}");
    }

    fn emphasis_depth(nodes: &[Inline]) -> usize {
        nodes
            .iter()
            .map(|n| match n {
                Inline::Emphasis(c) | Inline::Strong(c) => 1 + emphasis_depth(c),
                Inline::Link { children, .. } => emphasis_depth(children),
                _ => 0,
            })
            .max()
            .unwrap_or(0)
    }

    fn has_link(nodes: &[Inline]) -> bool {
        nodes.iter().any(|n| match n {
            Inline::Link { .. } => true,
            Inline::Emphasis(c) | Inline::Strong(c) => has_link(c),
            _ => false,
        })
    }

    fn no_adjacent_texts(nodes: &[Inline]) -> bool {
        nodes
            .windows(2)
            .all(|w| !matches!(w, [Inline::Text(_), Inline::Text(_)]))
            && nodes.iter().all(|n| match n {
                Inline::Emphasis(c) | Inline::Strong(c) => no_adjacent_texts(c),
                Inline::Link { children, .. } => no_adjacent_texts(children),
                Inline::Text(s) => !s.is_empty(),
                _ => true,
            })
    }

    // Blocks.

    #[test]
    fn empty_and_blank_bodies_have_no_blocks() {
        assert_eq!(parse(""), vec![]);
        assert_eq!(parse("   "), vec![]);
        assert_eq!(parse("\n\n \t\n"), vec![]);
        assert_eq!(parse("\r\n\r\n"), vec![]);
    }

    #[test]
    fn plain_text_is_one_paragraph() {
        assert_eq!(parse("hello world"), vec![para(vec![text("hello world")])]);
    }

    #[test]
    fn blank_lines_separate_paragraphs() {
        assert_eq!(
            parse("one\n\ntwo\n \n\n\t\nthree"),
            vec![
                para(vec![text("one")]),
                para(vec![text("two")]),
                para(vec![text("three")])
            ]
        );
    }

    #[test]
    fn leading_and_trailing_blank_lines_are_dropped() {
        assert_eq!(parse("\n\n  \nhi\n\n\n"), vec![para(vec![text("hi")])]);
    }

    #[test]
    fn single_newline_is_a_line_break() {
        assert_eq!(
            inlines("one\ntwo"),
            vec![text("one"), Inline::LineBreak, text("two")]
        );
        assert_eq!(
            inlines("one\r\ntwo\rthree"),
            vec![
                text("one"),
                Inline::LineBreak,
                text("two"),
                Inline::LineBreak,
                text("three"),
            ]
        );
    }

    #[test]
    fn code_block_is_verbatim_without_fences() {
        assert_eq!(
            parse("```\nlet *x* = `y`;\n<b>hi</b>\n\n  indented\n```"),
            vec![code_block("let *x* = `y`;\n<b>hi</b>\n\n  indented")]
        );
    }

    #[test]
    fn code_block_info_string_is_ignored() {
        assert_eq!(
            parse("```rust\nfn main() {}\n```"),
            vec![code_block("fn main() {}")]
        );
        assert_eq!(parse("``` js extra\nx\n```"), vec![code_block("x")]);
    }

    #[test]
    fn unclosed_code_block_runs_to_the_end() {
        assert_eq!(
            parse("```\nline 1\n\nline 2\n\n"),
            vec![code_block("line 1\n\nline 2")]
        );
        assert_eq!(parse("```"), vec![code_block("")]);
    }

    #[test]
    fn closing_fence_needs_as_many_backticks() {
        assert_eq!(parse("````\n```\n````"), vec![code_block("```")]);
    }

    #[test]
    fn code_block_between_paragraphs() {
        assert_eq!(
            parse("before\n```\ncode\n```\nafter *x*"),
            vec![
                para(vec![text("before")]),
                code_block("code"),
                para(vec![text("after "), em(vec![text("x")])]),
            ]
        );
    }

    #[test]
    fn triple_backticks_within_a_line_are_a_code_span() {
        assert_eq!(parse("```inline```"), vec![para(vec![code("inline")])]);
    }

    // Code spans.

    #[test]
    fn code_span_is_verbatim() {
        assert_eq!(
            inlines("a `*b* [c](https://x.io) <i>` d"),
            vec![text("a "), code("*b* [c](https://x.io) <i>"), text(" d"),]
        );
        assert_eq!(inlines(r"`a\*b`"), vec![code(r"a\*b")]);
    }

    #[test]
    fn code_span_with_backticks_inside() {
        assert_eq!(inlines("``a ` b``"), vec![code("a ` b")]);
        assert_eq!(inlines("`` `x` ``"), vec![code("`x`")]);
    }

    #[test]
    fn code_span_across_a_line_break() {
        assert_eq!(inlines("`a\nb`"), vec![code("a b")]);
    }

    #[test]
    fn unmatched_backtick_is_text() {
        assert_plain("a ` b", "a ` b");
        assert_plain("``a`", "``a`");
        assert_eq!(inlines("`a`` b `c`"), vec![code("a`` b "), text("c`")]);
    }

    // Emphasis.

    #[test]
    fn emphasis_and_strong() {
        assert_eq!(inlines("*a*"), vec![em(vec![text("a")])]);
        assert_eq!(inlines("_a_"), vec![em(vec![text("a")])]);
        assert_eq!(inlines("**a**"), vec![strong(vec![text("a")])]);
        assert_eq!(inlines("__a__"), vec![strong(vec![text("a")])]);
        assert_eq!(
            inlines("x *a b* y"),
            vec![text("x "), em(vec![text("a b")]), text(" y")]
        );
    }

    #[test]
    fn nested_emphasis() {
        assert_eq!(
            inlines("**a *b* c**"),
            vec![strong(vec![text("a "), em(vec![text("b")]), text(" c")])]
        );
        assert_eq!(
            inlines("_a **b** c_"),
            vec![em(vec![text("a "), strong(vec![text("b")]), text(" c")])]
        );
        assert_eq!(inlines("***a***"), vec![em(vec![strong(vec![text("a")])])]);
    }

    #[test]
    fn emphasis_with_code_inside() {
        assert_eq!(
            inlines("*use `x`*"),
            vec![em(vec![text("use "), code("x")])]
        );
    }

    #[test]
    fn emphasis_across_a_line_break() {
        assert_eq!(
            inlines("*a\nb*"),
            vec![em(vec![text("a"), Inline::LineBreak, text("b")])]
        );
    }

    #[test]
    fn underscores_inside_words_are_text() {
        assert_plain("snake_case_name", "snake_case_name");
        assert_plain(
            "a snake_case_name and another_one",
            "a snake_case_name and another_one",
        );
        assert_eq!(inlines("_snake_case_"), vec![em(vec![text("snake_case")])]);
    }

    #[test]
    fn unmatched_markers_are_text() {
        assert_plain("*", "*");
        assert_plain("**", "**");
        assert_plain("_", "_");
        assert_plain("*a", "*a");
        assert_plain("a*", "a*");
        assert_plain("**a", "**a");
        assert_plain("a * b * c", "a * b * c");
        assert_plain("* a *", "* a *");
        assert_plain("*a_", "*a_");
        assert_eq!(inlines("**a*"), vec![text("*"), em(vec![text("a")])]);
    }

    #[test]
    fn intraword_stars_emphasise() {
        assert_eq!(
            inlines("a*b*c"),
            vec![text("a"), em(vec![text("b")]), text("c")]
        );
    }

    #[test]
    fn emphasis_depth_is_capped() {
        let deep = format!("{}x{}", "*a ".repeat(20), " b*".repeat(20));
        let nodes = inlines(&deep);
        assert_eq!(emphasis_depth(&nodes), MAX_EMPHASIS_DEPTH);
        for k in 1..30 {
            let body = format!("{}x{}", "*".repeat(k), "*".repeat(k));
            assert!(
                emphasis_depth(&inlines(&body)) <= MAX_EMPHASIS_DEPTH,
                "{body}"
            );
            let body = format!("{}x{}", "_a *b ".repeat(k), " c* d_".repeat(k));
            assert!(
                emphasis_depth(&inlines(&body)) <= MAX_EMPHASIS_DEPTH,
                "{body}"
            );
            let body = format!(
                "{}[{}x{}](https://a.io){}",
                "*a ".repeat(k),
                "_b ".repeat(k),
                " c_".repeat(k),
                " d*".repeat(k)
            );
            assert!(
                emphasis_depth(&inlines(&body)) <= MAX_EMPHASIS_DEPTH,
                "{body}"
            );
        }
    }

    // Escapes.

    #[test]
    fn backslash_escapes_punctuation() {
        assert_plain(r"\*not em\*", "*not em*");
        assert_plain(r"\_x\_ \`y\` \[z\](a.io)", "_x_ `y` [z](a.io)");
        assert_plain(r"a\\b", r"a\b");
    }

    #[test]
    fn backslash_before_other_characters_is_kept() {
        assert_plain(r"C:\Users\me", r"C:\Users\me");
        assert_plain("end\\", "end\\");
    }

    // Links.

    #[test]
    fn safe_links() {
        assert_eq!(
            inlines("see [the docs](https://example.com/a?b=c#d) now"),
            vec![
                text("see "),
                link("https://example.com/a?b=c#d", vec![text("the docs")]),
                text(" now"),
            ]
        );
        assert_eq!(
            inlines("[x](http://a.io)"),
            vec![link("http://a.io", vec![text("x")])]
        );
        assert_eq!(
            inlines("[mail me](mailto:me@example.com)"),
            vec![link("mailto:me@example.com", vec![text("mail me")])]
        );
        assert_eq!(
            inlines("[x](HTTPS://A.IO)"),
            vec![link("HTTPS://A.IO", vec![text("x")])]
        );
    }

    #[test]
    fn link_href_is_trimmed() {
        assert_eq!(
            inlines("[x](  https://a.io \t)"),
            vec![link("https://a.io", vec![text("x")])]
        );
    }

    #[test]
    fn link_text_may_hold_emphasis_and_code() {
        assert_eq!(
            inlines("[**bold** and `code`](https://a.io)"),
            vec![link(
                "https://a.io",
                vec![strong(vec![text("bold")]), text(" and "), code("code")]
            )]
        );
    }

    #[test]
    fn link_with_parentheses_in_url() {
        assert_eq!(
            inlines("[Rust](https://en.wikipedia.org/wiki/Rust_(language))."),
            vec![
                link(
                    "https://en.wikipedia.org/wiki/Rust_(language)",
                    vec![text("Rust")]
                ),
                text("."),
            ]
        );
    }

    #[test]
    fn empty_link_text_shows_the_href() {
        assert_eq!(
            inlines("[](https://a.io)"),
            vec![link("https://a.io", vec![text("https://a.io")])]
        );
        assert_eq!(
            inlines("[ ](https://a.io)"),
            vec![link("https://a.io", vec![text("https://a.io")])]
        );
    }

    #[test]
    fn links_do_not_nest() {
        assert_eq!(
            inlines("[a [b](https://b.io) c](https://c.io)"),
            vec![
                text("[a "),
                link("https://b.io", vec![text("b")]),
                // The outer target is then just a bare URL in parentheses.
                text(" c]("),
                link("https://c.io", vec![text("https://c.io")]),
                text(")"),
            ]
        );
        assert_eq!(
            inlines("[see https://b.io](https://c.io)"),
            vec![link("https://c.io", vec![text("see https://b.io")])]
        );
    }

    #[test]
    fn unsafe_links_are_their_literal_source() {
        for body in [
            "[x](javascript:alert(1))",
            "[x](JaVaScRiPt:alert(1))",
            "[x]( javascript:alert(1) )",
            "[x](java\tscript:alert(1))",
            "[x](data:text/html;base64,PHNjcmlwdD4=)",
            "[x](vbscript:msgbox(1))",
            "[x](file:///etc/passwd)",
            "[x](/relative/path)",
            "[x](example.com)",
            "[x](//evil.example)",
            "[x](https://)",
            "[x](https:evil.example)",
            "[x](ftp://example.com)",
            "[x](https://exa mple.com)",
            "[x]()",
            "[*x*](javascript:alert(1))",
        ] {
            assert_plain(body, body);
        }
        assert_plain("a [x](javascript:y) b", "a [x](javascript:y) b");
    }

    #[test]
    fn unsafe_link_with_newline_keeps_the_line_break() {
        assert_eq!(
            inlines("[x](java\nscript:alert(1))"),
            vec![
                text("[x](java"),
                Inline::LineBreak,
                text("script:alert(1))")
            ]
        );
    }

    #[test]
    fn unsafe_link_inside_safe_link_text() {
        assert_eq!(
            inlines("[a [b](javascript:x) c](https://ok.io)"),
            vec![link("https://ok.io", vec![text("a [b](javascript:x) c")])]
        );
    }

    #[test]
    fn brackets_without_a_target_are_text() {
        assert_plain("[x]", "[x]");
        assert_plain("[x] (a.io)", "[x] (a.io)");
        assert_plain("a[0] = b[1]", "a[0] = b[1]");
        assert_plain("[x](a.io", "[x](a.io");
        assert_eq!(inlines("*a [b*"), vec![em(vec![text("a [b")])]);
    }

    // Autolinks.

    #[test]
    fn bare_urls_are_links() {
        assert_eq!(
            inlines("go to https://example.com/a_b_c?q=1 now"),
            vec![
                text("go to "),
                link(
                    "https://example.com/a_b_c?q=1",
                    vec![text("https://example.com/a_b_c?q=1")]
                ),
                text(" now"),
            ]
        );
        assert_eq!(
            inlines("http://a.io"),
            vec![link("http://a.io", vec![text("http://a.io")])]
        );
        assert_eq!(
            inlines("mail mailto:me@example.com"),
            vec![
                text("mail "),
                link("mailto:me@example.com", vec![text("mailto:me@example.com")])
            ]
        );
        assert_eq!(
            inlines("HTTPS://A.IO"),
            vec![link("HTTPS://A.IO", vec![text("HTTPS://A.IO")])]
        );
    }

    #[test]
    fn autolink_trailing_punctuation_is_not_part_of_the_url() {
        for tail in [".", ",", ";", ":", "!", "?", ")", "...", "?!", ")."] {
            let body = format!("https://a.io/x{tail}");
            assert_eq!(
                inlines(&body),
                vec![
                    link("https://a.io/x", vec![text("https://a.io/x")]),
                    text(tail)
                ],
                "body: {body}"
            );
        }
    }

    #[test]
    fn autolink_keeps_balanced_parentheses() {
        assert_eq!(
            inlines("(see https://en.wikipedia.org/wiki/Rust_(language))"),
            vec![
                text("(see "),
                link(
                    "https://en.wikipedia.org/wiki/Rust_(language)",
                    vec![text("https://en.wikipedia.org/wiki/Rust_(language)")]
                ),
                text(")"),
            ]
        );
    }

    #[test]
    fn autolink_inside_emphasis() {
        assert_eq!(
            inlines("**https://a.io**"),
            vec![strong(vec![link(
                "https://a.io",
                vec![text("https://a.io")]
            )])]
        );
    }

    #[test]
    fn overlong_bare_url_is_text() {
        let url = format!("https://a.io/{}", "x".repeat(MAX_AUTOLINK_CHARS));
        assert_plain(&url, &url);
        let url = format!("https://a.io/{}", "x".repeat(MAX_AUTOLINK_CHARS - 13));
        assert_eq!(inlines(&url), vec![link(&url, vec![text(&url)])]);
    }

    #[test]
    fn not_autolinks() {
        assert_plain("https://", "https://");
        assert_plain("mailto:", "mailto:");
        assert_plain("xhttps://a.io", "xhttps://a.io");
        assert_plain("javascript:alert(1)", "javascript:alert(1)");
        assert_plain("ftp://a.io www.a.io", "ftp://a.io www.a.io");
    }

    // Unsafe characters and HTML.

    #[test]
    fn bidi_controls_are_stripped() {
        assert_eq!(strip_unsafe_chars("abc\u{202E}def"), "abcdef");
        assert_eq!(
            strip_unsafe_chars("a\u{202A}b\u{202B}c\u{202C}d\u{202D}e\u{2066}f\u{2067}g\u{2068}h\u{2069}i\u{061C}j\u{200E}k\u{200F}l"),
            "abcdefghijkl"
        );
        assert_plain("abc\u{202E}def", "abcdef");
    }

    #[test]
    fn control_characters_are_stripped() {
        assert_eq!(
            strip_unsafe_chars("a\u{0}b\u{7}c\u{1b}[31md\u{7f}e\u{85}f\u{9f}g"),
            "abc[31mdefg"
        );
        assert_eq!(strip_unsafe_chars("a\tb\nc\r\nd\re"), "a\tb\nc\nd\ne");
    }

    #[test]
    fn zero_width_joiner_is_kept() {
        let family = "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}";
        assert_eq!(strip_unsafe_chars(family), family);
        assert_plain(family, family);
    }

    #[test]
    fn raw_html_is_text() {
        for body in [
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "<a href=\"javascript:alert(1)\">x</a>",
            "&lt;b&gt; &amp;",
        ] {
            assert_plain(body, body);
        }
    }

    // The allow-list.

    #[test]
    fn safe_href_allows_http_https_mailto() {
        assert_eq!(safe_href("https://a.io"), Some("https://a.io".to_owned()));
        assert_eq!(
            safe_href("  http://a.io/x  "),
            Some("http://a.io/x".to_owned())
        );
        assert_eq!(safe_href("HtTpS://a.io"), Some("HtTpS://a.io".to_owned()));
        assert_eq!(safe_href("mailto:a@b.io"), Some("mailto:a@b.io".to_owned()));
        assert_eq!(
            safe_href("https://user@a.io:8443/p"),
            Some("https://user@a.io:8443/p".to_owned())
        );
    }

    #[test]
    fn safe_href_rejects_everything_else() {
        for url in [
            "",
            "   ",
            "javascript:alert(1)",
            "JAVASCRIPT:alert(1)",
            "java\tscript:alert(1)",
            "java\nscript:alert(1)",
            "\u{1}javascript:alert(1)",
            "data:text/html,<script>",
            "vbscript:x",
            "file:///etc/passwd",
            "ftp://a.io",
            "/relative",
            "relative/path",
            "a.io",
            "//a.io",
            "https:",
            "https://",
            "https:///x",
            "https://@/x",
            "https:a.io",
            "mailto:",
            "https://a.io/a b",
            "https://a.io/\u{202E}x",
            ":nothing",
            "1http://a.io",
        ] {
            assert_eq!(safe_href(url), None, "url: {url:?}");
        }
    }

    // Robustness.

    #[test]
    fn pathological_inputs_complete() {
        let bodies = [
            "*".repeat(4000),
            "_".repeat(4000),
            "[".repeat(4000),
            "]".repeat(4000),
            "`".repeat(4000),
            "(".repeat(4000),
            "\\".repeat(4000),
            "<".repeat(4000),
            "[](".repeat(1334),
            "](".repeat(2000),
            "[a](".repeat(1000),
            "*a".repeat(2000),
            "**a".repeat(1334),
            "*a _b ".repeat(667),
            "a_".repeat(2000),
            "` ``".repeat(1000),
            "`a".repeat(2000),
            "https://".repeat(500),
            "(https:///".repeat(400),
            "[https://a.io ".repeat(300),
            "```\n".repeat(1000),
            "\n".repeat(4000),
            "x".repeat(100_000),
            format!("{}{}", "[".repeat(2000), "](https://a.io)".repeat(2000)),
            format!("{}x{}", "*".repeat(2000), "*".repeat(2000)),
            format!("https://a.io/{}", ")".repeat(4000)),
        ];
        for body in &bodies {
            let blocks = parse(body);
            for block in &blocks {
                if let Block::Paragraph(nodes) = block {
                    assert!(emphasis_depth(nodes) <= MAX_EMPHASIS_DEPTH);
                    assert!(no_adjacent_texts(nodes));
                }
            }
        }
        assert_eq!(inlines(&"*".repeat(4000)), vec![text(&"*".repeat(4000))]);
        assert_eq!(inlines(&"[".repeat(4000)), vec![text(&"[".repeat(4000))]);
        // A line of backticks alone opens an (empty, unclosed) code block.
        assert_eq!(parse(&"`".repeat(4000)), vec![code_block("")]);
        let ticks = format!("a{}", "`".repeat(4000));
        assert_eq!(inlines(&ticks), vec![text(&ticks)]);
    }

    #[test]
    fn texts_are_merged() {
        let nodes = inlines(r"a\*b [c] \[d ``e ](f ** g");
        assert_eq!(nodes, vec![text(r"a*b [c] [d ``e ](f ** g")]);
        assert!(!has_link(&nodes));
    }
}
