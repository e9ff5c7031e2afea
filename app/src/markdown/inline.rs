//! Running text: code spans, escapes, links and autolinks first, then emphasis
//! markers paired by CommonMark's delimiter rules.

use super::*;

pub(super) fn parse_inlines(text: &str) -> Vec<Inline> {
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
                    self.openers.push(Opener { tok: self.toks.len(), pos: i });
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
                let content: String =
                    self.chars[start..close].iter().map(|&c| if c == '\n' { ' ' } else { c }).collect();
                self.flush();
                self.toks.push(Tok::Code(strip_one_space(content)));
                close + len
            }
            None => {
                self.text.extend(std::iter::repeat_n('`', len));
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
        let (ws_before, ws_after) = (before.is_none_or(char::is_whitespace), after.is_none_or(char::is_whitespace));
        let (p_before, p_after) = (before.is_some_and(is_punctuation), after.is_some_and(is_punctuation));
        let left = !ws_after && (!p_after || ws_before || p_before);
        let right = !ws_before && (!p_before || ws_after || p_after);
        let (open, close) = if ch == '*' {
            (left, right)
        } else {
            // `_` inside a word (snake_case) neither opens nor closes.
            (left && (!right || p_before), right && (!left || p_after))
        };
        self.flush();
        self.toks.push(Tok::Delim { ch, len, open, close });
        i + len
    }

    fn close_bracket(&mut self, i: usize) -> usize {
        let Some(opener) = self.openers.pop() else {
            self.text.push(']');
            return i + 1;
        };
        let active = self.openers.len() >= self.active_from;
        self.active_from = self.active_from.min(self.openers.len());
        let target = if active { self.link_target(i + 1) } else { None };
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
        for (j, &c) in self.chars.iter().enumerate().skip(open + 1).take(MAX_LINK_DEST_CHARS) {
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
        if i.checked_sub(1).and_then(|p| self.chars.get(p)).is_some_and(|c| c.is_alphanumeric()) {
            return None;
        }
        if !["http://", "https://", "mailto:"].iter().any(|p| self.starts_with_ignore_case(i, p)) {
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
        self.toks.push(Tok::Link { href, children: vec![Tok::Text(url)] });
        Some(end)
    }

    fn starts_with_ignore_case(&self, i: usize, prefix: &str) -> bool {
        prefix.chars().enumerate().all(|(k, p)| self.chars.get(i + k).is_some_and(|c| c.to_ascii_lowercase() == p))
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
    let mut r = Resolver { root: Vec::new(), frames: Vec::new(), budget };
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
            Tok::Delim { ch, len, open, close } => r.delimiter_run(ch, len, open, close),
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
            self.push(Inline::Text(std::iter::repeat_n(frame.ch, frame.count).collect()));
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
                        || !(f.orig + len).is_multiple_of(3)
                        || (f.orig % 3 == 0 && len.is_multiple_of(3)))
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
            let node = if used == 2 { Inline::Strong(children) } else { Inline::Emphasis(children) };
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
            self.frames.push(Frame { ch, count: left, orig: len, both, children: Vec::new() });
        } else {
            self.push(Inline::Text(std::iter::repeat_n(ch, left).collect()));
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
