//! An uploaded image's metadata removed from the original too, not only from
//! its thumbnail: a phone's photo carries where it was taken (EXIF GPS), the
//! camera's serial number, an editor's history (XMP, IPTC). A JPEG keeps its
//! segments but these (APP1 EXIF and XMP, APP13, comments), and when it was to
//! be turned (EXIF orientation) it gets a minimal EXIF block saying only
//! that, so it still shows upright; a PNG loses its text and EXIF chunks; a
//! WebP its EXIF and XMP chunks (turned, an EXIF chunk with only that).
//! Other formats (GIF) are kept as they are. Hand-written: the formats' segment
//! and chunk framing is a few lines each, and the crates that edit them
//! (img-parts) would add a dependency for exactly this.

/// The image without its metadata, or `None` when there is nothing to
/// remove (or it is not a JPEG, PNG or WebP that parses).
pub fn strip(bytes: &[u8], mime: &str, orientation: u8) -> Option<Vec<u8>> {
    match mime {
        "image/jpeg" => strip_jpeg(bytes, orientation),
        "image/png" => strip_png(bytes),
        "image/webp" => strip_webp(bytes, orientation),
        _ => None,
    }
}

fn strip_jpeg(bytes: &[u8], orientation: u8) -> Option<Vec<u8>> {
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&[0xFF, 0xD8]);
    if (2..=8).contains(&orientation) {
        out.extend_from_slice(&orientation_segment(orientation));
    }
    let mut at = 2;
    let mut removed = false;
    loop {
        // Markers may be padded with 0xFF bytes.
        while bytes.get(at) == Some(&0xFF) && bytes.get(at + 1) == Some(&0xFF) {
            at += 1;
        }
        let marker = *bytes.get(at + 1)?;
        if bytes[at] != 0xFF {
            return None;
        }
        // Start of scan: the compressed data follows, to the end.
        if marker == 0xDA {
            out.extend_from_slice(&bytes[at..]);
            break;
        }
        // Markers without a length.
        if (0xD0..=0xD9).contains(&marker) || marker == 0x01 {
            out.extend_from_slice(&bytes[at..at + 2]);
            at += 2;
            continue;
        }
        let len = u16::from_be_bytes([*bytes.get(at + 2)?, *bytes.get(at + 3)?]) as usize;
        let end = at + 2 + len;
        if len < 2 || end > bytes.len() {
            return None;
        }
        // APP1 (EXIF, XMP), APP13 (Photoshop, IPTC), COM.
        if matches!(marker, 0xE1 | 0xED | 0xFE) {
            removed = true;
        } else {
            out.extend_from_slice(&bytes[at..end]);
        }
        at = end;
    }
    (removed || (2..=8).contains(&orientation)).then_some(out)
}

/// An APP1 segment of EXIF holding one tag: the orientation.
fn orientation_segment(orientation: u8) -> Vec<u8> {
    let mut exif = b"Exif\0\0MM\0\x2a\0\0\0\x08".to_vec();
    exif.extend_from_slice(&[0, 1]); // one entry
    exif.extend_from_slice(&[0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, orientation, 0, 0]); // Orientation, SHORT, 1
    exif.extend_from_slice(&[0, 0, 0, 0]); // no next directory
    let mut segment = vec![0xFF, 0xE1];
    segment.extend_from_slice(&((exif.len() + 2) as u16).to_be_bytes());
    segment.extend_from_slice(&exif);
    segment
}

fn strip_png(bytes: &[u8]) -> Option<Vec<u8>> {
    const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    if !bytes.starts_with(SIGNATURE) {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(SIGNATURE);
    let mut at = SIGNATURE.len();
    let mut removed = false;
    while at < bytes.len() {
        let len = u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?) as usize;
        let end = at.checked_add(12)?.checked_add(len)?;
        let kind = bytes.get(at + 4..at + 8)?;
        if end > bytes.len() {
            return None;
        }
        if matches!(kind, b"tEXt" | b"zTXt" | b"iTXt" | b"eXIf" | b"tIME") {
            removed = true;
        } else {
            out.extend_from_slice(&bytes[at..end]);
        }
        at = end;
        if kind == b"IEND" {
            break;
        }
    }
    removed.then_some(out)
}

