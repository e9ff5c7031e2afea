//! An image's thumbnail, made on the server: the image's size is read from
//! its header first, and one too large is refused before a pixel is decoded
//! (a 50,000 × 50,000 PNG is a few kilobytes and would be 10 GB decoded);
//! then it is decoded within a memory limit, turned upright (its EXIF
//! orientation), scaled to fit [`BOX`] and encoded afresh: nothing of the
//! original's metadata (EXIF, GPS, comments) is in it. Runs on a blocking
//! thread; the caller holds one of a few permits, so uploads cannot take
//! every core or gigabytes at once.

use std::io::Cursor;
use std::path::Path;

use app::error::ChatError;
use app::protocol::MAX_IMAGE_PIXELS;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};

/// The box a thumbnail fits in, in pixels.
pub const BOX: (u32, u32) = (480, 360);

/// Memory an image may take while decoded.
const MAX_ALLOC: u64 = 256 * 1024 * 1024;

/// A thumbnail, encoded (PNG when the image has transparency, else JPEG).
#[derive(Debug)]
pub struct Thumbnail {
    pub bytes: Vec<u8>,
    pub width: u32,
    pub height: u32,
    /// How the original is to be turned (EXIF orientation, 1 to 8).
    pub orientation: u8,
}

/// The thumbnail of the image in the file at `path`, read as `format`.
pub fn make(path: &Path, format: ImageFormat) -> Result<Thumbnail, ChatError> {
    let bad = |error: image::ImageError| {
        tracing::debug!(%error, "an uploaded image could not be read");
        match error {
            image::ImageError::Limits(_) => ChatError::ImageTooLarge { width: 0, height: 0 },
            _ => ChatError::BadImage,
        }
    };
    let mut reader = ImageReader::open(path).map_err(|_| ChatError::BadImage)?;
    reader.set_format(format);
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(bad)?;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(ChatError::BadImage);
    }
    if u64::from(width) * u64::from(height) > MAX_IMAGE_PIXELS {
        return Err(ChatError::ImageTooLarge { width, height });
    }
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(bad)?;
    image.apply_orientation(orientation);
    let image = if image.width() > BOX.0 || image.height() > BOX.1 { image.thumbnail(BOX.0, BOX.1) } else { image };
    let mut bytes = Cursor::new(Vec::new());
    if image.color().has_alpha() {
        image.to_rgba8().write_to(&mut bytes, ImageFormat::Png).map_err(bad)?;
    } else {
        let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 82);
        image.to_rgb8().write_with_encoder(encoder).map_err(bad)?;
    }
    let orientation = orientation.to_exif();
    Ok(Thumbnail { bytes: bytes.into_inner(), width: image.width(), height: image.height(), orientation })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image = image::RgbImage::from_pixel(width, height, image::Rgb([200, 40, 40]));
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn a_thumbnail_fits_its_box_and_keeps_the_shape() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wide.png");
        std::fs::write(&path, png(1200, 600)).unwrap();
        let thumb = make(&path, ImageFormat::Png).unwrap();
        assert_eq!((thumb.width, thumb.height), (480, 240));
        assert_eq!(image::guess_format(&thumb.bytes).unwrap(), ImageFormat::Jpeg);
        // A small one keeps its size.
        std::fs::write(&path, png(40, 30)).unwrap();
        let thumb = make(&path, ImageFormat::Png).unwrap();
        assert_eq!((thumb.width, thumb.height), (40, 30));
    }

    #[test]
    fn not_an_image_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fake.png");
        std::fs::write(&path, b"\x89PNG\r\n\x1a\nthis is not the rest of a png").unwrap();
        assert_eq!(make(&path, ImageFormat::Png).unwrap_err(), ChatError::BadImage);
    }
}
