//! Brush files: the generator's weights in safetensors, with what made them in the metadata
//! (architecture, training settings as JSON, the painting's name, steps, losses). Read back with
//! the same care as VGG files: every tensor's shape, dtype and values are checked, and a file
//! that is not a brush says what it is and what to do instead.
//!
//! Training checkpoints keep the optimizer and discriminator state in a second file beside the
//! brush (`brush.safetensors.train`), so the brush itself stays small and usable at any time.

use super::generator::GenArch;
use super::train::{LossPoint, TrainConfig, TrainCounters};
use candle_core::{DType, Device, Tensor};
use safetensors::tensor::TensorView;
use safetensors::Dtype;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// The `format` metadata value of a brush, and of its training state.
pub const FORMAT: &str = "atelier-brush";
pub const STATE_FORMAT: &str = "atelier-brush-train";
/// The brush file layout this build writes and reads. 2: the architecture names its border
/// (`GenArch::border`); an Atelier that reads only 1 would paint a format-2 brush wrongly.
pub const VERSION: u32 = 2;
/// No brush is near this (the default is ~300 kB); a larger file is not one.
const MAX_BYTES: u64 = 256 << 20;

#[derive(Debug, thiserror::Error)]
pub enum BrushError {
    #[error("brush {path}: {message}")]
    File { path: PathBuf, message: String },
}

