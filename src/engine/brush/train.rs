//! Training a brush, one step at a time: the caller (CLI, worker) owns the clock, the stop
//! button, checkpoints and previews, and passes each step how far through its budget it is.
//!
//! A step is either *distillation* (the generator copies a teacher, Magenta's arbitrary network
//! with the painting's style vector frozen in: a per-pixel target, no VGG, cheap) or *style*
//! (Johnson et al.: VGG content loss against the crop, the render's style match against the
//! painting (Wasserstein on the narrow layers, Gram on the wide ones, by default), total
//! variation, and optionally the patch discriminator's hinge loss).

use super::data::CropSource;
use super::discriminator::Discriminator;
use super::generator::{GenArch, Generator};
use super::optim::Adam;
use crate::engine::instant::{Arbitrary, StyleVector};
use crate::engine::loss::tv_loss;
use crate::engine::ops::{gram, mean_and_second_moment};
use crate::engine::vgg::Vgg;
use crate::engine::wasserstein::{w2_term, W2Target};
use crate::error::{Error, Result};
use crate::settings::StyleLoss;
use candle_core::{DType, Device, Tensor};
use image::RgbImage;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

/// Everything the engine needs to know about a training run (stored in the brush file). The loss
/// weights mean what `atelier render`'s do (each layer's term divided by its target's mean
/// square, summed over layers), so 1e3/1e4 is the same objective as a default render.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct TrainConfig {
    /// Crop side of the style steps at the end of the schedule (`--size`).
    pub size: u32,
    /// Style steps start at this crop side and grow to `size` (0 = no growing).
    pub grow_from: u32,
    /// Fraction of the budget spent distilling the teacher first (0 = from scratch).
    pub distill: f32,
    /// The photos' longest side when crops are cut (the scale strokes are learned at).
    pub photo_scale: u32,
    /// The painting's longest side for the Gram targets and the discriminator's crops.
    pub style_size: u32,
    pub content_weight: f32,
    pub style_weight: f32,
    pub tv_weight: f32,
    /// What the style terms compare (as a render's `--style-loss`). Brushes trained before this
    /// field existed used Gram matrices.
    #[serde(default = "gram_style_loss")]
    pub style_loss: StyleLoss,
    /// Weight of the discriminator's hinge loss for the generator (0 = no discriminator).
    pub adversarial: f32,
    pub learning_rate: f64,
    pub disc_learning_rate: f64,
    pub content_layers: Vec<String>,
    pub style_layers: Vec<String>,
    pub arch: GenArch,
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            size: 256,
            grow_from: 0,
            distill: 0.3,
            photo_scale: 512,
            style_size: 512,
            content_weight: 1e3,
            style_weight: 1e4,
            tv_weight: 1e-5,
            style_loss: StyleLoss::Mixed,
            // Off: at equal steps it darkened and abstracted the pictures and cost 25–35 % more
            // time per step (the with/without comparison in docs/brushes.md).
            adversarial: 0.0,
            learning_rate: 2e-3,
            disc_learning_rate: 2e-4,
            content_layers: vec!["relu4_2".into()],
            style_layers: ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]
                .map(String::from)
                .to_vec(),
            arch: GenArch::default(),
            seed: 0,
        }
    }
}

fn gram_style_loss() -> StyleLoss {
    StyleLoss::Gram
}

