//! What the engine needs to know about a run, and nothing else: no file paths, no device, no
//! thread count. [`Settings`] is the user's whole description (where the pictures are, which
//! weights, which device); the engine takes this slice of it, already checked where the
//! settings entered (the CLI's flags, the worker's Start), and trusts it.

use crate::settings::{ColourMode, InitKind, LossWeights, OptimizerKind, Pooling, Settings};

/// One run's optimization, as the engine sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct TransferConfig {
    /// Longest side of the output in pixels.
    pub size: u32,
    /// Iterations of the whole run (all stages).
    pub iterations: u32,
    /// Iterations per coarse-to-fine stage, coarsest first; empty = split by the schedule's rule.
    pub stage_iterations: Vec<u32>,
    /// The first stage's longest side; 0 = one stage.
    pub multiscale_start: u32,
    pub optimizer: OptimizerKind,
    /// Adam's learning rate in 0..255 pixel units.
    pub learning_rate: f32,
    pub lbfgs_history: usize,
    /// Levels of the image pyramid the optimizer moves; 1 = plain pixels.
    pub pyramid_levels: u32,
    pub weights: LossWeights,
    pub init: InitKind,
    pub seed: u64,
    pub colour: ColourMode,
    /// The style image's longest side relative to the output's.
    pub style_scale: f32,
    /// The network's pooling layers.
    pub pooling: Pooling,
}

impl From<&Settings> for TransferConfig {
    fn from(s: &Settings) -> Self {
        Self {
            size: s.size,
            iterations: s.iterations,
            stage_iterations: s.stage_iterations.clone(),
            multiscale_start: s.multiscale_start,
            optimizer: s.optimizer,
            learning_rate: s.learning_rate,
            lbfgs_history: s.lbfgs_history,
            pyramid_levels: s.pyramid_levels,
            weights: s.weights.clone(),
            init: s.init,
            seed: s.seed,
            colour: s.colour,
            style_scale: s.style_scale,
            pooling: s.pooling,
        }
    }
}

impl Default for TransferConfig {
    fn default() -> Self {
        Self::from(&Settings::default())
    }
}

impl TransferConfig {
    /// The same run as one stage of `size` with `iterations` (how a multi-scale schedule runs
    /// each of its stages).
    pub fn single_stage(&self, size: u32, iterations: u32) -> Self {
        Self {
            size,
            iterations,
            stage_iterations: Vec::new(),
            multiscale_start: 0,
            ..self.clone()
        }
    }
}
