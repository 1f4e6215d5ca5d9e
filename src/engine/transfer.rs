//! One style transfer run, advanced one optimizer iteration at a time, so that whoever drives it
//! (the CLI loop, the studio's worker) can report progress, pause, steer or stop between iterations.

use super::adam::{Adam, AdamConfig};
use super::config::TransferConfig;
use super::instant::Arbitrary;
use super::lbfgs::{Lbfgs, LbfgsConfig, Stall};
use super::loss::{LossBreakdown, Targets};
use super::pixels;
use super::pyramid::Pyramid;
use super::vgg::Vgg;
use crate::error::{Error, Result};
use crate::image_io::resize_longest;
use crate::settings::{ColourMode, InitKind, LossWeights, OptimizerKind};
use candle_core::{DType, Tensor, Var};
use image::{GrayImage, RgbImage};
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};
use std::sync::Arc;

/// What one iteration did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepReport {
    /// Iterations done so far (1 after the first).
    pub iteration: u32,
    /// Loss+gradient evaluations so far, line searches included.
    pub evaluations: u32,
    /// Losses at the image after this iteration (L-BFGS) or at the image it stepped from (Adam).
    pub losses: LossBreakdown,
    /// The optimizer found nothing more to do.
    pub converged: bool,
}

/// What a stage of a multi-scale run (or a masked run) adds to [`Transfer::new`].
#[derive(Clone, Default)]
pub struct TransferOptions<'a> {
    /// Starting pixels `[1,3,H,W]` at this run's size (the previous stage, upsampled); replaces
    /// `config.init`.
    pub init: Option<Tensor>,
    /// Where the style may change the image (white) and where the content stays (black); any
    /// size, resized to the run's.
    pub mask: Option<&'a GrayImage>,
    /// L-BFGS's first step scale (see [`Lbfgs::with_initial_scale`]): the previous stage's
    /// curvature scale, rescaled to this stage's pixel count.
    pub lbfgs_scale: Option<f64>,
    /// The arbitrary-style network that paints the start of an `init = instant` run (the
    /// engine loads no files: whoever owns the assets passes it in).
    pub instant: Option<&'a Arbitrary>,
}

/// A mask as the optimization sees it: the image is parameterized as `m·x + (1−m)·c`, so the
/// losses see the composite and the gradient outside the mask is exactly zero.
struct Mask {
    /// `[1,1,H,W]` in 0..1.
    m: Tensor,
    /// `(1−m)·c`, `[1,3,H,W]`.
    keep: Tensor,
}

impl Mask {
    fn new(mask: &GrayImage, content: &Tensor, w: u32, h: u32) -> Result<Self> {
        let r = image::imageops::resize(mask, w, h, image::imageops::FilterType::Triangle);
        let v: Vec<f32> = r.as_raw().iter().map(|&p| f32::from(p) / 255.0).collect();
        let m = Tensor::from_vec(v, (1, 1, h as usize, w as usize), &candle_core::Device::Cpu)?
            .to_device(content.device())?;
        let keep = content.broadcast_mul(&(1.0 - &m)?)?;
        Ok(Self { m, keep })
    }

    fn apply(&self, x: &Tensor) -> Result<Tensor> {
        Ok((x.broadcast_mul(&self.m)? + &self.keep)?)
    }
}

enum Optimizer {
    Lbfgs(Lbfgs),
    Adam { adam: Adam, x: Tensor },
}

pub struct Transfer {
    vgg: Arc<Vgg>,
    weights: LossWeights,
    targets: Targets,
    /// `[1,3,H,W]`; the optimizers work on the flattened image.
    shape: (usize, usize, usize, usize),
    optimizer: Optimizer,
    iteration: u32,
    evaluations: u32,
    last_losses: Option<LossBreakdown>,
    /// The newest image whose loss was finite: what survives a NaN. With a mask, this is the
    /// free variable `x`, not yet composited.
    last_good: Tensor,
    mask: Option<Mask>,
    /// The content at the run's size, when the result takes its chroma (luminance-only mode).
    chroma_from: Option<RgbImage>,
    /// When set, the optimizer moves pyramid levels, not pixels (see [`Pyramid`]).
    pyramid: Option<Pyramid>,
}