impl TrainConfig {
    /// Range checks, each naming the setting.
    pub fn check(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Settings(m));
        if !(32..=1024).contains(&self.size) || !self.size.is_multiple_of(16) {
            return bad(format!(
                "size must be a multiple of 16 from 32 to 1024, got {}",
                self.size
            ));
        }
        if self.grow_from != 0 && (self.grow_from < 32 || self.grow_from > self.size) {
            return bad(format!(
                "the growing schedule must start between 32 and the size ({}), got {}",
                self.size, self.grow_from
            ));
        }
        if !(0.0..=1.0).contains(&self.distill) {
            return bad(format!(
                "distill must be a fraction 0..1, got {}",
                self.distill
            ));
        }
        for (name, v) in [
            ("content weight", self.content_weight),
            ("style weight", self.style_weight),
            ("tv weight", self.tv_weight),
            ("adversarial weight", self.adversarial),
        ] {
            if !v.is_finite() || v < 0.0 {
                return bad(format!("{name} must be a number ≥ 0, got {v}"));
            }
        }
        for (name, v) in [
            ("learning rate", self.learning_rate),
            ("discriminator learning rate", self.disc_learning_rate),
        ] {
            if !v.is_finite() || v <= 0.0 || v > 1.0 {
                return bad(format!("{name} must be in (0, 1], got {v}"));
            }
        }
        if self.photo_scale < self.size || self.style_size < 64 {
            return bad(format!(
                "photo scale ({}) must be at least the crop size ({}) and style size at least 64",
                self.photo_scale, self.size
            ));
        }
        Ok(())
    }

    /// What a step at `progress` (0..1 of the budget) does: distillation or style, and its crop.
    pub fn stage(&self, progress: f64) -> (StepKind, u32) {
        let p = progress.clamp(0.0, 1.0);
        let d = f64::from(self.distill);
        if p < d {
            return (StepKind::Distill, self.size);
        }
        if self.grow_from == 0 || self.grow_from >= self.size {
            return (StepKind::Style, self.size);
        }
        // Three sizes over the first 60 % of the style steps, then the full size.
        let q = if d < 1.0 { (p - d) / (1.0 - d) } else { 1.0 };
        let mid = (self.grow_from + self.size) / 2 / 16 * 16;
        let side = if q < 0.3 {
            self.grow_from
        } else if q < 0.6 {
            mid
        } else {
            self.size
        };
        (StepKind::Style, side)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepKind {
    Distill,
    Style,
}

/// One step's numbers (weighted terms), for the progress line and the loss curve.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LossPoint {
    pub step: u64,
    pub crop: u32,
    pub distill: bool,
    pub total: f64,
    pub content: f64,
    pub style: f64,
    pub tv: f64,
    pub adversarial: f64,
    /// The discriminator's own loss (0 without one).
    pub disc: f64,
}

/// The teacher for distillation: Magenta's arbitrary network with one style vector.
pub struct Teacher {
    net: Arbitrary,
    style: StyleVector,
}

impl Teacher {
    /// The painting's style vector, frozen.
    pub fn new(net: Arbitrary, painting: &RgbImage) -> Result<Self> {
        let style = net.style_vector(painting)?;
        Ok(Self { net, style })
    }

    /// The teacher's picture of a `[1,3,S,S]` 0..1 crop, same shape.
    fn paint(&self, x: &Tensor) -> Result<Tensor> {
        let img = crate::engine::pixels::to_image(&(x * 255.0)?)?;
        let side = img.width().max(img.height());
        let out = self.net.stylize(&img, &self.style, side)?;
        Ok((crate::engine::pixels::to_tensor(&out, x.device())? / 255.0)?)
    }
}

/// A style target: the painting's Gram matrix, or its Wasserstein statistics where the style
/// match asks for them, and the term's normalizer (the target's mean square, as a render's).
struct StyleTarget {
    layer: String,
    stats: StyleStats,
    mean_square: f64,
}

enum StyleStats {
    Gram(Tensor),
    Wasserstein(W2Target),
}

impl StyleTarget {
    fn new(layer: &str, feat: &Tensor, style_loss: StyleLoss) -> Result<Self> {
        let (stats, mean_square) = if style_loss.wasserstein_at(feat.dim(1)?) {
            let (mean, second_moment) = mean_and_second_moment(feat)?;
            let w2 = W2Target::new(&mean.detach(), &second_moment.detach())?;
            let ms = w2.mean_square;
            (StyleStats::Wasserstein(w2), ms)
        } else {
            let g = gram(feat)?.detach();
            let ms = scalar(&g.sqr()?.mean_all()?)?;
            (StyleStats::Gram(g), ms)
        };
        Ok(Self {
            layer: layer.to_string(),
            stats,
            mean_square: mean_square.max(1e-12),
        })
    }

    /// The unweighted term for the generator's features at this layer.
    fn term(&self, feat: &Tensor) -> Result<Tensor> {
        Ok(match &self.stats {
            StyleStats::Wasserstein(w2) => {
                let (mean, second_moment) = mean_and_second_moment(feat)?;
                w2_term(&mean, &second_moment, w2)?
            }
            StyleStats::Gram(g) => (gram(feat)? - g)?.sqr()?.mean_all()?,
        })
    }
}

fn scalar(t: &Tensor) -> Result<f64> {
    Ok(t.to_dtype(DType::F64)?.to_scalar::<f64>()?)
}