fn err(path: &Path, message: impl Into<String>) -> BrushError {
    BrushError::File {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// What a brush file says about itself.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BrushInfo {
    pub version: u32,
    pub arch: GenArch,
    /// The training settings (`None` when the file's settings are from a newer Atelier).
    pub settings: Option<TrainConfig>,
    /// The painting's file name (no folders).
    pub painting: String,
    pub steps: u64,
    /// Seconds of training, over all sessions.
    pub seconds: f64,
    /// The last step's losses.
    pub losses: Option<LossPoint>,
}

/// A trained brush: weights by name plus its description.
#[derive(Debug, Clone)]
pub struct Brush {
    pub info: BrushInfo,
    pub weights: BTreeMap<String, Tensor>,
}

fn to_bytes(
    tensors: &BTreeMap<String, Tensor>,
    meta: HashMap<String, String>,
) -> candle_core::Result<Vec<u8>> {
    let mut raw: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for (k, t) in tensors {
        let v: Vec<f32> = t.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?;
        let bytes = v.iter().flat_map(|f| f.to_le_bytes()).collect();
        raw.push((k.clone(), t.dims().to_vec(), bytes));
    }
    let views = raw
        .iter()
        .map(|(k, shape, b)| {
            TensorView::new(Dtype::F32, shape.clone(), b)
                .map(|v| (k.clone(), v))
                .map_err(|e| candle_core::Error::Msg(e.to_string()))
        })
        .collect::<candle_core::Result<Vec<_>>>()?;
    safetensors::serialize(views, Some(meta)).map_err(|e| candle_core::Error::Msg(e.to_string()))
}

impl Brush {
    pub fn to_bytes(&self) -> crate::Result<Vec<u8>> {
        let mut meta = HashMap::new();
        meta.insert("format".into(), FORMAT.into());
        meta.insert("version".into(), VERSION.to_string());
        meta.insert("arch".into(), self.info.arch.json());
        if let Some(s) = &self.info.settings {
            meta.insert("settings".into(), s.json());
        }
        meta.insert("painting".into(), self.info.painting.clone());
        meta.insert("steps".into(), self.info.steps.to_string());
        meta.insert("seconds".into(), format!("{:.1}", self.info.seconds));
        if let Some(l) = &self.info.losses {
            meta.insert("losses".into(), l.json());
        }
        Ok(to_bytes(&self.weights, meta)?)
    }

    /// Writes the brush atomically (a crash never leaves half a brush in place of a whole one).
    pub fn save(&self, path: &Path) -> crate::Result<()> {
        crate::image_io::write_atomic(path, &self.to_bytes()?)?;
        Ok(())
    }

    /// Reads and validates a brush file.
    pub fn load(path: &Path) -> Result<Self, BrushError> {
        let bytes = read_limited(path)?;
        Self::from_bytes(path, &bytes)
    }

    /// Validates `bytes` as a brush (`path` only names it in errors).
    pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<Self, BrushError> {
        let (_, header) = safetensors::SafeTensors::read_metadata(bytes).map_err(|e| {
            err(
                path,
                format!(
                    "this is not a safetensors file, or it is cut short ({e}); the file is \
                     damaged: copy it again, or train the brush again with `atelier train`"
                ),
            )
        })?;
        let meta = header.metadata().clone().unwrap_or_default();
        let st = safetensors::SafeTensors::deserialize(bytes).map_err(|e| {
            err(
                path,
                format!("the file is damaged ({e}); copy it again or train it again"),
            )
        })?;
        match meta.get("format").map(String::as_str) {
            Some(FORMAT) => {}
            Some(STATE_FORMAT) => {
                return Err(err(
                    path,
                    "this is a brush's training state (the .train file beside it), not the \
                     brush; pass the brush file itself",
                ))
            }
            other => {
                let vgg = st.names().iter().any(|n| n.starts_with("features."));
                let what = if vgg {
                    "it holds VGG network weights (use those with --weights)".to_string()
                } else {
                    match other {
                        Some(f) => format!("its format is {f:?}"),
                        None => "it has no atelier-brush format tag".into(),
                    }
                };
                return Err(err(
                    path,
                    format!(
                        "this is not an Atelier brush: {what}. Brushes are made by `atelier train`"
                    ),
                ));
            }
        }
        let version: u32 = meta
            .get("version")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| err(path, "the brush has no valid version tag; train it again"))?;
        if version > VERSION {
            return Err(err(
                path,
                format!(
                    "the brush was made by a newer Atelier (format {version}, this one reads \
                     {VERSION}); update Atelier"
                ),
            ));
        }
        let arch: GenArch = meta
            .get("arch")
            .and_then(|a| serde_json::from_str(a).ok())
            .ok_or_else(|| {
                err(
                    path,
                    "the brush does not say its architecture; train it again",
                )
            })?;
        if arch.channels.iter().any(|&c| c == 0 || c > 1024) || arch.blocks > 64 {
            return Err(err(
                path,
                format!("implausible architecture {arch:?}; the file is damaged"),
            ));
        }
        let mut weights = BTreeMap::new();
        for (name, shape) in arch.shapes() {
            let view = st.tensor(&name).map_err(|_| {
                err(
                    path,
                    format!("tensor {name} is missing; the file is damaged: train it again"),
                )
            })?;
            weights.insert(name.clone(), read_tensor(path, &name, &view, &shape)?);
        }
        let info = BrushInfo {
            version,
            arch,
            settings: meta
                .get("settings")
                .and_then(|v| serde_json::from_str(v).ok()),
            painting: meta.get("painting").cloned().unwrap_or_default(),
            steps: meta.get("steps").and_then(|s| s.parse().ok()).unwrap_or(0),
            seconds: meta
                .get("seconds")
                .and_then(|s| s.parse().ok())
                .unwrap_or(0.0),
            losses: meta
                .get("losses")
                .and_then(|v| serde_json::from_str(v).ok()),
        };
        Ok(Self { info, weights })
    }
}

fn read_limited(path: &Path) -> Result<Vec<u8>, BrushError> {
    let len = std::fs::metadata(path)
        .map_err(|e| err(path, format!("cannot read it ({e}); check the path")))?
        .len();
    if len > MAX_BYTES {
        return Err(err(
            path,
            format!(
                "it is {} MB, far larger than any brush; pass a brush made by `atelier train`",
                len >> 20
            ),
        ));
    }
    std::fs::read(path).map_err(|e| err(path, format!("cannot read it ({e})")))
}