/// The style images as the targets see them: zero-weight ones left out, each resized to
/// `size × style_scale` on its longest side, and recoloured to `content` (the content at the
/// run's size) in histogram mode.
pub fn prepare_styles(
    config: &TransferConfig,
    content: &RgbImage,
    styles: &[(&RgbImage, f32)],
) -> Vec<(RgbImage, f32)> {
    let style_size =
        ((f64::from(config.size) * f64::from(config.style_scale)).ceil() as u32).clamp(16, 8192);
    styles
        .iter()
        .filter(|(_, w)| *w != 0.0)
        .map(|(img, w)| {
            let s = resize_longest(img, style_size);
            let s = if config.colour == ColourMode::Histogram {
                super::colour::match_colours(&s, content)
            } else {
                s
            };
            (s, *w)
        })
        .collect()
}

/// The content image at the run's size: longest side `size`, the other floored.
pub fn prepare_content(content: &RgbImage, size: u32) -> RgbImage {
    resize_longest(content, size)
}

impl Transfer {
    /// Sets up a run: resizes the images, computes the targets, places the starting image.
    /// `styles` pairs each style image with its blend weight. The config is trusted: it was
    /// checked where the settings entered.
    pub fn new(
        vgg: Arc<Vgg>,
        config: &TransferConfig,
        content: &RgbImage,
        styles: &[(&RgbImage, f32)],
    ) -> Result<Self> {
        Self::with_options(vgg, config, content, styles, TransferOptions::default())
    }

    /// [`Transfer::new`] with a starting image and/or a mask. Styles with a zero blend weight are
    /// left out (they would not change the targets); `config.colour` is honoured here: histogram
    /// mode recolours each style to the content before its targets are computed, luminance mode
    /// makes [`Transfer::image`] keep the content's chroma.
    pub fn with_options(
        vgg: Arc<Vgg>,
        config: &TransferConfig,
        content: &RgbImage,
        styles: &[(&RgbImage, f32)],
        options: TransferOptions<'_>,
    ) -> Result<Self> {
        vgg.check_layers(&config.weights)?;
        let device = vgg.device().clone();
        let content = prepare_content(content, config.size);
        let (w, h) = content.dimensions();
        let content_px = pixels::to_tensor(&content, &device)?;
        let prepared = prepare_styles(config, &content, styles);
        let mut style_px = Vec::with_capacity(prepared.len());
        for (img, weight) in &prepared {
            style_px.push((pixels::to_tensor(img, &device)?, f64::from(*weight)));
        }
        let first_style = prepared.into_iter().next().map(|(img, _)| img);
        let x0 = match (options.init, config.init) {
            (Some(t), _) => {
                if t.dims() != [1, 3, h as usize, w as usize] {
                    return Err(Error::Settings(format!(
                        "the starting image is {:?}, the run is {w}×{h}",
                        t.dims()
                    )));
                }
                t.to_device(&device)?
            }
            (None, InitKind::Content) => content_px.clone(),
            (None, InitKind::Style) => {
                let first = first_style
                    .as_ref()
                    .ok_or_else(|| Error::Settings("init from style needs a style image".into()))?;
                let s = image::imageops::resize(first, w, h, image::imageops::FilterType::Triangle);
                pixels::to_tensor(&s, &device)?
            }
            (None, InitKind::Noise) => noise(config.seed, h as usize, w as usize, &device)?,
            (None, InitKind::Instant) => {
                let first = styles.first().ok_or_else(|| {
                    Error::Settings("init from instant needs a style image".into())
                })?;
                let net = options.instant.ok_or_else(|| {
                    Error::Settings(
                        "init from instant needs the instant network; it ships in assets/instant: reinstall Atelier or choose another start".into(),
                    )
                })?;
                let s = super::instant::init_image(&content, first.0, net)?;
                pixels::to_tensor(&s, &device)?
            }
        };
        let mask = match options.mask {
            Some(m) => Some(Mask::new(m, &content_px, w, h)?),
            None => None,
        };
        let chroma_from = (config.colour == ColourMode::Luminance).then(|| content.clone());
        let mut targets = Targets::new(content_px, style_px)?.with_pooling(config.pooling);
        if let Some(m) = options.mask {
            targets.set_style_mask(m, w, h, &device)?;
        }
        targets.ensure(&vgg, &config.weights)?;
        let pyramid = (config.pyramid_levels > 1)
            .then(|| Pyramid::new(h as usize, w as usize, config.pyramid_levels as usize));
        let flat = match &pyramid {
            Some(p) => p.encode(&x0)?,
            None => x0.flatten_all()?,
        };
        let optimizer = match config.optimizer {
            OptimizerKind::Lbfgs => {
                let opt = Lbfgs::new(
                    flat,
                    LbfgsConfig {
                        history: config.lbfgs_history,
                        ..LbfgsConfig::default()
                    },
                );
                Optimizer::Lbfgs(match options.lbfgs_scale {
                    Some(h) => opt.with_initial_scale(h),
                    None => opt,
                })
            }
            OptimizerKind::Adam => Optimizer::Adam {
                adam: Adam::new(AdamConfig::new(f64::from(config.learning_rate))),
                x: flat,
            },
        };
        Ok(Self {
            vgg,
            weights: config.weights.clone(),
            targets,
            shape: (1, 3, h as usize, w as usize),
            optimizer,
            iteration: 0,
            evaluations: 0,
            last_losses: None,
            last_good: x0,
            mask,
            chroma_from,
            pyramid,
        })
    }

