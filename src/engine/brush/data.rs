//! Training pictures: random crops, flips and scales of the photos (for the generator) and of
//! the painting (the discriminator's "real" patches). Pictures come decoded from the caller.

use crate::error::Result;
use candle_core::{Device, Tensor};
use image::RgbImage;
use rand::Rng;

/// Photos kept at this longest side at most (a crop never needs more).
const KEEP_LONGEST: u32 = 1024;

/// A set of pictures to cut training crops from.
pub struct CropSource {
    pictures: Vec<RgbImage>,
    /// The longest side a picture is scaled to before cropping (the scale strokes are learned
    /// at), varied by ±`jitter` (a factor) per crop.
    base_longest: u32,
    jitter: f32,
}

impl CropSource {
    /// `pictures` at any size; `base_longest` is the training scale (e.g. 512: a 256 px crop
    /// covers about half a photo, as a 512 px render sees it).
    pub fn new(pictures: Vec<RgbImage>, base_longest: u32, jitter: f32) -> Result<Self> {
        if pictures.is_empty() {
            return Err(crate::Error::Input(
                "no training photos: give a folder with a few JPEG or PNG photos (--photos)".into(),
            ));
        }
        let pictures = pictures
            .into_iter()
            .map(|p| {
                if p.width().max(p.height()) > KEEP_LONGEST {
                    crate::image_io::resize_longest(&p, KEEP_LONGEST)
                } else {
                    p
                }
            })
            .collect();
        Ok(Self {
            pictures,
            base_longest: base_longest.max(16),
            jitter: jitter.clamp(0.0, 0.9),
        })
    }

    pub fn len(&self) -> usize {
        self.pictures.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pictures.is_empty()
    }

    /// A random `side`×`side` crop as `[1,3,side,side]` in 0..1: a random picture, scaled by
    /// a random factor around the base scale (never below `side` on its short side), maybe
    /// mirrored left-right.
    pub fn crop(&self, rng: &mut impl Rng, side: u32, device: &Device) -> Result<Tensor> {
        let img = &self.pictures[rng.random_range(0..self.pictures.len())];
        let (w, h) = img.dimensions();
        let factor = 1.0 + rng.random_range(-self.jitter..=self.jitter);
        let mut longest = (self.base_longest as f32 * factor).round() as u32;
        // The short side must hold the crop.
        let short_at = |l: u32| {
            let (sw, sh) = crate::image_io::scaled_dims(w, h, l);
            sw.min(sh)
        };
        while short_at(longest) < side {
            longest += longest / 8 + 1;
        }
        // Cut a window from the original that maps to `side` at the chosen scale, then resize
        // only that window (cheaper than resizing the whole photo every step).
        let scale = longest as f32 / w.max(h) as f32;
        let win = ((side as f32 / scale).round() as u32).clamp(1, w.min(h));
        let x0 = rng.random_range(0..=w - win);
        let y0 = rng.random_range(0..=h - win);
        let window = image::imageops::crop_imm(img, x0, y0, win, win).to_image();
        let mut crop = if win == side {
            window
        } else {
            image::imageops::resize(&window, side, side, image::imageops::FilterType::Triangle)
        };
        if rng.random_bool(0.5) {
            image::imageops::flip_horizontal_in_place(&mut crop);
        }
        Ok((crate::engine::pixels::to_tensor(&crop, device)? / 255.0)?)
    }
}
