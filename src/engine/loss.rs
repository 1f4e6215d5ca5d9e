//! Gatys et al.'s objective in neural-style's formulation (see shared/reference/README.md):
//! content = α·mean((F−P)²), style = β·Σ_l w_l·mean((G_l−A_l)²) with G = F Fᵀ/(C·H·W),
//! tv = λ·½·Σ (right and down neighbour differences)², on the 0..255 pixel image. A style layer
//! may instead compare the features' means and covariances by their Wasserstein distance
//! ([`super::wasserstein`], chosen per layer by [`crate::settings::StyleLoss`]).

use super::ops::{gram, mean_and_second_moment};
use super::vgg::Vgg;
use super::wasserstein::{w2_term, W2Target};
use crate::error::Result;
use crate::settings::{LossScale, LossWeights, Pooling};
use candle_core::Tensor;
use std::collections::HashMap;

/// One value of each loss term, already multiplied by its weight.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LossBreakdown {
    pub total: f64,
    pub content: f64,
    pub style: f64,
    pub tv: f64,
    /// The out-of-range penalty (see [`range_loss`]); 0 for pictures inside 0..255.
    #[serde(default)]
    pub range: f64,
}

impl LossBreakdown {
    pub fn is_finite(&self) -> bool {
        self.total.is_finite()
    }
}

/// `(layer, weighted loss)` pairs.
pub type LayerLosses = Vec<(String, f64)>;

/// The weighted loss terms of one evaluation, as scalar tensors (still differentiable).
pub struct LossTerms {
    pub content: Vec<(String, Tensor)>,
    pub style: Vec<(String, Tensor)>,
    pub tv: Tensor,
    pub range: Tensor,
}

fn scalar(t: &Tensor) -> Result<f64> {
    Ok(super::host::scalar_f64(t)?)
}

/// The terms in order: content, style, tv, range; read in one go (one device sync).
fn read_all(
    content: &[(String, Tensor)],
    style: &[(String, Tensor)],
    rest: &[&Tensor],
) -> Result<Vec<f64>> {
    let all: Vec<Tensor> = content
        .iter()
        .chain(style.iter())
        .map(|(_, t)| t.clone())
        .chain(rest.iter().map(|t| (*t).clone()))
        .collect();
    Ok(super::host::scalars_f64(&all)?)
}

impl LossTerms {
    pub fn total(&self) -> Result<Tensor> {
        let mut total = (&self.tv + &self.range)?;
        for (_, t) in self.content.iter().chain(self.style.iter()) {
            total = (total + t)?;
        }
        Ok(total)
    }

    /// Per-term sums as numbers (one device sync for all of them).
    pub fn breakdown(&self) -> Result<LossBreakdown> {
        let v = read_all(&self.content, &self.style, &[&self.tv, &self.range])?;
        let (c, rest) = v.split_at(self.content.len());
        let (s, rest) = rest.split_at(self.style.len());
        let content = c.iter().sum::<f64>();
        let style = s.iter().sum::<f64>();
        let (tv, range) = (rest[0], rest[1]);
        Ok(LossBreakdown {
            total: content + style + tv + range,
            content,
            style,
            tv,
            range,
        })
    }

    /// Per-layer numbers, for `atelier losses`: (content layers, style layers, tv).
    pub fn per_layer(&self) -> Result<(LayerLosses, LayerLosses, f64)> {
        let v = read_all(&self.content, &self.style, &[&self.tv])?;
        let names = |t: &[(String, Tensor)], v: &[f64]| -> LayerLosses {
            t.iter()
                .map(|(n, _)| n.clone())
                .zip(v.iter().copied())
                .collect()
        };
        let (c, rest) = v.split_at(self.content.len());
        let (s, rest) = rest.split_at(self.style.len());
        Ok((names(&self.content, c), names(&self.style, s), rest[0]))
    }
}