    pub fn width(&self) -> u32 {
        self.shape.3 as u32
    }

    pub fn height(&self) -> u32 {
        self.shape.2 as u32
    }

    pub fn iteration(&self) -> u32 {
        self.iteration
    }

    pub fn evaluations(&self) -> u32 {
        self.evaluations
    }

    pub fn weights(&self) -> &LossWeights {
        &self.weights
    }

    /// L-BFGS's inverse-curvature scale per pixel value, once measured (`None` for Adam).
    pub fn curvature_scale(&self) -> Option<f64> {
        match &self.optimizer {
            Optimizer::Lbfgs(l) => l.curvature_scale(),
            Optimizer::Adam { .. } => None,
        }
    }

    /// Changes the objective from the next iteration on. L-BFGS forgets its curvature history,
    /// which described the old objective.
    pub fn set_weights(&mut self, weights: LossWeights) -> Result<()> {
        self.vgg.check_layers(&weights)?;
        self.targets.ensure(&self.vgg, &weights)?;
        self.weights = weights;
        self.last_losses = None;
        if let Optimizer::Lbfgs(l) = &mut self.optimizer {
            l.reset();
        }
        Ok(())
    }

    /// Loss and gradient at a flat image. A non-finite loss reads as +∞ so the line search
    /// backs off instead of stepping into it.
    fn evaluate(
        vgg: &Vgg,
        targets: &Targets,
        weights: &LossWeights,
        shape: (usize, usize, usize, usize),
        mask: Option<&Mask>,
        pyramid: Option<&Pyramid>,
        flat: &Tensor,
    ) -> Result<(LossBreakdown, Tensor)> {
        let var = Var::from_tensor(flat)?;
        let x = to_pixels(pyramid, shape, var.as_tensor())?;
        let seen = match mask {
            Some(m) => m.apply(&x)?,
            None => x,
        };
        let terms = targets.losses(vgg, &seen, weights)?;
        let total = terms.total()?;
        let grads = total.backward()?;
        let breakdown = terms.breakdown()?;
        let grad = match grads.get(var.as_tensor()) {
            Some(g) => g.clone(),
            None => flat.zeros_like()?,
        };
        Ok((breakdown, grad))
    }

