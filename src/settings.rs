//! The one description of a run. The studio edits it, the CLI parses into it, presets and PNG
//! metadata store it, so a result can always be reproduced from the file it was saved in.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Which optimizer drives the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// L-BFGS with a strong-Wolfe line search: best quality per evaluation.
    #[default]
    Lbfgs,
    /// Adam: cheaper iterations, steadier live preview.
    Adam,
}

/// Where the optimized image starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum InitKind {
    #[default]
    Content,
    Style,
    /// Seeded Gaussian noise around mid grey.
    Noise,
    /// The content painted in one pass by the instant (arbitrary-style) network with the first
    /// style image: the optimizer starts from a stylized picture and refines it.
    Instant,
}

/// Requested compute device; `Auto` prefers a GPU and falls back to the CPU explicitly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum DeviceChoice {
    #[default]
    Auto,
    Cpu,
    Cuda,
    Metal,
}

/// How pixels are fed to the network; depends on how the weights were trained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preprocess {
    /// BGR, 0..255, minus the ImageNet mean (Caffe/Keras VGG).
    Caffe,
    /// RGB, 0..1, ImageNet mean/std (torchvision).
    Torch,
}

/// How the result's colours are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ColourMode {
    /// The style's colours (classic Gatys).
    #[default]
    Style,
    /// Luminance-only transfer: optimize, then take the chroma (YIQ I/Q) from the content.
    Luminance,
    /// Match the style image's colour histogram to the content's before the run.
    Histogram,
}

/// How the network pools between its blocks (`engine::pooling`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Pooling {
    /// The maximum of each 2×2 window, as VGG was trained. What files without this field were
    /// made with.
    #[default]
    Max,
    /// The window's average (Gatys et al.'s choice): the gradient reaches every pixel, so
    /// strokes come out longer and more coherent.
    Average,
}

/// One more style image, blended with the main one (neural-style's `-style_blend_weights`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StyleRef {
    pub path: PathBuf,
    pub weight: f32,
}

/// A style layer and the weight of its term.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerWeight {
    pub layer: String,
    pub weight: f32,
}

impl LayerWeight {
    pub fn new(layer: impl Into<String>, weight: f32) -> Self {
        Self {
            layer: layer.into(),
            weight,
        }
    }
}

/// How the content and style terms are scaled before α and β apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LossScale {
    /// neural-style's raw mean squared errors: the balance between style layers depends on the
    /// network (with Caffe VGG16, relu1_1/relu2_1 hold ~99% of the style loss: small strokes).
    /// What files without this field were made with.
    #[default]
    Classic,
    /// Each term divided by its target's mean square (mean(P²) for content, mean(A²) per style
    /// layer), so every layer pulls comparably, whatever the network or its preprocessing.
    Normalized,
}

/// What a style layer's term compares between the image and the painting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum StyleLoss {
    /// Gram matrices' mean squared difference (Gatys et al.). What files without this field
    /// were made with.
    #[default]
    Gram,
    /// The 2-Wasserstein distance between the features' means and covariances on the layers
    /// of at most [`MIXED_MAX_CHANNELS`] channels (VGG's relu1_x and relu2_x: colour,
    /// contrast, fine brush texture), Gram matrices on the wider ones: W2's colours for ~3 %
    /// of an iteration. relu3_1 (256 channels) too looked the same and cost 10 % more at
    /// 256 px; W2 on the 512-channel layers costs 20–70 % more.
    Mixed,
    /// The 2-Wasserstein distance between the features' means and covariances on every style
    /// layer (`engine::wasserstein`).
    Wasserstein,
}

/// The widest layer [`StyleLoss::Mixed`] compares by its Wasserstein distance: the matrix
/// square roots cost `C³` a step, so 256 channels cost eight times 128 ([12], docs/gallery.md).
pub const MIXED_MAX_CHANNELS: usize = 128;