/// `½·Σ_{c,i<H−1,j<W−1} [(x[i,j]−x[i,j+1])² + (x[i,j]−x[i+1,j])²]`, unweighted.
pub fn tv_loss(x: &Tensor) -> Result<Tensor> {
    let (_, _, h, w) = x.dims4()?;
    if h < 2 || w < 2 {
        return Ok(x.sum_all()?.zeros_like()?);
    }
    let corner = x.narrow(2, 0, h - 1)?.narrow(3, 0, w - 1)?;
    let right = x.narrow(2, 0, h - 1)?.narrow(3, 1, w - 1)?;
    let down = x.narrow(2, 1, h - 1)?.narrow(3, 0, w - 1)?;
    let dx = (&corner - right)?.sqr()?.sum_all()?;
    let dy = (&corner - down)?.sqr()?.sum_all()?;
    Ok(((dx + dy)? * 0.5)?)
}

/// `Σ (x − clamp(x, 0, 255))²`, unweighted: how far the optimized pixels stray outside what a
/// picture can show. The saved picture is clamped, so without this term the optimizer is
/// scored on values nobody sees, and the clamped result scores worse than the run reported
/// (up to 9 % after 100 iterations at 512 px).
pub fn range_loss(x: &Tensor) -> Result<Tensor> {
    Ok((x - x.clamp(0f32, 255f32)?)?.sqr()?.sum_all()?)
}

/// What the image is compared against: content activations and (blended) style Gram matrices.
/// Layers are added on demand, so the artist can tick a new layer mid-run.
pub struct Targets {
    content_pixels: Tensor,
    /// Style images with their blend weights (normalized to sum to one).
    styles: Vec<(Tensor, f64)>,
    content: HashMap<String, Target>,
    style: HashMap<String, StyleTarget>,
    /// Masked runs: the mask at each layer size `(h, w)`, `[1,1,h,w]`, with `mean(m²)`, so a
    /// style layer's Gram covers only the masked region (see [`Targets::set_style_mask`]).
    style_masks: HashMap<(usize, usize), (Tensor, f64)>,
    /// The network's pooling for every feature this objective reads.
    pooling: Pooling,
}

/// A target tensor and its mean square, the divisor of [`LossScale::Normalized`].
struct Target {
    value: Tensor,
    mean_square: f64,
}

impl Target {
    fn new(value: Tensor) -> Result<Self> {
        let mean_square = scalar(&value.sqr()?.mean_all()?)?;
        Ok(Self { value, mean_square })
    }

    /// The factor that turns a raw mean squared error into this run's term (before α, β).
    fn scale(&self, scale: LossScale) -> f64 {
        match scale {
            LossScale::Classic => 1.0,
            // A dead layer (all zeros) has nothing to match; keep it finite.
            LossScale::Normalized => 1.0 / self.mean_square.max(1e-12),
        }
    }
}

/// A style layer's statistics: the blended Gram matrix and feature mean, and the mean and
/// covariance's square root once a Wasserstein term asks for them.
struct StyleTarget {
    gram: Target,
    /// `[C]`.
    mean: Tensor,
    w2: Option<W2Target>,
}

impl StyleTarget {
    /// The Wasserstein statistics, from the Gram (`E[f fᵀ]/C`) and the mean.
    fn ensure_w2(&mut self) -> Result<()> {
        if self.w2.is_none() {
            let c = self.mean.dim(0)?;
            let second_moment = (&self.gram.value * c as f64)?;
            self.w2 = Some(W2Target::new(&self.mean, &second_moment)?);
        }
        Ok(())
    }
}

/// The mean `[C]` of `[N,C,H,W]` features over everything but the channel, as one contiguous
/// last-axis sum: candle's reduction over the strided axes (0, 2, 3) walks every element by
/// index and cost a third of an iteration at 512 px.
fn channel_mean(feat: &Tensor) -> Result<Tensor> {
    let (n, c, h, w) = feat.dims4()?;
    let per_image = feat.reshape((n, c, h * w))?.sum(2)?;
    Ok((per_image.sum(0)? / (n * h * w) as f64)?)
}

