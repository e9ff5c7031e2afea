//! What an upload is, read from its first bytes (the `infer` crate's magic
//! numbers), never from its name or from what the browser said; and how it
//! may be served. Only the image types a browser shows without running
//! anything are shown in the page (inline); everything else, SVG and HTML
//! included whatever they claim, is a download.

/// The types served inline, and thumbnailed.
const INLINE: [&str; 4] = ["image/png", "image/jpeg", "image/gif", "image/webp"];

/// The type of a content that starts with `head`.
pub fn sniff(head: &[u8]) -> String {
    if let Some(kind) = infer::get(head) {
        return kind.mime_type().to_owned();
    }
    // Text in no format `infer` knows (HTML it knows as text/html).
    if !head.is_empty() && !head.contains(&0) && text_prefix(head) {
        "text/plain".to_owned()
    } else {
        "application/octet-stream".to_owned()
    }
}

/// Whether `head` is UTF-8 (but for a character cut at its end).
fn text_prefix(head: &[u8]) -> bool {
    match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(error) => error.error_len().is_none() && error.valid_up_to() + 4 > head.len(),
    }
}

/// Whether the page shows a content of this type (and the server makes a
/// thumbnail of it).
pub fn is_inline(mime: &str) -> bool {
    INLINE.contains(&mime)
}

/// The image format a thumbnail is decoded as.
pub fn image_format(mime: &str) -> Option<image::ImageFormat> {
    match mime {
        "image/png" => Some(image::ImageFormat::Png),
        "image/jpeg" => Some(image::ImageFormat::Jpeg),
        "image/gif" => Some(image::ImageFormat::Gif),
        "image/webp" => Some(image::ImageFormat::WebP),
        _ => None,
    }
}

/// The type a content is served with: what it is, but text as plain text in
/// UTF-8, and never a type a browser would run (HTML, SVG, XML, scripts), even
/// as a download.
pub fn served_type(mime: &str) -> &str {
    match mime {
        "text/plain" => "text/plain; charset=utf-8",
        m if m.starts_with("text/") || m.contains("xml") || m.contains("javascript") || m.contains("html") => {
            "application/octet-stream"
        }
        m => m,
    }
}

/// A name to show and to save as: the last part of what the client said,
/// without controls, path separators or a leading dot, at most 120 characters.
pub fn clean_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let name: String = last
        .chars()
        .filter(|c| {
            !c.is_control() && !matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        })
        .take(120)
        .collect();
    let name = name.trim().trim_start_matches('.').trim();
    if name.is_empty() {
        "file".to_owned()
    } else {
        name.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_content_decides_not_the_name() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
        assert_eq!(sniff(png), "image/png");
        assert_eq!(sniff(b"<!DOCTYPE html><html><script>alert(1)</script>"), "text/html");
        assert_eq!(sniff(b"just some notes\n"), "text/plain");
        assert_eq!(sniff(b"\0\x01\x02binary"), "application/octet-stream");
        assert_eq!(sniff(b"PK\x03\x04\x14\0\0\0\x08\0"), "application/zip");
        assert!(is_inline("image/png") && !is_inline("image/svg+xml") && !is_inline("text/html"));
        assert_eq!(served_type("text/html"), "application/octet-stream");
        assert_eq!(served_type("image/svg+xml"), "application/octet-stream");
        assert_eq!(served_type("text/plain"), "text/plain; charset=utf-8");
        assert_eq!(served_type("application/pdf"), "application/pdf");
    }

    #[test]
    fn names_are_only_names() {
        assert_eq!(clean_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_name("C:\\Users\\me\\photo.png"), "photo.png");
        assert_eq!(clean_name(".htaccess"), "htaccess");
        assert_eq!(clean_name("evil\u{202e}gnp.exe"), "evilgnp.exe");
        assert_eq!(clean_name(""), "file");
        assert_eq!(clean_name(&"a".repeat(500)).len(), 120);
    }
}