/// The training state: generator, optional discriminator, their optimizers, the targets.
pub struct Trainer {
    pub config: TrainConfig,
    pub generator: Generator,
    discriminator: Option<Discriminator>,
    adam_g: Adam,
    adam_d: Adam,
    photos: CropSource,
    painting_crops: CropSource,
    styles: Vec<StyleTarget>,
    teacher: Option<Teacher>,
    rng: ChaCha8Rng,
    device: Device,
    /// Steps taken, over every session of this brush (resumes included).
    pub step: u64,
}

impl Trainer {
    /// Sets up a run. `teacher` is needed when `config.distill > 0`.
    pub fn new(
        config: TrainConfig,
        vgg: &Vgg,
        painting: &RgbImage,
        photos: Vec<RgbImage>,
        teacher: Option<Teacher>,
    ) -> Result<Self> {
        config.check()?;
        if config.distill > 0.0 && teacher.is_none() {
            return Err(Error::Settings(
                "distillation needs the instant-mode network as a teacher; install the \
                 assets/instant files or set distill to 0"
                    .into(),
            ));
        }
        for l in config.content_layers.iter().chain(&config.style_layers) {
            vgg.check_layer(l)?;
        }
        let device = vgg.device().clone();
        let generator = Generator::new(config.arch, config.seed, DType::F32, &device)?;
        let discriminator = if config.adversarial > 0.0 {
            Some(Discriminator::new(
                config.seed ^ 0xd15c,
                DType::F32,
                &device,
            )?)
        } else {
            None
        };
        let style_img = crate::image_io::resize_longest(painting, config.style_size);
        let px = crate::engine::pixels::to_tensor(&style_img, &device)?;
        let taps: Vec<&str> = config.style_layers.iter().map(String::as_str).collect();
        let feats = vgg.features(&px, &taps)?;
        let styles = config
            .style_layers
            .iter()
            .map(|l| {
                let f = feats
                    .get(l)
                    .ok_or_else(|| Error::Settings(format!("no features for layer {l}")))?;
                StyleTarget::new(l, f, config.style_loss)
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            photos: CropSource::new(photos, config.photo_scale, 0.25)?,
            painting_crops: CropSource::new(vec![style_img], config.style_size, 0.15)?,
            adam_g: Adam::new(config.learning_rate, 0.9),
            // GANs train steadier with a low β1 (Radford et al.).
            adam_d: Adam::new(config.disc_learning_rate, 0.5),
            rng: ChaCha8Rng::seed_from_u64(config.seed),
            config,
            generator,
            discriminator,
            styles,
            teacher,
            device,
            step: 0,
        })
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    pub fn has_discriminator(&self) -> bool {
        self.discriminator.is_some()
    }

    /// One optimization step; `progress` (0..1) is how far through its budget the run is and
    /// picks the stage (see [`TrainConfig::stage`]).
    pub fn step(&mut self, vgg: &Vgg, progress: f64) -> Result<LossPoint> {
        let (kind, side) = self.config.stage(progress);
        let x = self.photos.crop(&mut self.rng, side, &self.device)?;
        let y = self.generator.forward(&x)?;
        let mut point = LossPoint {
            step: self.step + 1,
            crop: side,
            distill: kind == StepKind::Distill,
            ..LossPoint::default()
        };
        let total = match kind {
            StepKind::Distill => {
                let teacher = self
                    .teacher
                    .as_ref()
                    .ok_or_else(|| Error::Settings("distillation step without a teacher".into()))?;
                let t = teacher.paint(&x)?;
                // Mean squared error in 0..255 units /100, so it reads like the style terms.
                let l = ((&y - &t)?.sqr()?.mean_all()? * (255.0 * 255.0 / 100.0))?;
                point.content = scalar(&l)?;
                l
            }
            StepKind::Style => self.style_loss(vgg, &x, &y, &mut point)?,
        };
        point.total = scalar(&total)?;
        if !point.total.is_finite() {
            return Err(Error::NotFinite {
                iteration: u32::try_from(point.step).unwrap_or(u32::MAX),
            });
        }
        let grads = total.backward()?;
        self.adam_g.step(&self.generator.params, &grads)?;
        drop(grads);
        if kind == StepKind::Style {
            if let Some(d) = &self.discriminator {
                let real = self
                    .painting_crops
                    .crop(&mut self.rng, side, &self.device)?;
                let dl = d.loss(&real, &y.detach())?;
                point.disc = scalar(&dl)?;
                let grads = dl.backward()?;
                self.adam_d.step(&d.params, &grads)?;
            }
        }
        self.step += 1;
        Ok(point)
    }

    fn style_loss(
        &self,
        vgg: &Vgg,
        x: &Tensor,
        y: &Tensor,
        point: &mut LossPoint,
    ) -> Result<Tensor> {
        let c = &self.config;
        let px_x = (x * 255.0)?;
        let px_y = (y * 255.0)?;
        let content_taps: Vec<&str> = c.content_layers.iter().map(String::as_str).collect();
        let targets = vgg.features(&px_x, &content_taps)?;
        let mut taps = content_taps.clone();
        taps.extend(c.style_layers.iter().map(String::as_str));
        let feats = vgg.features(&px_y, &taps)?;
        let missing = |l: &str| Error::Settings(format!("no features for layer {l}"));
        let mut total = px_y.zeros_like()?.sum_all()?;
        let mut content = total.clone();
        for l in &c.content_layers {
            let (Some(f), Some(p)) = (feats.get(l), targets.get(l)) else {
                return Err(missing(l));
            };
            let p = p.detach();
            let ms = scalar(&p.sqr()?.mean_all()?)?.max(1e-12);
            let term = ((f - &p)?.sqr()?.mean_all()? * (f64::from(c.content_weight) / ms))?;
            content = (content + term)?;
        }
        let mut style = total.clone();
        for s in &self.styles {
            let f = feats.get(&s.layer).ok_or_else(|| missing(&s.layer))?;
            let w = f64::from(c.style_weight) / s.mean_square;
            style = (style + (s.term(f)? * w)?)?;
        }
        let tv = (tv_loss(&px_y)? * f64::from(c.tv_weight))?;
        point.content = scalar(&content)?;
        point.style = scalar(&style)?;
        point.tv = scalar(&tv)?;
        total = ((total + content)? + style)?;
        total = (total + tv)?;
        if let Some(d) = &self.discriminator {
            let adv = (d.generator_loss(y)? * f64::from(c.adversarial))?;
            point.adversarial = scalar(&adv)?;
            total = (total + adv)?;
        }
        Ok(total)
    }

    /// Everything a resumed run needs besides the generator's weights: the discriminator and
    /// both optimizers' moments (tensors) and the counters (JSON).
    pub fn state(&self) -> Result<(BTreeMap<String, Tensor>, TrainCounters)> {
        let mut t = self.adam_g.state("adam_g.");
        t.extend(self.adam_d.state("adam_d."));
        if let Some(d) = &self.discriminator {
            for (k, v) in d.params.snapshot()? {
                t.insert(format!("disc.{k}"), v);
            }
        }
        Ok((
            t,
            TrainCounters {
                step: self.step,
                adam_g_t: self.adam_g.t,
                adam_d_t: self.adam_d.t,
            },
        ))
    }

    /// Continues from a checkpoint: generator weights, and (when present) the state of
    /// [`Trainer::state`]. Tensors that don't fit are an error; missing optimizer moments
    /// start at zero.
    pub fn restore(
        &mut self,
        generator: &BTreeMap<String, Tensor>,
        state: Option<(&BTreeMap<String, Tensor>, &TrainCounters)>,
        steps: u64,
    ) -> Result<()> {
        self.generator.params.load(generator)?;
        self.step = steps;
        if let Some((tensors, counters)) = state {
            let on = |m: &BTreeMap<String, Tensor>| -> Result<BTreeMap<String, Tensor>> {
                m.iter()
                    .map(|(k, v)| Ok((k.clone(), v.to_device(&self.device)?.to_dtype(DType::F32)?)))
                    .collect()
            };
            let tensors = on(tensors)?;
            self.adam_g.restore("adam_g.", counters.adam_g_t, &tensors);
            self.adam_d.restore("adam_d.", counters.adam_d_t, &tensors);
            if let Some(d) = &mut self.discriminator {
                let disc: BTreeMap<String, Tensor> = tensors
                    .iter()
                    .filter_map(|(k, v)| {
                        k.strip_prefix("disc.").map(|n| (n.to_string(), v.clone()))
                    })
                    .collect();
                if !disc.is_empty() {
                    d.params.load(&disc)?;
                }
            }
            self.step = counters.step;
        }
        Ok(())
    }
}

/// The counters a checkpoint keeps beside the tensors.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainCounters {
    pub step: u64,
    pub adam_g_t: u64,
    pub adam_d_t: u64,
}