impl StyleLoss {
    /// Whether a style layer of `channels` channels takes the Wasserstein term.
    pub fn wasserstein_at(self, channels: usize) -> bool {
        match self {
            StyleLoss::Gram => false,
            StyleLoss::Mixed => channels <= MIXED_MAX_CHANNELS,
            StyleLoss::Wasserstein => true,
        }
    }
}

/// The loss weights that may change while a run is going (the artist steers live).
/// Missing fields take the defaults (a hand-written preset may give only some), except `scale`:
/// files from before it existed were made with the classic terms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LossWeights {
    /// alpha
    pub content_weight: f32,
    /// beta
    pub style_weight: f32,
    pub tv_weight: f32,
    /// Weight of the penalty on pixels outside 0..255 (see `engine::loss::range_loss`).
    /// Files without it were made without the term.
    #[serde(default)]
    pub range_weight: f32,
    pub content_layers: Vec<String>,
    pub style_layers: Vec<LayerWeight>,
    #[serde(default)]
    pub scale: LossScale,
    /// Files without it were made with Gram matrices.
    #[serde(default)]
    pub style_loss: StyleLoss,
    /// The content weight of the output-size stage of a coarse-to-fine run, as a multiple of
    /// α: the coarse stages lay down large strokes at α, the last one keeps the photo's edges
    /// under them ([`LossWeights::at_stage`]). Files without it were made with 1.
    #[serde(default = "one")]
    pub detail_weight: f32,
}

fn one() -> f32 {
    1.0
}

impl LossWeights {
    /// The weights' own rules, the same for a run's start and for a live change while it runs.
    pub fn check(&self) -> Result<(), Invalid> {
        let bad = |field: &'static str, message: String| Err(Invalid { field, message });
        let w = self;
        for (field, name, v) in [
            ("content_weight", "content weight", w.content_weight),
            ("style_weight", "style weight", w.style_weight),
            ("tv_weight", "TV weight", w.tv_weight),
            ("range_weight", "range weight", w.range_weight),
            ("detail_weight", "detail weight", w.detail_weight),
        ] {
            if !v.is_finite() || v < 0.0 {
                return bad(
                    field,
                    format!("{name} must be a finite number ≥ 0, got {v}"),
                );
            }
        }
        for lw in &w.style_layers {
            if !lw.weight.is_finite() || lw.weight < 0.0 {
                return bad(
                    "style_layer_weights",
                    format!(
                        "style layer {} weight must be a finite number ≥ 0, got {}",
                        lw.layer, lw.weight
                    ),
                );
            }
        }
        if w.content_layers.is_empty() && w.style_layers.is_empty() {
            return bad(
                "style_layers",
                "select at least one content or style layer".into(),
            );
        }
        Ok(())
    }

    /// The weights one stage optimizes: the last stage of a coarse-to-fine run (`fine`) weighs
    /// the content by `α · detail_weight`, every other stage (and a single-stage run) by α.
    pub fn at_stage(&self, fine: bool) -> LossWeights {
        let mut w = self.clone();
        if fine {
            w.content_weight *= self.detail_weight;
        }
        w
    }
}

impl Default for LossWeights {
    fn default() -> Self {
        Self {
            // Chosen by looking (docs/gallery.md): with normalized terms, β/α = 10 gives Van
            // Gogh's large strokes at the coarse stages; the magnitudes keep the total in the
            // hundreds to thousands, where L-BFGS's absolute tolerances behave.
            content_weight: 1e3,
            style_weight: 1e4,
            tv_weight: 1e-5,
            // Keeps the picture inside what a PNG can hold at no visible cost (docs/speed.md).
            range_weight: 1e-2,
            content_layers: vec!["relu4_2".into()],
            style_layers: ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]
                .into_iter()
                .map(|l| LayerWeight::new(l, 1.0))
                .collect(),
            scale: LossScale::Normalized,
            // Over the nine pairs of [12], darker, richer colours and crisper structures than
            // Gram matrices, for ~3 % of an iteration (docs/gallery.md).
            style_loss: StyleLoss::Mixed,
            // α×5 at 512 px keeps houses, spires and faces legible under those strokes (at α×3
            // everywhere instead, Van Gogh's swirls broke up; [12], docs/gallery.md).
            detail_weight: 5.0,
        }
    }
}

