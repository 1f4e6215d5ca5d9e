//! Command-line flags, parsed into the one `Settings` type.

use atelier::settings::{DeviceChoice, InitKind, LayerWeight, OptimizerKind, Preprocess, Settings};
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
pub enum PreprocessArg {
    Caffe,
    Torch,
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
    /// CPU threads (0 = all cores)
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    #[arg(long, value_enum, default_value = "auto")]
    pub device: DeviceArg,
}

/// The loss flags of `render` and `losses`.
#[derive(Debug, Clone, Args)]
pub struct LossArgs {
    /// Content image
    #[arg(long)]
    pub content: PathBuf,
    /// Style image
    #[arg(long)]
    pub style: PathBuf,
    /// Longest side of the output in pixels
    #[arg(long)]
    pub size: Option<u32>,
    /// Content weight (alpha)
    #[arg(long, allow_negative_numbers = true)]
    pub content_weight: Option<f32>,
    /// Style weight (beta)
    #[arg(long, allow_negative_numbers = true)]
    pub style_weight: Option<f32>,
    /// Total-variation weight (smoothness)
    #[arg(long, allow_negative_numbers = true)]
    pub tv_weight: Option<f32>,
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
    #[command(flatten)]
    pub common: CommonArgs,
}

impl LossArgs {
    /// Applies these flags on top of `base`.
    pub fn apply(&self, mut s: Settings) -> Result<Settings, String> {
        s.content = Some(self.content.clone());
        s.style = Some(self.style.clone());
        if let Some(v) = self.size {
            s.size = v;
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
        if let Some(v) = self.style_scale {
            s.style_scale = v;
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
        s.weights_path = self.common.weights.clone();
        s.threads = self.common.threads;
        s.device = device_choice(self.common.device);
        s.preprocess = self.common.preprocess.map(|p| match p {
            PreprocessArg::Caffe => Preprocess::Caffe,
            PreprocessArg::Torch => Preprocess::Torch,
        });
        s.validate()?;
        Ok(s)
    }
}

/// `atelier render` flags.
#[derive(Debug, Clone, Args)]
pub struct RenderArgs {
    #[command(flatten)]
    pub loss: LossArgs,
    /// Output PNG
    #[arg(long)]
    pub out: PathBuf,
    /// Optimizer iterations
    #[arg(long)]
    pub iters: Option<u32>,
    #[arg(long, value_enum)]
    pub optimizer: Option<OptimizerArg>,
    /// Adam learning rate, in 0..255 pixel units
    #[arg(long, allow_negative_numbers = true)]
    pub lr: Option<f32>,
    /// L-BFGS history length
    #[arg(long)]
    pub history: Option<usize>,
    #[arg(long, value_enum)]
    pub init: Option<InitArg>,
    #[arg(long)]
    pub seed: Option<u64>,
    /// Print one JSON object as the last line of stdout
    #[arg(long)]
    pub json: bool,
}

impl RenderArgs {
    pub fn settings(&self) -> Result<Settings, String> {
        let mut s = Settings::default();
        if let Some(v) = self.iters {
            s.iterations = v;
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
