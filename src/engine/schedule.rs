//! A whole run, coarse to fine: the driver the CLI and the worker step, one optimizer iteration
//! at a time, whatever the number of stages.
//!
//! With `multiscale_start` = s > 0 (and s < `size`), stage sizes are s, 2s, 4s, … while below
//! `size`, then `size` itself (256 → 2048: 256, 512, 1024, 2048). Each stage starts from the
//! previous stage's result upsampled with a Lanczos-3 filter (in floating point, no 8-bit
//! rounding), and sees the content, the mask and the style images at its own size (the style at
//! `stage size × style_scale`), so a style's brush strokes keep their size relative to the output.
//!
//! `iterations` is the budget of the whole run. It is split across stages in proportion to
//! 2^(stages−1−i): each stage gets half the iterations of the one before, because coarse
//! iterations are cheap (a quarter of the pixels) and do the large-scale work, while fine stages
//! start close to their optimum. Every stage gets at least one iteration. A stage that converges
//! early hands over to the next one. The final stage's size is exactly the single-stage size.

use super::config::TransferConfig;
use super::instant::Arbitrary;
use super::transfer::{Transfer, TransferOptions};
use super::vgg::Vgg;
use super::{pixels, LossBreakdown, StepReport};
use crate::error::{Error, Result};
use crate::image_io::scaled_dims;
use crate::settings::LossWeights;
use image::{GrayImage, RgbImage};
use std::sync::Arc;

/// One stage: the longest side it runs at and the iterations it gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stage {
    pub size: u32,
    pub iterations: u32,
}

pub use crate::settings::stage_sizes;

/// The decoded pictures a run works on.
#[derive(Debug, Clone)]
pub struct RunImages {
    pub content: Arc<RgbImage>,
    /// Every style image with its blend weight, the main one first.
    pub styles: Vec<(Arc<RgbImage>, f32)>,
    /// White gets the style, black keeps the content; any size.
    pub mask: Option<Arc<GrayImage>>,
}

/// Where a run starts, when not from what `config.init` alone can make.
#[derive(Default, Clone, Copy)]
pub struct Start<'a> {
    /// A picture to start from (resized to the first stage).
    pub picture: Option<&'a RgbImage>,
    /// The arbitrary-style network that paints the start of an `init = instant` run.
    pub instant: Option<&'a Arbitrary>,
}

/// The stages of a run: sizes from [`stage_sizes`], `iterations` split as the module says.
pub fn plan(config: &TransferConfig) -> Vec<Stage> {
    let sizes = stage_sizes(config.multiscale_start, config.size);
    let n = sizes.len();
    if config.stage_iterations.len() == n {
        return sizes
            .into_iter()
            .zip(&config.stage_iterations)
            .map(|(size, &iterations)| Stage {
                size,
                iterations: iterations.max(1),
            })
            .collect();
    }
    if n == 1 {
        return vec![Stage {
            size: sizes[0],
            iterations: config.iterations,
        }];
    }
    // Shares 2^(n-1-i); largest remainders make the parts add up to the budget.
    let shares: Vec<f64> = (0..n)
        .map(|i| f64::from(1u32 << (n - 1 - i).min(30)))
        .collect();
    let total: f64 = shares.iter().sum();
    let budget = f64::from(config.iterations);
    let exact: Vec<f64> = shares.iter().map(|s| budget * s / total).collect();
    let mut parts: Vec<u32> = exact.iter().map(|e| e.floor() as u32).collect();
    let mut left = config.iterations.saturating_sub(parts.iter().sum());
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| (exact[b] - exact[b].floor()).total_cmp(&(exact[a] - exact[a].floor())));
    for &i in order.iter().cycle().take(n * 2) {
        if left == 0 {
            break;
        }
        parts[i] += 1;
        left -= 1;
    }
    sizes
        .into_iter()
        .zip(parts)
        .map(|(size, iterations)| Stage {
            size,
            iterations: iterations.max(1),
        })
        .collect()
}