/// Everything that defines a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub content: Option<PathBuf>,
    /// The main style image.
    pub style: Option<PathBuf>,
    /// Blend weight of the main style image relative to `extra_styles` (weights are normalized).
    pub style_blend_weight: f32,
    /// More style images, each with its blend weight.
    pub extra_styles: Vec<StyleRef>,
    /// Grayscale mask at any size: white gets the style, black keeps the content.
    pub mask: Option<PathBuf>,
    pub colour: ColourMode,
    /// Coarse-to-fine: the first stage's longest side (stages double up to `size`); 0 = one stage.
    /// Default 256: the coarse stage lays down Van Gogh-sized strokes that a single 512 stage
    /// renders as fine texture, and its iterations cost a quarter.
    pub multiscale_start: u32,
    /// Longest side of the output in pixels.
    pub size: u32,
    pub iterations: u32,
    /// Iterations of each coarse-to-fine stage, coarsest first; empty = `iterations` split by
    /// the schedule's rule (see `engine::schedule::plan`).
    pub stage_iterations: Vec<u32>,
    pub optimizer: OptimizerKind,
    /// Adam learning rate in 0..255 pixel units.
    pub learning_rate: f32,
    /// L-BFGS history length.
    pub lbfgs_history: usize,
    /// Levels of the pyramid the optimizer moves (`engine::pyramid`); 1 = plain pixels, as
    /// files without this field were made.
    #[serde(default = "pixels_only")]
    pub pyramid_levels: u32,
    #[serde(flatten)]
    pub weights: LossWeights,
    pub init: InitKind,
    pub seed: u64,
    pub device: DeviceChoice,
    /// Worker threads for CPU compute; 0 means "all cores".
    pub threads: usize,
    /// Explicit weights file; otherwise the usual search path.
    pub weights_path: Option<PathBuf>,
    /// Overrides the weight file's own `preprocess` metadata.
    pub preprocess: Option<Preprocess>,
    /// Style image's longest side relative to the output's.
    pub style_scale: f32,
    /// The network's pooling; max pooling, as files without this field were made.
    #[serde(default)]
    pub pooling: Pooling,
}

/// The stage sizes for a run: `[size]` when multi-scale is off (0) or starts at or above `size`.
pub fn stage_sizes(multiscale_start: u32, size: u32) -> Vec<u32> {
    if multiscale_start == 0 || multiscale_start >= size {
        return vec![size];
    }
    let mut sizes = Vec::new();
    let mut s = multiscale_start.max(16);
    while s < size {
        sizes.push(s);
        s = s.saturating_mul(2);
    }
    sizes.push(size);
    sizes
}

fn pixels_only() -> u32 {
    1
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            content: None,
            style: None,
            style_blend_weight: 1.0,
            extra_styles: Vec::new(),
            mask: None,
            colour: ColourMode::Style,
            multiscale_start: 256,
            size: 512,
            iterations: 150,
            stage_iterations: Vec::new(),
            optimizer: OptimizerKind::Lbfgs,
            learning_rate: 10.0,
            lbfgs_history: 100,
            pyramid_levels: 5,
            weights: LossWeights::default(),
            init: InitKind::Content,
            seed: 0,
            device: DeviceChoice::Auto,
            threads: 0,
            weights_path: None,
            preprocess: None,
            style_scale: 1.0,
            // Average pooling gave longer strokes but blurred the photo's edges ([12]).
            pooling: Pooling::Max,
        }
    }
}

