//! Every message body is parsed for display: whatever it holds, the parser ends,
//! never panics, and makes links only of http, https and mailto addresses.
#![no_main]

use app::markdown::{parse, Block, Inline};
use libfuzzer_sys::fuzz_target;

fn check(inlines: &[Inline]) {
    for inline in inlines {
        match inline {
            Inline::Link { href, children } => {
                let scheme = href.split(':').next().unwrap_or_default().to_ascii_lowercase();
                assert!(matches!(scheme.as_str(), "http" | "https" | "mailto"), "link to {href}");
                check(children);
            }
            Inline::Emphasis(children) | Inline::Strong(children) => check(children),
            Inline::Text(_) | Inline::Code(_) | Inline::LineBreak => {}
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(body) = std::str::from_utf8(data) else { return };
    for block in parse(body) {
        if let Block::Paragraph(inlines) = block {
            check(&inlines);
        }
    }
});