impl Targets {
    /// `styles` pairs each style image (`[1,3,H,W]` pixels) with a blend weight.
    pub fn new(content_pixels: Tensor, styles: Vec<(Tensor, f64)>) -> Result<Self> {
        let sum: f64 = styles.iter().map(|(_, w)| w).sum();
        if styles.is_empty() || sum <= 0.0 || !sum.is_finite() {
            return Err(crate::error::Error::Settings(
                "give at least one style image with a positive blend weight".into(),
            ));
        }
        let styles = styles.into_iter().map(|(t, w)| (t, w / sum)).collect();
        Ok(Self {
            content_pixels,
            styles,
            content: HashMap::new(),
            style: HashMap::new(),
            style_masks: HashMap::new(),
            pooling: Pooling::Max,
        })
    }

    /// The same targets read through a network with `pooling` (before any are computed).
    pub fn with_pooling(mut self, pooling: Pooling) -> Self {
        self.pooling = pooling;
        self
    }

    /// Restricts the style statistics to a region: each style layer's Gram is taken over
    /// `F·m` (the mask resized to the layer) divided by `mean(m²)`, which for a binary mask is the
    /// Gram of the masked pixels alone. Without this, the unmasked (content) part of the image
    /// drags the global Gram and the masked part over-compensates. `mask` is 0..255 at any size;
    /// `(w, h)` is the image's size.
    pub fn set_style_mask(
        &mut self,
        mask: &image::GrayImage,
        w: u32,
        h: u32,
        device: &candle_core::Device,
    ) -> Result<()> {
        self.style_masks.clear();
        let (mut lw, mut lh) = (w, h);
        // Ceil-mode 2×2 pooling halves the layer size, rounding up, at most five times.
        for _ in 0..6 {
            let r = image::imageops::resize(mask, lw, lh, image::imageops::FilterType::Triangle);
            let v: Vec<f32> = r.as_raw().iter().map(|&p| f32::from(p) / 255.0).collect();
            let norm = v.iter().map(|m| f64::from(m * m)).sum::<f64>() / v.len().max(1) as f64;
            let m = Tensor::from_vec(v, (1, 1, lh as usize, lw as usize), device)?;
            self.style_masks
                .insert((lh as usize, lw as usize), (m, norm.max(1e-6)));
            lw = lw.div_ceil(2);
            lh = lh.div_ceil(2);
        }
        Ok(())
    }

    /// The Gram matrix the style loss compares: masked when a style mask is set.
    fn style_gram(&self, feat: &Tensor) -> Result<Tensor> {
        let (_, _, h, w) = feat.dims4()?;
        match self.style_masks.get(&(h, w)) {
            Some((m, norm)) => Ok((gram(&feat.broadcast_mul(m)?)? / *norm)?),
            None => Ok(gram(feat)?),
        }
    }

    /// The mean `[C]` and second raw moment `E[f fᵀ]` `[C, C]` of a layer's features, over the
    /// masked region when a style mask is set (weighted by `m²`, as [`Targets::style_gram`]).
    fn style_moments(&self, feat: &Tensor) -> Result<(Tensor, Tensor)> {
        let (_, c, h, w) = feat.dims4()?;
        match self.style_masks.get(&(h, w)) {
            Some((m, norm)) => Ok((
                (channel_mean(&feat.broadcast_mul(&m.sqr()?)?)? / *norm)?,
                (self.style_gram(feat)? * c as f64)?,
            )),
            None => Ok(mean_and_second_moment(feat)?),
        }
    }