/// A WebP loses its EXIF and XMP chunks (and the extended header's flags
/// for them); turned, it keeps an EXIF chunk with only its orientation.
fn strip_webp(bytes: &[u8], orientation: u8) -> Option<Vec<u8>> {
    if bytes.len() < 12 || &bytes[..4] != b"RIFF" || &bytes[8..12] != b"WEBP" {
        return None;
    }
    let riff_end = (u32::from_le_bytes(bytes[4..8].try_into().ok()?) as usize).checked_add(8)?.min(bytes.len());
    let mut chunks: Vec<&[u8]> = Vec::new();
    let mut at = 12;
    let mut removed = false;
    let mut extended = false;
    while at + 8 <= riff_end {
        let kind = &bytes[at..at + 4];
        let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().ok()?) as usize;
        // Chunks are padded to an even length.
        let end = at.checked_add(8)?.checked_add(len)?.checked_add(len % 2)?;
        if end > riff_end {
            return None;
        }
        extended |= kind == b"VP8X";
        if matches!(kind, b"EXIF" | b"XMP ") {
            removed = true;
        } else {
            chunks.push(&bytes[at..end]);
        }
        at = end;
    }
    // Only the extended format can say how it is turned.
    let turned = extended && (2..=8).contains(&orientation);
    if !removed && !turned {
        return None;
    }
    let mut body = b"WEBP".to_vec();
    for chunk in chunks {
        if &chunk[..4] == b"VP8X" && chunk.len() >= 9 {
            body.extend_from_slice(&chunk[..8]);
            // Flags: EXIF (0x08) only when an orientation follows, no XMP (0x04).
            let flags = (chunk[8] & !0x0C) | if turned { 0x08 } else { 0 };
            body.push(flags);
            body.extend_from_slice(&chunk[9..]);
        } else {
            body.extend_from_slice(chunk);
        }
    }
    if turned {
        // The EXIF chunk holds the TIFF data itself, without JPEG's "Exif\0\0".
        let exif = &orientation_segment(orientation)[10..];
        body.extend_from_slice(b"EXIF");
        body.extend_from_slice(&(exif.len() as u32).to_le_bytes());
        body.extend_from_slice(exif);
        if exif.len() % 2 == 1 {
            body.push(0);
        }
    }
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&u32::try_from(body.len()).ok()?.to_le_bytes());
    out.extend_from_slice(&body);
    Some(out)
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use image::ImageDecoder;

    use super::*;

    fn jpeg() -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        image::RgbImage::from_pixel(8, 4, image::Rgb([9, 99, 199]))
            .write_to(&mut out, image::ImageFormat::Jpeg)
            .unwrap();
        out.into_inner()
    }

    /// `jpeg` with an APP1 segment after its start: EXIF saying `secret`.
    fn with_app1(jpeg: &[u8], payload: &[u8]) -> Vec<u8> {
        let mut out = jpeg[..2].to_vec();
        out.extend_from_slice(&[0xFF, 0xE1]);
        out.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
        out.extend_from_slice(payload);
        out.extend_from_slice(&jpeg[2..]);
        out
    }

    fn orientation_of(bytes: &[u8]) -> u8 {
        let mut decoder = image::codecs::jpeg::JpegDecoder::new(Cursor::new(bytes)).unwrap();
        decoder.orientation().unwrap().to_exif()
    }

    #[test]
    fn a_jpeg_loses_its_metadata_and_keeps_its_turn() {
        let tagged = with_app1(&jpeg(), b"Exif\0\0MM\0*\0\0\0\x08\0\0GPS 48.8584N secret");
        let plain = strip(&tagged, "image/jpeg", 1).expect("something to remove");
        assert!(!plain.windows(6).any(|w| w == b"secret"));
        assert_eq!(image::load_from_memory(&plain).unwrap().width(), 8);
        // Turned: it says only that.
        let turned = strip(&tagged, "image/jpeg", 6).unwrap();
        assert!(!turned.windows(6).any(|w| w == b"secret"));
        assert_eq!(orientation_of(&turned), 6);
        assert_eq!(image::load_from_memory(&turned).unwrap().width(), 8);
        // Nothing to remove: kept as it is.
        assert_eq!(strip(&jpeg(), "image/jpeg", 1), None);
        assert_eq!(strip(b"not a jpeg", "image/jpeg", 1), None);
    }

    #[test]
    fn a_png_loses_its_text() {
        let mut out = Cursor::new(Vec::new());
        image::RgbImage::from_pixel(4, 4, image::Rgb([1, 2, 3])).write_to(&mut out, image::ImageFormat::Png).unwrap();
        let png = out.into_inner();
        // A tEXt chunk after the header (its CRC is not checked by decoders we use; kept valid anyway).
        let text = b"tEXtComment\0taken at home";
        let mut chunk = ((text.len() - 4) as u32).to_be_bytes().to_vec();
        chunk.extend_from_slice(text);
        chunk.extend_from_slice(&crc(text).to_be_bytes());
        let mut tagged = png[..33].to_vec();
        tagged.extend_from_slice(&chunk);
        tagged.extend_from_slice(&png[33..]);
        let plain = strip(&tagged, "image/png", 1).expect("something to remove");
        assert_eq!(plain, png);
        assert_eq!(strip(&png, "image/png", 1), None);
    }

    #[test]
    fn a_webp_loses_its_exif_and_xmp_and_keeps_its_turn() {
        let mut out = Cursor::new(Vec::new());
        image::RgbImage::from_pixel(6, 3, image::Rgb([5, 50, 150]))
            .write_to(&mut out, image::ImageFormat::WebP)
            .unwrap();
        let simple = out.into_inner();
        let chunk = |kind: &[u8], payload: &[u8]| {
            let mut chunk = kind.to_vec();
            chunk.extend_from_slice(&(payload.len() as u32).to_le_bytes());
            chunk.extend_from_slice(payload);
            if payload.len() % 2 == 1 {
                chunk.push(0);
            }
            chunk
        };
        // The extended format: flags for EXIF and XMP, a 6 x 3 canvas, the
        // image, then an EXIF chunk with a place in it and XMP.
        let mut body = b"WEBP".to_vec();
        body.extend_from_slice(&chunk(b"VP8X", &[0x0C, 0, 0, 0, 5, 0, 0, 2, 0, 0]));
        body.extend_from_slice(&simple[12..]);
        body.extend_from_slice(&chunk(b"EXIF", b"MM\0*\0\0\0\x08\0\0GPS 48.8584N secret"));
        body.extend_from_slice(&chunk(b"XMP ", b"<x:xmpmeta>secret</x:xmpmeta>"));
        let mut tagged = b"RIFF".to_vec();
        tagged.extend_from_slice(&(body.len() as u32).to_le_bytes());
        tagged.extend_from_slice(&body);
        assert_eq!(image::load_from_memory(&tagged).unwrap().width(), 6, "the test's file is a WebP");

        let plain = strip(&tagged, "image/webp", 1).expect("something to remove");
        assert!(!plain.windows(6).any(|w| w == b"secret"));
        assert_eq!(image::load_from_memory(&plain).unwrap().width(), 6);
        let turned = strip(&tagged, "image/webp", 6).unwrap();
        assert!(!turned.windows(6).any(|w| w == b"secret"));
        let mut decoder = image::codecs::webp::WebPDecoder::new(Cursor::new(&turned)).unwrap();
        assert_eq!(decoder.orientation().unwrap().to_exif(), 6);
        assert_eq!(image::load_from_memory(&turned).unwrap().height(), 3);
        // Nothing to remove: kept as it is.
        assert_eq!(strip(&simple, "image/webp", 1), None);
        assert_eq!(strip(b"RIFF\0\0\0\0WAVE", "image/webp", 1), None);
    }

    fn crc(bytes: &[u8]) -> u32 {
        let mut crc = flate2::Crc::new();
        crc.update(bytes);
        crc.sum()
    }
}