/// A setting out of range: which field, and a message that says how to fix it. The CLI names
/// the flag (`field` → `--flag`), the studio shows the message next to its control.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// The `Settings` field, as serde names it (e.g. `style_scale`).
    pub field: &'static str,
    pub message: String,
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Longest side of an output (and of the style image after `style_scale`).
pub const MAX_SIZE: u32 = 8192;
/// More iterations than anyone waits for; beyond it a typo is likelier than a wish.
pub const MAX_ITERATIONS: u32 = 100_000;
/// CPU threads beyond this only add memory (each keeps a workspace), never speed.
pub const MAX_THREADS: usize = 1024;
/// The style image's size relative to the output.
pub const STYLE_SCALE_RANGE: (f32, f32) = (0.01, 4.0);
pub const MAX_LBFGS_HISTORY: usize = 1000;

impl Settings {
    /// How many style images the run blends: the main one and the extras.
    pub fn style_count(&self) -> usize {
        1 + self.extra_styles.len()
    }

    /// Checks what a user can get wrong, with a message that says how to fix it.
    pub fn validate(&self) -> Result<(), String> {
        self.check().map_err(|e| e.message)
    }

    /// [`Settings::validate`], saying which field is wrong.
    pub fn check(&self) -> Result<(), Invalid> {
        let bad = |field: &'static str, message: String| Err(Invalid { field, message });
        if self.size < 16 {
            return bad(
                "size",
                format!(
                    "size {} is too small: use at least 16 pixels on the longest side",
                    self.size
                ),
            );
        }
        if self.size > MAX_SIZE {
            return bad(
                "size",
                format!(
                    "size {} is too large: use at most {MAX_SIZE} pixels on the longest side",
                    self.size
                ),
            );
        }
        self.weights.check()?;
        for (field, name, v) in [
            ("learning_rate", "learning rate", self.learning_rate),
            ("style_scale", "style scale", self.style_scale),
            (
                "style_blend_weight",
                "style blend weight",
                self.style_blend_weight,
            ),
        ] {
            if !v.is_finite() || v < 0.0 {
                return bad(
                    field,
                    format!("{name} must be a finite number ≥ 0, got {v}"),
                );
            }
        }
        if self.learning_rate == 0.0 && self.optimizer == OptimizerKind::Adam {
            return bad("learning_rate", "learning rate must be > 0 for Adam".into());
        }
        let (lo, hi) = STYLE_SCALE_RANGE;
        if !(lo..=hi).contains(&self.style_scale) {
            return bad(
                "style_scale",
                format!(
                    "style scale {} is out of range: use {lo} to {hi} (the style image's size \
                     relative to the output; 1 = the same size)",
                    self.style_scale
                ),
            );
        }
        let style_side = f64::from(self.size) * f64::from(self.style_scale);
        if style_side > f64::from(MAX_SIZE) {
            return bad(
                "style_scale",
                format!(
                    "style scale {} at size {} makes the style image {style_side:.0} pixels \
                     long, more than {MAX_SIZE}: lower the style scale or the size",
                    self.style_scale, self.size
                ),
            );
        }
        for st in &self.extra_styles {
            if !st.weight.is_finite() || st.weight < 0.0 {
                return bad(
                    "style_blend_weight",
                    format!(
                        "blend weight of style {} must be a finite number ≥ 0, got {}",
                        st.path.display(),
                        st.weight
                    ),
                );
            }
        }
        let blend: f32 =
            self.style_blend_weight + self.extra_styles.iter().map(|s| s.weight).sum::<f32>();
        if blend <= 0.0 {
            return bad(
                "style_blend_weight",
                "all style blend weights are 0: give at least one style a positive weight".into(),
            );
        }
        if self.multiscale_start != 0 && self.multiscale_start < 16 {
            return bad(
                "multiscale_start",
                format!(
                    "multi-scale start {} is too small: use at least 16 pixels, or 0 for a single stage",
                    self.multiscale_start
                ),
            );
        }
        if self.iterations == 0 {
            return bad(
                "iterations",
                "iterations must be at least 1 (0 would still paint one per stage)".into(),
            );
        }
        if self.iterations > MAX_ITERATIONS {
            return bad(
                "iterations",
                format!(
                    "{} iterations is more than {MAX_ITERATIONS}: a run converges long before; use fewer",
                    self.iterations
                ),
            );
        }
        if !self.stage_iterations.is_empty() {
            let stages = stage_sizes(self.multiscale_start, self.size);
            if self.stage_iterations.len() != stages.len() {
                return bad(
                    "stage_iterations",
                    format!(
                        "stage iterations give {} counts but the run has {} stages ({}); give one count per stage",
                        self.stage_iterations.len(),
                        stages.len(),
                        stages.iter().map(u32::to_string).collect::<Vec<_>>().join(" → ")
                    ),
                );
            }
            if self.stage_iterations.contains(&0) {
                return bad(
                    "stage_iterations",
                    "every stage needs at least one iteration".into(),
                );
            }
            if self
                .stage_iterations
                .iter()
                .map(|&n| u64::from(n))
                .sum::<u64>()
                > u64::from(MAX_ITERATIONS)
            {
                return bad(
                    "stage_iterations",
                    format!(
                        "the stages add up to more than {MAX_ITERATIONS} iterations: use fewer"
                    ),
                );
            }
        }
        if !(1..=8).contains(&self.pyramid_levels) {
            return bad(
                "pyramid_levels",
                format!(
                    "pyramid levels {} is out of range: use 1 (plain pixels) to 8",
                    self.pyramid_levels
                ),
            );
        }
        if self.lbfgs_history == 0 || self.lbfgs_history > MAX_LBFGS_HISTORY {
            return bad(
                "lbfgs_history",
                format!(
                    "L-BFGS history {} is out of range: use 1 to {MAX_LBFGS_HISTORY} (default 100)",
                    self.lbfgs_history
                ),
            );
        }
        if self.threads > MAX_THREADS {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            return bad(
                "threads",
                format!(
                    "{} threads is more than {MAX_THREADS}: this machine has {cores} cores; use 0 to use them all",
                    self.threads
                ),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The studio's live steering and a run's start use one check of the loss weights (the
    /// live one used to skip the range weight).
    #[test]
    fn loss_weights_have_one_check() {
        let mut w = LossWeights {
            range_weight: f32::NAN,
            ..LossWeights::default()
        };
        let e = w.check().expect_err("NaN range weight");
        assert_eq!(e.field, "range_weight");
        let s = Settings {
            weights: w.clone(),
            ..Settings::default()
        };
        assert_eq!(s.check(), Err(e));
        w.range_weight = 0.0;
        w.content_layers.clear();
        w.style_layers.clear();
        assert_eq!(w.check().map_err(|e| e.field), Err("style_layers"));
    }

    #[test]
    fn partial_json_takes_defaults_and_old_files_keep_classic_terms() {
        let s: Settings = serde_json::from_str(r#"{"style_weight": 42.0, "size": 300}"#)
            .expect("a partial preset parses");
        assert_eq!(s.size, 300);
        assert_eq!(s.weights.style_weight, 42.0);
        assert_eq!(
            s.weights.content_weight,
            LossWeights::default().content_weight
        );
        assert_eq!(s.weights.style_layers, LossWeights::default().style_layers);
        // Written before `scale`, the pyramid and the range term existed: reproduce them as
        // they were made.
        assert_eq!(s.weights.scale, LossScale::Classic);
        assert_eq!(s.pyramid_levels, 1);
        assert_eq!(s.weights.range_weight, 0.0);
        assert!(s.stage_iterations.is_empty());
        let round: Settings =
            serde_json::from_str(&serde_json::to_string(&Settings::default()).unwrap()).unwrap();
        assert_eq!(round, Settings::default());
        assert_eq!(round.weights.scale, LossScale::Normalized);
        assert_eq!(
            (round.pyramid_levels, round.weights.range_weight),
            (5, 1e-2)
        );
    }
}