    /// Runs one optimizer iteration.
    pub fn step(&mut self) -> Result<StepReport> {
        let (vgg, targets, weights, shape) = (&*self.vgg, &self.targets, &self.weights, self.shape);
        let mask = self.mask.as_ref();
        let pyramid = self.pyramid.as_ref();
        let mut last: Option<LossBreakdown> = None;
        let mut evals = 0u32;
        let mut failure: Option<Error> = None;
        let mut objective = |x: &Tensor| -> candle_core::Result<(f64, Tensor)> {
            evals += 1;
            match Self::evaluate(vgg, targets, weights, shape, mask, pyramid, x) {
                Ok((b, g)) => {
                    last = Some(b);
                    if b.is_finite() {
                        Ok((b.total, g))
                    } else {
                        Ok((f64::INFINITY, g.zeros_like()?))
                    }
                }
                Err(e) => {
                    let msg = e.to_string();
                    failure = Some(e);
                    Err(candle_core::Error::Msg(msg))
                }
            }
        };
        let (losses, converged, image) = match &mut self.optimizer {
            Optimizer::Lbfgs(opt) => {
                let outcome = opt.iterate(&mut objective);
                let outcome = match (outcome, failure.take()) {
                    (_, Some(e)) => return Err(e),
                    (r, None) => r?,
                };
                let converged = matches!(outcome, Err(Stall::Converged));
                let loss = opt.loss().unwrap_or(f64::NAN);
                // The line search's accepted point is the one whose breakdown we need.
                let b = if last.map(|b| b.total) == Some(loss) {
                    last
                } else {
                    None
                };
                let b = match b {
                    Some(b) => b,
                    None => {
                        let x = to_pixels(pyramid, shape, opt.x())?;
                        let seen = match mask {
                            Some(m) => m.apply(&x)?,
                            None => x,
                        };
                        self_losses(vgg, targets, weights, &seen)?
                    }
                };
                (b, converged, to_pixels(pyramid, shape, opt.x())?)
            }
            Optimizer::Adam { adam, x } => {
                let r = objective(x);
                if let Some(e) = failure.take() {
                    return Err(e);
                }
                let (loss, grad) = r?;
                let b = last.unwrap_or_default();
                if !loss.is_finite() {
                    self.evaluations += evals;
                    return Err(Error::NotFinite {
                        iteration: self.iteration + 1,
                    });
                }
                let nx = adam.step(x, &grad)?;
                *x = nx;
                (b, false, to_pixels(pyramid, shape, x)?)
            }
        };
        self.evaluations += evals;
        self.iteration += 1;
        if !losses.is_finite() || !all_finite(&image)? {
            return Err(Error::NotFinite {
                iteration: self.iteration,
            });
        }
        self.last_good = image.reshape(self.shape)?;
        self.last_losses = Some(losses);
        Ok(StepReport {
            iteration: self.iteration,
            evaluations: self.evaluations,
            losses,
            converged,
        })
    }

    /// Losses at the current image, without a gradient.
    pub fn current_losses(&self) -> Result<LossBreakdown> {
        self_losses(
            &self.vgg,
            &self.targets,
            &self.weights,
            &self.image_tensor()?,
        )
    }

    /// The newest good image as 8-bit RGB (clamped to 0..255), as the artist should see it:
    /// masked, and with the content's chroma in luminance-only mode.
    pub fn image(&self) -> Result<RgbImage> {
        let img = pixels::to_image(&self.image_tensor()?)?;
        Ok(match &self.chroma_from {
            Some(content) => super::colour::keep_luminance(&img, content),
            None => img,
        })
    }

    /// The newest good image as the losses see it (masked, colours not yet post-processed):
    /// what the next multi-scale stage starts from.
    pub fn image_tensor(&self) -> Result<Tensor> {
        match &self.mask {
            Some(m) => m.apply(&self.last_good),
            None => Ok(self.last_good.clone()),
        }
    }
}

/// The image `[1,3,H,W]` a flat optimizer point describes.
fn to_pixels(
    pyramid: Option<&Pyramid>,
    shape: (usize, usize, usize, usize),
    flat: &Tensor,
) -> Result<Tensor> {
    Ok(match pyramid {
        Some(p) => p.synthesize(flat)?,
        None => flat.reshape(shape)?,
    })
}

fn self_losses(
    vgg: &Vgg,
    targets: &Targets,
    weights: &LossWeights,
    pixels: &Tensor,
) -> Result<LossBreakdown> {
    targets.losses(vgg, &pixels.detach(), weights)?.breakdown()
}

fn all_finite(t: &Tensor) -> Result<bool> {
    let s = super::host::scalar_f64(&t.sum_all()?.to_dtype(DType::F32)?)?;
    Ok(s.is_finite())
}

/// Seeded noise around mid grey: the same seed gives the same start on every run.
fn noise(seed: u64, h: usize, w: usize, device: &candle_core::Device) -> Result<Tensor> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let normal = Normal::new(127.5f32, 32.0).map_err(|e| Error::Settings(e.to_string()))?;
    let v: Vec<f32> = (0..3 * h * w)
        .map(|_| normal.sample(&mut rng).clamp(0.0, 255.0))
        .collect();
    Ok(Tensor::from_vec(v, (1, 3, h, w), device)?)
}
