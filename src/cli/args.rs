//! Command-line flags, parsed into the one `Settings` type.

use atelier::settings::{
    ColourMode, DeviceChoice, InitKind, Invalid, LayerWeight, LossScale, OptimizerKind, Pooling,
    Preprocess, Settings, StyleLoss, StyleRef,
};
use clap::{Args, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OptimizerArg {
    Lbfgs,
    Adam,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum InitArg {
    Content,
    Style,
    Noise,
    /// Start from the instant (feed-forward) stylization with the style image
    Instant,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DeviceArg {
    Auto,
    Cpu,
    Cuda,
    Metal,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ColourArg {
    /// The style's colours
    Style,
    /// Keep the content's chroma (YIQ I/Q), the result's luminance
    Luminance,
    /// Recolour the style images to the content's colour mean/covariance first
    Histogram,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PreprocessArg {
    Caffe,
    Torch,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LossScaleArg {
    /// neural-style's raw terms (what the PyTorch reference computes)
    Classic,
    /// each content/style layer divided by its target's mean square
    Normalized,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum StyleLossArg {
    /// Gram matrices' squared difference (Gatys et al., neural-style)
    Gram,
    /// Wasserstein on the layers of up to 128 channels (relu1_x, relu2_x), Gram on the wider ones
    Mixed,
    /// 2-Wasserstein distance between the features' means and covariances, every layer
    Wasserstein,
}

impl From<StyleLossArg> for StyleLoss {
    fn from(v: StyleLossArg) -> Self {
        match v {
            StyleLossArg::Gram => StyleLoss::Gram,
            StyleLossArg::Mixed => StyleLoss::Mixed,
            StyleLossArg::Wasserstein => StyleLoss::Wasserstein,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PoolingArg {
    /// The maximum of each window, as VGG was trained
    Max,
    /// The window's average: longer strokes, softer edges
    Average,
}

/// Flags shared by every command that builds a network.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// VGG16/VGG19 safetensors file (default: $ATELIER_WEIGHTS, ./weights/, next to the binary, the download cache)
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Override the weight file's preprocessing metadata
    #[arg(long, value_enum)]
    pub preprocess: Option<PreprocessArg>,
    /// CPU threads (0 = all cores) [default: 0]
    #[arg(long)]
    pub threads: Option<usize>,
    /// [default: auto]
    #[arg(long, value_enum)]
    pub device: Option<DeviceArg>,
}

/// The loss flags of `render` and `losses`.
#[derive(Debug, Clone, Args)]
pub struct LossArgs {
    /// Start from these settings: a preset JSON or a PNG rendered by Atelier; flags override them
    #[arg(long)]
    pub settings: Option<PathBuf>,
    /// Content image
    #[arg(long)]
    pub content: Option<PathBuf>,
    /// Style image(s): repeat the flag or separate with commas; the first is the main style
    #[arg(long, value_delimiter = ',')]
    pub style: Vec<PathBuf>,
    /// One blend weight per style image, comma separated (normalized to sum to 1)
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
    pub style_blend_weights: Option<Vec<f32>>,
    /// Colours of the result: the style's, or the content's (luminance or histogram transfer)
    #[arg(long, value_enum, alias = "color")]
    pub colour: Option<ColourArg>,
    /// Longest side of the output in pixels
    #[arg(long)]
    pub size: Option<u32>,
    /// Content weight (alpha)
    #[arg(long, allow_negative_numbers = true)]
    pub content_weight: Option<f32>,
    /// Style weight (beta)
    #[arg(long, allow_negative_numbers = true)]
    pub style_weight: Option<f32>,
    /// Content weight of the last coarse-to-fine stage, times alpha (default: 5)
    #[arg(long, allow_negative_numbers = true)]
    pub detail_weight: Option<f32>,
    /// Total-variation weight (smoothness)
    #[arg(long, allow_negative_numbers = true)]
    pub tv_weight: Option<f32>,
    /// Weight of the penalty on pixel values outside 0..255 (0 = off) [default: 1e-2]
    #[arg(long, allow_negative_numbers = true)]
    pub range_weight: Option<f32>,
    /// Content layers, comma separated (e.g. relu4_2)
    #[arg(long, value_delimiter = ',')]
    pub content_layers: Option<Vec<String>>,
    /// Style layers, comma separated (e.g. relu1_1,relu2_1,relu3_1,relu4_1,relu5_1)
    #[arg(long, value_delimiter = ',')]
    pub style_layers: Option<Vec<String>>,
    /// One weight per style layer, comma separated
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
    pub style_layer_weights: Option<Vec<f32>>,
    /// Style image size relative to the output
    #[arg(long)]
    pub style_scale: Option<f32>,
    /// How layer terms are scaled before the weights apply (default: normalized)
    #[arg(long, value_enum)]
    pub loss_scale: Option<LossScaleArg>,
    /// What each style layer compares (default: mixed)
    #[arg(long, value_enum)]
    pub style_loss: Option<StyleLossArg>,
    /// The network's pooling layers (default: max)
    #[arg(long, value_enum)]
    pub pooling: Option<PoolingArg>,
    #[command(flatten)]
    pub common: CommonArgs,
}

impl LossArgs {
    /// The settings to start from: `--settings FILE`, else the defaults.
    pub fn base(&self) -> Result<Settings, String> {
        match &self.settings {
            Some(p) => Settings::load_from_file(p).map_err(|e| e.to_string()),
            None => Ok(Settings::default()),
        }
    }

    /// Applies these flags on top of `base`.
    pub fn apply(&self, mut s: Settings) -> Result<Settings, String> {
        if let Some(c) = &self.content {
            s.content = Some(c.clone());
        }
        if let Some((first, rest)) = self.style.split_first() {
            s.style = Some(first.clone());
            s.style_blend_weight = 1.0;
            s.extra_styles = rest
                .iter()
                .map(|p| StyleRef {
                    path: p.clone(),
                    weight: 1.0,
                })
                .collect();
        }
        if let Some(w) = &self.style_blend_weights {
            let n = 1 + s.extra_styles.len();
            if w.len() != n || s.style.is_none() {
                return Err(format!(
                    "--style-blend-weights has {} values but there are {n} style images; give one weight per --style",
                    w.len()
                ));
            }
            s.style_blend_weight = w[0];
            for (st, v) in s.extra_styles.iter_mut().zip(&w[1..]) {
                st.weight = *v;
            }
        }
        if let Some(c) = self.colour {
            s.colour = match c {
                ColourArg::Style => ColourMode::Style,
                ColourArg::Luminance => ColourMode::Luminance,
                ColourArg::Histogram => ColourMode::Histogram,
            };
        }
        if let Some(v) = self.size {
            s.size = v;
        }
        if let Some(v) = self.detail_weight {
            s.weights.detail_weight = v;
        }
        if let Some(v) = self.content_weight {
            s.weights.content_weight = v;
        }
        if let Some(v) = self.style_weight {
            s.weights.style_weight = v;
        }
        if let Some(v) = self.tv_weight {
            s.weights.tv_weight = v;
        }
        if let Some(v) = self.range_weight {
            s.weights.range_weight = v;
        }
        if let Some(v) = self.style_scale {
            s.style_scale = v;
        }
        if let Some(v) = self.loss_scale {
            s.weights.scale = match v {
                LossScaleArg::Classic => LossScale::Classic,
                LossScaleArg::Normalized => LossScale::Normalized,
            };
        }
        if let Some(v) = self.style_loss {
            s.weights.style_loss = v.into();
        }
        if let Some(v) = self.pooling {
            s.pooling = match v {
                PoolingArg::Max => Pooling::Max,
                PoolingArg::Average => Pooling::Average,
            };
        }
        if let Some(v) = &self.content_layers {
            s.weights.content_layers = v.iter().map(|l| l.trim().to_string()).collect();
        }
        if let Some(v) = &self.style_layers {
            s.weights.style_layers = v.iter().map(|l| LayerWeight::new(l.trim(), 1.0)).collect();
        }
        if let Some(w) = &self.style_layer_weights {
            if w.len() != s.weights.style_layers.len() {
                return Err(format!(
                    "--style-layer-weights has {} values but there are {} style layers ({}); give one weight per layer",
                    w.len(),
                    s.weights.style_layers.len(),
                    s.weights
                        .style_layers
                        .iter()
                        .map(|l| l.layer.as_str())
                        .collect::<Vec<_>>()
                        .join(",")
                ));
            }
            for (lw, v) in s.weights.style_layers.iter_mut().zip(w) {
                lw.weight = *v;
            }
        }
        if let Some(w) = &self.common.weights {
            s.weights_path = Some(w.clone());
        }
        if let Some(t) = self.common.threads {
            s.threads = t;
        }
        if let Some(d) = self.common.device {
            s.device = device_choice(d);
        }
        if let Some(p) = self.common.preprocess {
            s.preprocess = Some(match p {
                PreprocessArg::Caffe => Preprocess::Caffe,
                PreprocessArg::Torch => Preprocess::Torch,
            });
        }
        s.check().map_err(flag_error)?;
        Ok(s)
    }
}

/// A settings error in the CLI's words: the flag that sets the field leads the message.
pub fn flag_error(e: Invalid) -> String {
    let flag = match e.field {
        "size" => "--size",
        "content_weight" => "--content-weight",
        "detail_weight" => "--detail-weight",
        "style_weight" => "--style-weight",
        "tv_weight" => "--tv-weight",
        "range_weight" => "--range-weight",
        "learning_rate" => "--lr",
        "style_scale" => "--style-scale",
        "style_blend_weight" => "--style-blend-weights",
        "style_layer_weights" => "--style-layer-weights",
        "style_layers" => "--style-layers",
        "multiscale_start" => "--multiscale-start",
        "iterations" => "--iters",
        "stage_iterations" => "--stage-iters",
        "pyramid_levels" => "--pyramid",
        "lbfgs_history" => "--history",
        "threads" => "--threads",
        _ => return e.message,
    };
    format!("{flag}: {}", e.message)
}

/// `atelier render` flags.
#[derive(Debug, Clone, Args)]
pub struct RenderArgs {
    #[command(flatten)]
    pub loss: LossArgs,
    /// Output PNG
    #[arg(long)]
    pub out: PathBuf,
    /// Optimizer iterations, all stages together
    #[arg(long)]
    pub iters: Option<u32>,
    /// Iterations of each coarse-to-fine stage, coarsest first (e.g. 120,40,12); overrides --iters
    #[arg(long, value_delimiter = ',')]
    pub stage_iters: Option<Vec<u32>>,
    #[arg(long, value_enum)]
    pub optimizer: Option<OptimizerArg>,
    /// Adam learning rate, in 0..255 pixel units
    #[arg(long, allow_negative_numbers = true)]
    pub lr: Option<f32>,
    /// L-BFGS history length
    #[arg(long)]
    pub history: Option<usize>,
    /// Levels of the image pyramid the optimizer moves (1 = plain pixels) [default: 5]
    #[arg(long)]
    pub pyramid: Option<u32>,
    #[arg(long, value_enum)]
    pub init: Option<InitArg>,
    #[arg(long)]
    pub seed: Option<u64>,
    /// Grayscale mask, any size: white gets the style, black keeps the content
    #[arg(long)]
    pub mask: Option<PathBuf>,
    /// Coarse to fine: first stage's longest side; stages double up to --size (0 = one stage)
    #[arg(long)]
    pub multiscale_start: Option<u32>,
    /// Also save these settings as a preset JSON file
    #[arg(long)]
    pub save_preset: Option<PathBuf>,
    /// Print one JSON object as the last line of stdout
    #[arg(long)]
    pub json: bool,
    /// Replace --out (and --save-preset) if it already exists
    #[arg(long, alias = "overwrite")]
    pub force: bool,
}

impl RenderArgs {
    pub fn settings(&self) -> Result<Settings, String> {
        let mut s = self.loss.base()?;
        if let Some(v) = &self.mask {
            s.mask = Some(v.clone());
        }
        if let Some(v) = self.multiscale_start {
            s.multiscale_start = v;
        }
        if let Some(v) = self.iters {
            s.iterations = v;
            s.stage_iterations.clear();
        }
        if let Some(v) = &self.stage_iters {
            s.iterations = v.iter().sum();
            s.stage_iterations = v.clone();
        }
        if let Some(v) = self.optimizer {
            s.optimizer = match v {
                OptimizerArg::Lbfgs => OptimizerKind::Lbfgs,
                OptimizerArg::Adam => OptimizerKind::Adam,
            };
        }
        if let Some(v) = self.lr {
            s.learning_rate = v;
        }
        if let Some(v) = self.history {
            s.lbfgs_history = v;
        }
        if let Some(v) = self.pyramid {
            s.pyramid_levels = v;
        }
        if let Some(v) = self.init {
            s.init = match v {
                InitArg::Content => InitKind::Content,
                InitArg::Style => InitKind::Style,
                InitArg::Noise => InitKind::Noise,
                InitArg::Instant => InitKind::Instant,
            };
        }
        if let Some(v) = self.seed {
            s.seed = v;
        }
        self.loss.apply(s)
    }
}

pub fn device_choice(d: DeviceArg) -> DeviceChoice {
    match d {
        DeviceArg::Auto => DeviceChoice::Auto,
        DeviceArg::Cpu => DeviceChoice::Cpu,
        DeviceArg::Cuda => DeviceChoice::Cuda,
        DeviceArg::Metal => DeviceChoice::Metal,
    }
}