/// What one [`Schedule::step`] did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScheduleStep {
    /// Iterations done so far, all stages together (1 after the first).
    pub iteration: u32,
    /// Loss+gradient evaluations so far, all stages together.
    pub evaluations: u32,
    /// Losses after this iteration, at the stage it ran in.
    pub losses: LossBreakdown,
    /// 1-based stage this iteration ran in.
    pub stage: u32,
    /// The next step runs at a new (larger) size: the image size changed.
    pub stage_changed: bool,
    /// The run is complete: every stage is done (or the last one converged).
    pub done: bool,
}

/// A run over all its stages. Owns the current stage's [`Transfer`]; the previous one is
/// dropped before the next is built, so the peak memory is the largest stage's.
pub struct Schedule {
    vgg: Arc<Vgg>,
    config: TransferConfig,
    content: Arc<RgbImage>,
    styles: Vec<(Arc<RgbImage>, f32)>,
    mask: Option<Arc<GrayImage>>,
    stages: Vec<Stage>,
    /// 0-based.
    stage: usize,
    /// `None` only when setting up a stage failed; `stranded` then holds the last image.
    transfer: Option<Transfer>,
    stranded: Option<RgbImage>,
    /// Iterations and evaluations of the finished stages.
    iterations_before: u32,
    evaluations_before: u32,
    done: bool,
    pace: Pace,
}

/// Seconds per iteration, measured: the current stage's iterations after its first (which also
/// computes the stage's targets and runs the longest line search), and the last stage's pace
/// to project from until the current one has its own.
#[derive(Debug, Default)]
struct Pace {
    this_stage: Vec<f64>,
    first: Option<f64>,
    previous: Option<(f64, f64)>,
}

impl Pace {
    fn record(&mut self, seconds: f64) {
        if self.first.is_none() {
            self.first = Some(seconds);
        } else {
            self.this_stage.push(seconds);
        }
    }

    /// Seconds per iteration at a stage whose iterations cost `cost` ([`iteration_cost`]).
    fn seconds_per_iteration(&self, cost: f64) -> Option<f64> {
        if !self.this_stage.is_empty() {
            let mut v = self.this_stage.clone();
            v.sort_by(f64::total_cmp);
            return Some(v[v.len() / 2]);
        }
        match (self.previous, self.first) {
            (Some((pace, was)), _) => Some(pace * cost / was),
            (None, first) => first,
        }
    }

    /// A new stage: the finished one's pace (at cost `was`) becomes the projection.
    fn next_stage(&mut self, was: f64) {
        if let Some(p) = self.seconds_per_iteration(was) {
            self.previous = Some((p, was));
        }
        self.this_stage.clear();
        self.first = None;
    }
}

impl Schedule {
    /// Plans the stages and sets up the first. `styles` pairs each style image with its blend
    /// weight (normalized over all styles; zero-weight styles are ignored). The config is
    /// trusted: it was checked where the settings entered (see [`super::prepare`]).
    pub fn new(vgg: Arc<Vgg>, config: &TransferConfig, images: RunImages) -> Result<Self> {
        Self::starting_from(vgg, config, images, Start::default())
    }

    /// [`Schedule::new`] starting from `start`: an explicit picture (e.g. the studio's instant
    /// result, resized with Lanczos to the first stage's size), or the instant network that
    /// paints `init = instant`'s start; otherwise what `config.init` makes.
    pub fn starting_from(
        vgg: Arc<Vgg>,
        config: &TransferConfig,
        images: RunImages,
        start: Start<'_>,
    ) -> Result<Self> {
        let RunImages {
            content,
            styles,
            mask,
        } = images;
        let stages = plan(config);
        let init = match start.picture {
            Some(img) => {
                let (w, h) = stage_dims(&content, stages[0].size);
                let img = crate::image_io::resize_to(img, w, h);
                Some(pixels::to_tensor(&img, vgg.device())?)
            }
            None => None,
        };
        let transfer = build(
            &vgg,
            config,
            &content,
            &styles,
            stages[0],
            TransferOptions {
                init,
                mask: mask.as_deref(),
                lbfgs_scale: None,
                instant: start.instant,
            },
        )?;
        Ok(Self {
            vgg,
            config: config.clone(),
            content,
            styles,
            mask,
            stages,
            stage: 0,
            transfer: Some(transfer),
            stranded: None,
            iterations_before: 0,
            evaluations_before: 0,
            done: false,
            pace: Pace::default(),
        })
    }