    /// Computes whatever targets `weights` needs and does not have yet.
    pub fn ensure(&mut self, vgg: &Vgg, weights: &LossWeights) -> Result<()> {
        let need_c: Vec<&str> = weights
            .content_layers
            .iter()
            .map(String::as_str)
            .filter(|l| !self.content.contains_key(*l))
            .collect();
        if !need_c.is_empty() {
            let f = vgg.features_pooled(&self.content_pixels, &need_c, self.pooling)?;
            for (k, v) in f {
                self.content.insert(k, Target::new(v.detach())?);
            }
        }
        let need_s: Vec<&str> = weights
            .style_layers
            .iter()
            .map(|l| l.layer.as_str())
            .filter(|l| !self.style.contains_key(*l))
            .collect();
        if !need_s.is_empty() {
            let mut blended: HashMap<String, (Tensor, Tensor)> = HashMap::new();
            for (px, w) in &self.styles {
                let f = vgg.features_pooled(px, &need_s, self.pooling)?;
                for (k, v) in f {
                    let g = (gram(&v)?.detach() * *w)?;
                    let m = (channel_mean(&v.detach())? * *w)?;
                    let acc = match blended.remove(&k) {
                        Some((ag, am)) => ((ag + g)?, (am + m)?),
                        None => (g, m),
                    };
                    blended.insert(k, acc);
                }
            }
            for (k, (g, mean)) in blended {
                let target = StyleTarget {
                    gram: Target::new(g)?,
                    mean,
                    w2: None,
                };
                self.style.insert(k, target);
            }
        }
        for l in &weights.style_layers {
            if let Some(t) = self.style.get_mut(&l.layer) {
                if weights.style_loss.wasserstein_at(t.mean.dim(0)?) {
                    t.ensure_w2()?;
                }
            }
        }
        Ok(())
    }

    /// The weighted loss terms at `pixels`. Call [`Targets::ensure`] first.
    pub fn losses(&self, vgg: &Vgg, pixels: &Tensor, weights: &LossWeights) -> Result<LossTerms> {
        let mut taps: Vec<&str> = weights.content_layers.iter().map(String::as_str).collect();
        for l in &weights.style_layers {
            if !taps.contains(&l.layer.as_str()) {
                taps.push(&l.layer);
            }
        }
        let f = vgg.features_pooled(pixels, &taps, self.pooling)?;
        let missing =
            |l: &str| crate::error::Error::Settings(format!("no target computed for layer {l}"));
        let mut content = Vec::new();
        for l in &weights.content_layers {
            let (feat, target) = (f.get(l), self.content.get(l));
            let (Some(feat), Some(target)) = (feat, target) else {
                return Err(missing(l));
            };
            let w = f64::from(weights.content_weight) * target.scale(weights.scale);
            let loss = ((feat - &target.value)?.sqr()?.mean_all()? * w)?;
            content.push((l.clone(), loss));
        }
        let mut style = Vec::new();
        for lw in &weights.style_layers {
            let (feat, target) = (f.get(&lw.layer), self.style.get(&lw.layer));
            let (Some(feat), Some(target)) = (feat, target) else {
                return Err(missing(&lw.layer));
            };
            let w = f64::from(weights.style_weight) * f64::from(lw.weight);
            let w2 = weights
                .style_loss
                .wasserstein_at(target.mean.dim(0)?)
                .then_some(&target.w2);
            let loss = match w2 {
                None => {
                    let w = w * target.gram.scale(weights.scale);
                    ((self.style_gram(feat)? - &target.gram.value)?
                        .sqr()?
                        .mean_all()?
                        * w)?
                }
                Some(Some(w2)) => {
                    let w = match weights.scale {
                        LossScale::Classic => w,
                        LossScale::Normalized => w / w2.mean_square.max(1e-12),
                    };
                    let (mean, second_moment) = self.style_moments(feat)?;
                    (w2_term(&mean, &second_moment, w2)? * w)?
                }
                Some(None) => return Err(missing(&lw.layer)),
            };
            style.push((lw.layer.clone(), loss));
        }
        let tv = (tv_loss(pixels)? * f64::from(weights.tv_weight))?;
        let range = if weights.range_weight > 0.0 {
            (range_loss(pixels)? * f64::from(weights.range_weight))?
        } else {
            tv.zeros_like()?
        };
        Ok(LossTerms {
            content,
            style,
            tv,
            range,
        })
    }
}