/// Checks one tensor's shape, dtype and values and returns it as f32 on the CPU.
fn read_tensor(
    path: &Path,
    name: &str,
    view: &TensorView<'_>,
    shape: &[usize],
) -> Result<Tensor, BrushError> {
    if view.shape() != shape {
        return Err(err(
            path,
            format!(
                "tensor {name} has shape {:?}, expected {shape:?}; the file is damaged or from \
                 another program: train the brush again",
                view.shape()
            ),
        ));
    }
    let dtype = match view.dtype() {
        Dtype::F32 => DType::F32,
        Dtype::F16 => DType::F16,
        Dtype::BF16 => DType::BF16,
        Dtype::F64 => DType::F64,
        other => {
            return Err(err(
                path,
                format!(
                "tensor {name} has dtype {other:?}, expected a float type; train the brush again"
            ),
            ))
        }
    };
    let bad = |e: candle_core::Error| err(path, format!("tensor {name} could not be read: {e}"));
    let t = Tensor::from_raw_buffer(view.data(), dtype, shape, &Device::Cpu)
        .and_then(|t| t.to_dtype(DType::F32))
        .map_err(bad)?;
    let v: Vec<f32> = t.flatten_all().and_then(|t| t.to_vec1()).map_err(bad)?;
    if v.iter().any(|x| !x.is_finite()) {
        return Err(err(
            path,
            format!(
                "tensor {name} contains NaN or infinite values (training diverged, or the file \
                 is damaged); train the brush again, with a lower learning rate if it diverged"
            ),
        ));
    }
    Ok(t)
}

/// A checkpoint's training state: optimizer moments and discriminator (tensors), counters, the
/// loss curve so far.
pub struct TrainState {
    pub tensors: BTreeMap<String, Tensor>,
    pub counters: TrainCounters,
    pub curve: Vec<LossPoint>,
}

/// Where a brush's training state lives: beside it, `.train` appended.
pub fn state_path(brush: &Path) -> PathBuf {
    let mut s = brush.as_os_str().to_owned();
    s.push(".train");
    PathBuf::from(s)
}

impl TrainState {
    pub fn save(&self, path: &Path) -> crate::Result<()> {
        let mut meta = HashMap::new();
        meta.insert("format".into(), STATE_FORMAT.into());
        meta.insert("version".into(), VERSION.to_string());
        meta.insert("counters".into(), self.counters.json());
        meta.insert("curve".into(), self.curve.json());
        crate::image_io::write_atomic(path, &to_bytes(&self.tensors, meta)?)?;
        Ok(())
    }

    pub fn load(path: &Path) -> Result<Self, BrushError> {
        let bytes = read_limited(path)?;
        let damaged = |m: String| {
            err(
                path,
                format!("{m}; delete it to resume from the brush's weights alone"),
            )
        };
        let st = safetensors::SafeTensors::deserialize(&bytes)
            .map_err(|e| damaged(format!("the training state is damaged ({e})")))?;
        let (_, header) = safetensors::SafeTensors::read_metadata(&bytes)
            .map_err(|e| damaged(format!("the training state is damaged ({e})")))?;
        let meta = header.metadata().clone().unwrap_or_default();
        if meta.get("format").map(String::as_str) != Some(STATE_FORMAT) {
            return Err(damaged("this is not a brush training state".into()));
        }
        let counters = meta
            .get("counters")
            .and_then(|c| serde_json::from_str(c).ok())
            .ok_or_else(|| damaged("the training state has no counters".into()))?;
        let curve = meta
            .get("curve")
            .and_then(|c| serde_json::from_str(c).ok())
            .unwrap_or_default();
        let mut tensors = BTreeMap::new();
        for (name, view) in st.tensors() {
            let t = read_tensor(path, &name, &view, view.shape())?;
            tensors.insert(name, t);
        }
        Ok(Self {
            tensors,
            counters,
            curve,
        })
    }
}

/// JSON of a serializable value (these types always serialize).
mod erased {
    pub trait Json {
        fn json(&self) -> String;
    }
    impl<T: serde::Serialize> Json for T {
        fn json(&self) -> String {
            serde_json::to_string(self).unwrap_or_default()
        }
    }
}
use erased::Json;