    /// The current stage's run; an error if setting it up failed.
    pub fn transfer(&self) -> Result<&Transfer> {
        self.transfer.as_ref().ok_or_else(stranded)
    }

    /// The planned stages.
    pub fn stages(&self) -> &[Stage] {
        &self.stages
    }

    /// 1-based current stage.
    pub fn stage(&self) -> u32 {
        self.stage as u32 + 1
    }

    pub fn stage_count(&self) -> u32 {
        self.stages.len() as u32
    }

    /// Iterations planned over all stages.
    pub fn total_iterations(&self) -> u32 {
        self.stages.iter().map(|s| s.iterations).sum()
    }

    /// Iterations done so far, all stages together.
    pub fn iteration(&self) -> u32 {
        self.iterations_before + self.transfer.as_ref().map_or(0, Transfer::iteration)
    }

    /// Seconds until the run is done at the measured pace (`None` before the first iteration).
    /// The stages still to come are projected from it by [`iteration_cost`], since an iteration
    /// at 512 px costs ~3.5× one at 256 px. An over-estimate when a stage converges early.
    pub fn seconds_left(&self) -> Option<f64> {
        if self.done {
            return Some(0.0);
        }
        Some(self.seconds_per_iteration()? * self.iterations_left_at_this_cost())
    }

    /// Seconds per iteration at the current stage as measured: the median after its first
    /// iteration (see [`Pace`]), the previous stage's projected until then. The one pace the CLI's
    /// bar, the studio's readout and the ETA share.
    pub fn seconds_per_iteration(&self) -> Option<f64> {
        let here = self.stages[self.stage];
        self.pace
            .seconds_per_iteration(iteration_cost(stage_dims(&self.content, here.size)))
    }

    /// Iterations still to run, the later stages counted in iterations of the current stage's
    /// cost.
    pub fn iterations_left_at_this_cost(&self) -> f64 {
        let here = self.stages[self.stage];
        let done_here = self.transfer.as_ref().map_or(0, Transfer::iteration);
        let now = iteration_cost(stage_dims(&self.content, here.size));
        let mut left = f64::from(here.iterations.saturating_sub(done_here));
        for s in &self.stages[self.stage + 1..] {
            let cost = iteration_cost(stage_dims(&self.content, s.size));
            left += f64::from(s.iterations) * cost / now;
        }
        left
    }

