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
    Inline::Link { href: href.to_owned(), children }
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
    nodes.windows(2).all(|w| !matches!(w, [Inline::Text(_), Inline::Text(_)]))
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
        vec![para(vec![text("one")]), para(vec![text("two")]), para(vec![text("three")])]
    );
}

#[test]
fn leading_and_trailing_blank_lines_are_dropped() {
    assert_eq!(parse("\n\n  \nhi\n\n\n"), vec![para(vec![text("hi")])]);
}

#[test]
fn single_newline_is_a_line_break() {
    assert_eq!(inlines("one\ntwo"), vec![text("one"), Inline::LineBreak, text("two")]);
    assert_eq!(
        inlines("one\r\ntwo\rthree"),
        vec![text("one"), Inline::LineBreak, text("two"), Inline::LineBreak, text("three"),]
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
    assert_eq!(parse("```rust\nfn main() {}\n```"), vec![code_block("fn main() {}")]);
    assert_eq!(parse("``` js extra\nx\n```"), vec![code_block("x")]);
}

#[test]
fn unclosed_code_block_runs_to_the_end() {
    assert_eq!(parse("```\nline 1\n\nline 2\n\n"), vec![code_block("line 1\n\nline 2")]);
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
        vec![para(vec![text("before")]), code_block("code"), para(vec![text("after "), em(vec![text("x")])]),]
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
    assert_eq!(inlines("x *a b* y"), vec![text("x "), em(vec![text("a b")]), text(" y")]);
}

#[test]
fn nested_emphasis() {
    assert_eq!(inlines("**a *b* c**"), vec![strong(vec![text("a "), em(vec![text("b")]), text(" c")])]);
    assert_eq!(inlines("_a **b** c_"), vec![em(vec![text("a "), strong(vec![text("b")]), text(" c")])]);
    assert_eq!(inlines("***a***"), vec![em(vec![strong(vec![text("a")])])]);
}

#[test]
fn emphasis_with_code_inside() {
    assert_eq!(inlines("*use `x`*"), vec![em(vec![text("use "), code("x")])]);
}

#[test]
fn emphasis_across_a_line_break() {
    assert_eq!(inlines("*a\nb*"), vec![em(vec![text("a"), Inline::LineBreak, text("b")])]);
}

#[test]
fn underscores_inside_words_are_text() {
    assert_plain("snake_case_name", "snake_case_name");
    assert_plain("a snake_case_name and another_one", "a snake_case_name and another_one");
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
    assert_eq!(inlines("a*b*c"), vec![text("a"), em(vec![text("b")]), text("c")]);
}

#[test]
fn emphasis_depth_is_capped() {
    let deep = format!("{}x{}", "*a ".repeat(20), " b*".repeat(20));
    let nodes = inlines(&deep);
    assert_eq!(emphasis_depth(&nodes), MAX_EMPHASIS_DEPTH);
    for k in 1..30 {
        let body = format!("{}x{}", "*".repeat(k), "*".repeat(k));
        assert!(emphasis_depth(&inlines(&body)) <= MAX_EMPHASIS_DEPTH, "{body}");
        let body = format!("{}x{}", "_a *b ".repeat(k), " c* d_".repeat(k));
        assert!(emphasis_depth(&inlines(&body)) <= MAX_EMPHASIS_DEPTH, "{body}");
        let body =
            format!("{}[{}x{}](https://a.io){}", "*a ".repeat(k), "_b ".repeat(k), " c_".repeat(k), " d*".repeat(k));
        assert!(emphasis_depth(&inlines(&body)) <= MAX_EMPHASIS_DEPTH, "{body}");
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
        vec![text("see "), link("https://example.com/a?b=c#d", vec![text("the docs")]), text(" now"),]
    );
    assert_eq!(inlines("[x](http://a.io)"), vec![link("http://a.io", vec![text("x")])]);
    assert_eq!(inlines("[mail me](mailto:me@example.com)"), vec![link("mailto:me@example.com", vec![text("mail me")])]);
    assert_eq!(inlines("[x](HTTPS://A.IO)"), vec![link("HTTPS://A.IO", vec![text("x")])]);
}

#[test]
fn link_href_is_trimmed() {
    assert_eq!(inlines("[x](  https://a.io \t)"), vec![link("https://a.io", vec![text("x")])]);
}

#[test]
fn link_text_may_hold_emphasis_and_code() {
    assert_eq!(
        inlines("[**bold** and `code`](https://a.io)"),
        vec![link("https://a.io", vec![strong(vec![text("bold")]), text(" and "), code("code")])]
    );
}

#[test]
fn link_with_parentheses_in_url() {
    assert_eq!(
        inlines("[Rust](https://en.wikipedia.org/wiki/Rust_(language))."),
        vec![link("https://en.wikipedia.org/wiki/Rust_(language)", vec![text("Rust")]), text("."),]
    );
}

#[test]
fn empty_link_text_shows_the_href() {
    assert_eq!(inlines("[](https://a.io)"), vec![link("https://a.io", vec![text("https://a.io")])]);
    assert_eq!(inlines("[ ](https://a.io)"), vec![link("https://a.io", vec![text("https://a.io")])]);
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
    assert_eq!(inlines("[see https://b.io](https://c.io)"), vec![link("https://c.io", vec![text("see https://b.io")])]);
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
        vec![text("[x](java"), Inline::LineBreak, text("script:alert(1))")]
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
            link("https://example.com/a_b_c?q=1", vec![text("https://example.com/a_b_c?q=1")]),
            text(" now"),
        ]
    );
    assert_eq!(inlines("http://a.io"), vec![link("http://a.io", vec![text("http://a.io")])]);
    assert_eq!(
        inlines("mail mailto:me@example.com"),
        vec![text("mail "), link("mailto:me@example.com", vec![text("mailto:me@example.com")])]
    );
    assert_eq!(inlines("HTTPS://A.IO"), vec![link("HTTPS://A.IO", vec![text("HTTPS://A.IO")])]);
}

#[test]
fn autolink_trailing_punctuation_is_not_part_of_the_url() {
    for tail in [".", ",", ";", ":", "!", "?", ")", "...", "?!", ")."] {
        let body = format!("https://a.io/x{tail}");
        assert_eq!(
            inlines(&body),
            vec![link("https://a.io/x", vec![text("https://a.io/x")]), text(tail)],
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
    assert_eq!(inlines("**https://a.io**"), vec![strong(vec![link("https://a.io", vec![text("https://a.io")])])]);
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
        strip_unsafe_chars(
            "a\u{202A}b\u{202B}c\u{202C}d\u{202D}e\u{2066}f\u{2067}g\u{2068}h\u{2069}i\u{061C}j\u{200E}k\u{200F}l"
        ),
        "abcdefghijkl"
    );
    assert_plain("abc\u{202E}def", "abcdef");
}

#[test]
fn control_characters_are_stripped() {
    assert_eq!(strip_unsafe_chars("a\u{0}b\u{7}c\u{1b}[31md\u{7f}e\u{85}f\u{9f}g"), "abc[31mdefg");
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
    assert_eq!(safe_href("  http://a.io/x  "), Some("http://a.io/x".to_owned()));
    assert_eq!(safe_href("HtTpS://a.io"), Some("HtTpS://a.io".to_owned()));
    assert_eq!(safe_href("mailto:a@b.io"), Some("mailto:a@b.io".to_owned()));
    assert_eq!(safe_href("https://user@a.io:8443/p"), Some("https://user@a.io:8443/p".to_owned()));
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
