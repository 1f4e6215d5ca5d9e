//! How much memory a run will need, known before it starts, so a 2048-pixel request that cannot
//! fit is refused with numbers instead of being killed by the OS halfway through.
//!
//! The model, per multi-scale stage (the peak is the largest stage's, since the previous stage is
//! freed before the next is built):
//! * activations kept for the backward pass: every conv(+ReLU) output and pool output up to the
//!   deepest tapped layer (`4·C·h·w` bytes each), plus the backward pass's transients (the
//!   gradient flowing down, the gradient it produces, the Gram backward's `C×hw` products):
//!   about three times the largest layer. Both are scaled by [`ACTIVATION_FACTOR`], fitted to
//!   measured peaks (allocator slack, the preprocessing copies, candle's temporaries);
//! * the optimizer: L-BFGS keeps `2·min(history, stage iterations)` image-sized vectors (history
//!   grows one pair per iteration) plus about six working vectors (x, gradient, direction, the
//!   line search's trial point and gradient); Adam keeps five;
//! * the targets: a `C×C` Gram per style layer, the content activations per content layer, and
//!   the style images' own forward pass while the targets are computed (no backward: two layers
//!   alive at a time);
//! * the weights: on the CPU each convolution keeps its raw weights, a flipped copy, and two
//!   Winograd F(4,3) sets (forward and input-gradient, 36/9 the raw size each): 10× the raw bytes;
//! * the CPU convolution workspace: per thread, a block of transformed input (≤ 8 MiB) and a
//!   chunk of outputs (~256 KiB);
//! * a fixed [`BASE_BYTES`] for the program itself (code, decoded images, allocator arenas).
//!
//! Calibrated against peak RSS (VmHWM) of `atelier render --iters 5` with the shared VGG16 on a
//! 2-thread CPU: 256×192 measured 754 MiB (estimate 759), 512×384 measured 1226 MiB (estimate
//! 1231); a 2048×1536 multi-scale run (256 → 2048) peaked at about 9.8 GiB (estimate 10.3 GiB).

use super::arch::{Arch, LayerKind};
use super::config::TransferConfig;
use super::schedule::plan;
use crate::error::{Error, Result};
use crate::image_io::scaled_dims;
use crate::settings::OptimizerKind;
pub use crate::sysmem::{available_bytes, fits, human, parse_mem_available, parse_size, HEADROOM};

/// Measured peak over the modelled activation bytes (see the module notes).
pub const ACTIVATION_FACTOR: f64 = 1.55;
/// The program's own footprint (binary, libraries, images, allocator arenas).
pub const BASE_BYTES: u64 = 20 << 20;

/// The estimate, by part, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemoryEstimate {
    pub activations: u64,
    pub optimizer: u64,
    pub targets: u64,
    pub weights: u64,
    pub workspace: u64,
    pub base: u64,
    /// The largest stage's size, where the peak is.
    pub width: u32,
    pub height: u32,
}

impl MemoryEstimate {
    pub fn total(&self) -> u64 {
        self.activations + self.optimizer + self.targets + self.weights + self.workspace + self.base
    }
}

/// Peak bytes a run with `config` and `styles` style images needs for a final output of
/// `width`×`height`.
pub fn estimate_peak_bytes(
    config: &TransferConfig,
    styles: usize,
    width: u32,
    height: u32,
    arch: Arch,
) -> u64 {
    estimate(config, styles, width, height, arch).total()
}