    /// Loss+gradient evaluations so far, all stages together.
    pub fn evaluations(&self) -> u32 {
        self.evaluations_before + self.transfer.as_ref().map_or(0, Transfer::evaluations)
    }

    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Current image size (the current stage's).
    pub fn dimensions(&self) -> (u32, u32) {
        match (&self.transfer, &self.stranded) {
            (Some(t), _) => (t.width(), t.height()),
            (None, Some(i)) => i.dimensions(),
            (None, None) => (0, 0),
        }
    }

    /// The final output's size (the last stage's), known before the run.
    pub fn final_dimensions(&self) -> (u32, u32) {
        let last = self.stages[self.stages.len() - 1].size;
        stage_dims(&self.content, last)
    }

    pub fn weights(&self) -> &LossWeights {
        &self.config.weights
    }

    /// New loss weights from the next iteration on; later stages use them too.
    pub fn set_weights(&mut self, weights: LossWeights) -> Result<()> {
        let fine = (self.stages.get(self.stage)).is_some_and(|s| is_fine(&self.config, *s));
        if let Some(t) = self.transfer.as_mut() {
            t.set_weights(weights.at_stage(fine))?;
        }
        self.config.weights = weights;
        Ok(())
    }

    /// The image as the artist should see it (see [`Transfer::image`]).
    pub fn image(&self) -> Result<RgbImage> {
        match (&self.transfer, &self.stranded) {
            (Some(t), _) => t.image(),
            (None, Some(i)) => Ok(i.clone()),
            (None, None) => Err(stranded()),
        }
    }

    pub fn current_losses(&self) -> Result<LossBreakdown> {
        self.transfer()?.current_losses()
    }

    /// Runs one iteration; when it ends a stage, the next stage is set up before returning (so
    /// [`Schedule::image`] already has the new size when `stage_changed`). Stepping a finished
    /// run does nothing and reports `done`.
    pub fn step(&mut self) -> Result<ScheduleStep> {
        let stage = self.stage();
        let stage_iterations = self.stages[self.stage].iterations;
        let (iterations_before, evaluations_before) =
            (self.iterations_before, self.evaluations_before);
        let done = self.done;
        let t = self.transfer.as_mut().ok_or_else(stranded)?;
        if done {
            return Ok(ScheduleStep {
                iteration: iterations_before + t.iteration(),
                evaluations: evaluations_before + t.evaluations(),
                losses: t.current_losses()?,
                stage,
                stage_changed: false,
                done: true,
            });
        }
        let t0 = std::time::Instant::now();
        let r: StepReport = t.step()?;
        self.pace.record(t0.elapsed().as_secs_f64());
        let stage_done = r.converged || r.iteration >= stage_iterations;
        let mut report = ScheduleStep {
            iteration: iterations_before + r.iteration,
            evaluations: evaluations_before + r.evaluations,
            losses: r.losses,
            stage,
            stage_changed: false,
            done: false,
        };
        if stage_done {
            if self.stage + 1 < self.stages.len() {
                self.next_stage()?;
                report.stage_changed = true;
            } else {
                self.done = true;
                report.done = true;
            }
        }
        Ok(report)
    }

    /// Upsamples the current image to the next stage's size and starts that stage from it.
    fn next_stage(&mut self) -> Result<()> {
        let next = self.stages[self.stage + 1];
        let old = self.transfer.take().ok_or_else(stranded)?;
        let (w, h) = stage_dims(&self.content, next.size);
        let init = old.image_tensor().and_then(|t| pixels::resize(&t, w, h));
        let init = match init {
            Ok(i) => i,
            Err(e) => {
                self.transfer = Some(old);
                return Err(e);
            }
        };
        self.iterations_before += old.iteration();
        self.evaluations_before += old.evaluations();
        let last_image = old.image();
        // The losses are means over the pixels, so their curvature per pixel falls with the
        // pixel count: the inverse scale grows with it.
        let old_dims = (old.width(), old.height());
        let old_px = f64::from(old_dims.0) * f64::from(old_dims.1);
        let scale = old
            .curvature_scale()
            .map(|c| c * f64::from(w) * f64::from(h) / old_px);
        // Free the finished stage's activations and history before the larger stage allocates.
        drop(old);
        self.pace.next_stage(iteration_cost(old_dims));
        self.stage += 1;
        match build(
            &self.vgg,
            &self.config,
            &self.content,
            &self.styles,
            next,
            TransferOptions {
                init: Some(init),
                mask: self.mask.as_deref(),
                lbfgs_scale: scale,
                instant: None,
            },
        ) {
            Ok(t) => {
                self.transfer = Some(t);
                Ok(())
            }
            Err(e) => {
                self.stranded = last_image.ok();
                self.done = true;
                Err(e)
            }
        }
    }
}

fn stranded() -> Error {
    Error::Settings("the next multi-scale stage could not be set up; start the run again".into())
}

/// Whether `stage` is the output-size stage of a coarse-to-fine run, the one that weighs the
/// content by [`LossWeights::detail_weight`].
fn is_fine(config: &TransferConfig, stage: Stage) -> bool {
    stage_sizes(config.multiscale_start, config.size).len() > 1 && stage.size == config.size
}

/// One stage's [`Transfer`]: the run's config at the stage's size and iteration count.
fn build(
    vgg: &Arc<Vgg>,
    config: &TransferConfig,
    content: &RgbImage,
    styles: &[(Arc<RgbImage>, f32)],
    stage: Stage,
    options: TransferOptions<'_>,
) -> Result<Transfer> {
    let mut c = config.single_stage(stage.size, stage.iterations);
    c.weights = config.weights.at_stage(is_fine(config, stage));
    let refs: Vec<(&RgbImage, f32)> = styles.iter().map(|(i, w)| (i.as_ref(), *w)).collect();
    Transfer::with_options(vgg.clone(), &c, content, &refs, options)
}

/// The relative cost of one iteration at `(w, h)`: the convolutions scale with the pixels, plus
/// a fixed part (thread hand-offs, the L-BFGS bookkeeping, small layers) that makes small stages
/// dearer per pixel. The 256 → 512 px ratio measured 3.6 on the AVX2 path and 2.9 on AVX-512;
/// this fixed part (3.2) keeps the ETA within ~15 % on both (docs/speed.md).
pub fn iteration_cost((w, h): (u32, u32)) -> f64 {
    const FIXED_PIXELS: f64 = 16_000.0;
    f64::from(w) * f64::from(h) + FIXED_PIXELS
}

/// The content's size at a stage, as [`prepare_content`](super::transfer::prepare_content) makes it.
pub fn stage_dims(content: &RgbImage, size: u32) -> (u32, u32) {
    let (w, h) = content.dimensions();
    if w.max(h) == size {
        (w, h)
    } else {
        scaled_dims(w, h, size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_double_up_to_the_size() {
        assert_eq!(stage_sizes(0, 512), vec![512]);
        assert_eq!(stage_sizes(512, 512), vec![512]);
        assert_eq!(stage_sizes(256, 2048), vec![256, 512, 1024, 2048]);
        assert_eq!(stage_sizes(256, 700), vec![256, 512, 700]);
    }

    /// A stage's first iteration (targets, the longest line search) is left out of its pace;
    /// until a stage has its own pace, the last one's is projected by the cost ratio.
    #[test]
    fn pace_skips_each_stage_start_and_projects_the_last_stage() {
        let mut p = Pace::default();
        assert_eq!(p.seconds_per_iteration(1.0), None);
        p.record(10.0);
        assert_eq!(
            p.seconds_per_iteration(1.0),
            Some(10.0),
            "only the first so far"
        );
        for s in [1.0, 3.0, 2.0] {
            p.record(s);
        }
        assert_eq!(p.seconds_per_iteration(1.0), Some(2.0));
        p.next_stage(1.0);
        assert_eq!(p.seconds_per_iteration(4.0), Some(8.0));
        p.record(30.0);
        assert_eq!(
            p.seconds_per_iteration(4.0),
            Some(8.0),
            "the start is not the pace"
        );
        p.record(9.0);
        assert_eq!(p.seconds_per_iteration(4.0), Some(9.0));
    }

    #[test]
    fn iterations_halve_at_each_finer_stage_and_add_up() {
        let s = TransferConfig {
            size: 2048,
            multiscale_start: 256,
            iterations: 150,
            ..TransferConfig::default()
        };
        let its: Vec<u32> = plan(&s).iter().map(|s| s.iterations).collect();
        assert_eq!(its, vec![80, 40, 20, 10]);
        let s = TransferConfig { iterations: 2, ..s };
        let its: Vec<u32> = plan(&s).iter().map(|s| s.iterations).collect();
        assert!(its.iter().all(|&i| i >= 1), "{its:?}");
    }
}