/// [`estimate_peak_bytes`] by part.
pub fn estimate(
    config: &TransferConfig,
    styles: usize,
    width: u32,
    height: u32,
    arch: Arch,
) -> MemoryEstimate {
    let layers = arch.layers();
    let w = &config.weights;
    let tapped = |name: &str| {
        w.content_layers.iter().any(|l| l == name) || w.style_layers.iter().any(|l| l.layer == name)
    };
    let deepest = layers.iter().rposition(|l| tapped(&l.name)).unwrap_or(0);
    let threads = super::threads().max(1) as u64;
    let workspace = threads * ((8 << 20) + (256 << 10) + (1 << 20));
    let weights: u64 = arch
        .conv_shapes()
        .iter()
        .map(|&(_, o, i)| (o * i * 9 + o) as u64 * 4)
        .sum::<u64>()
        * 10;
    let mut best = MemoryEstimate::default();
    for stage in plan(config) {
        let (sw, sh) = if width.max(height) == stage.size || width == 0 || height == 0 {
            (width, height)
        } else {
            scaled_dims(width, height, stage.size)
        };
        let pixels = u64::from(sw) * u64::from(sh);
        let image = 3 * pixels * 4;
        // Walk the network up to the deepest tap.
        let (mut h, mut wd) = (u64::from(sh), u64::from(sw));
        let mut channels = 3u64;
        let (mut kept, mut largest, mut targets) = (0u64, 0u64, 0u64);
        for l in &layers[..=deepest] {
            match l.kind {
                LayerKind::Conv { out_channels, .. } => {
                    channels = out_channels as u64;
                    let b = 4 * channels * h * wd;
                    kept += b;
                    largest = largest.max(b);
                }
                LayerKind::Relu => {
                    if w.content_layers.contains(&l.name) {
                        targets += 4 * channels * h * wd;
                    }
                    if w.style_layers.iter().any(|s| s.layer == l.name) {
                        targets += 4 * channels * channels;
                    }
                }
                LayerKind::Pool => {
                    h = h.div_ceil(2);
                    wd = wd.div_ceil(2);
                    kept += 4 * channels * h * wd;
                }
            }
        }
        let activations = (ACTIVATION_FACTOR * (kept + 3 * largest + 4 * image) as f64) as u64;
        // The style forward pass while targets are computed (at the style's own size).
        // In f64: a wild style scale must give a huge estimate, not a wrapped small one.
        let style_side = (f64::from(stage.size) * f64::from(config.style_scale)).ceil();
        let style_pixels = pixels as f64 * (style_side / f64::from(stage.size)).powi(2);
        let style_forward = (2.0 * 64.0 * 4.0 * style_pixels) as u64 + image;
        // The optimizer's vectors hold every pyramid level: up to 4/3 of the image.
        let point = if config.pyramid_levels > 1 {
            image + image.div_ceil(3)
        } else {
            image
        };
        let optimizer = match config.optimizer {
            OptimizerKind::Lbfgs => {
                let pairs = config.lbfgs_history.min(stage.iterations as usize) as u64;
                (2 * pairs + 6) * point
            }
            OptimizerKind::Adam => 5 * point,
        };
        // Content, mask and style pixels at this stage.
        let inputs = (2 + styles.max(1) as u64) * image;
        let e = MemoryEstimate {
            activations: activations.max(style_forward),
            optimizer,
            targets: targets + inputs,
            weights,
            workspace,
            base: BASE_BYTES,
            width: sw,
            height: sh,
        };
        if e.total() > best.total() {
            best = e;
        }
    }
    best
}

/// Refuses `need` bytes for `what` when they don't fit, naming both figures and `advice`.
pub fn check_bytes(need: u64, what: &str, advice: &str, available: Option<u64>) -> Result<()> {
    match available {
        Some(avail) if !fits(need, available) => Err(Error::OutOfMemory {
            message: format!(
                "{what} needs about {} of memory but only {} is available. {advice}",
                human(need),
                human(avail)
            ),
        }),
        _ => Ok(()),
    }
}

/// Estimates a run and refuses it when it would not fit in `available` bytes (pass
/// [`available_bytes`]; `None` skips the check). The error says by how much and what to change.
pub fn check(
    config: &TransferConfig,
    styles: usize,
    width: u32,
    height: u32,
    arch: Arch,
    available: Option<u64>,
) -> Result<MemoryEstimate> {
    let e = estimate(config, styles, width, height, arch);
    let lbfgs_hint = if config.optimizer == OptimizerKind::Lbfgs {
        format!(
            ", a shorter L-BFGS history (now {}; 3 × {}×{} floats per step kept) or the Adam optimizer",
            config.lbfgs_history, e.width, e.height
        )
    } else {
        String::new()
    };
    check_bytes(
        e.total(),
        &format!("a {}×{} render", e.width, e.height),
        &format!(
            "Choose a smaller size, fewer or shallower style layers{lbfgs_hint}, or close other programs"
        ),
        available,
    )?;
    Ok(e)
}
