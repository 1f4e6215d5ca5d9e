//! VGG16/VGG19 feature extractors from safetensors files with torchvision names.
//!
//! The architecture is read off the tensors themselves, so any torchvision-named VGG file works
//! (a full timm checkpoint too: classifier tensors are ignored). The forward pass stops at the
//! deepest layer asked for, which is most of the saving when only shallow layers are selected.

use super::arch::{Arch, Layer, LayerKind};
use super::ops::ConvLayer;
use crate::error::{Error, Result};
use crate::settings::{Pooling, Preprocess};
use candle_core::{DType, Device, Tensor};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Refuse to read weight files larger than this (a full VGG19 checkpoint is ~575 MB).
const MAX_WEIGHTS_BYTES: u64 = 2 << 30;

pub struct Vgg {
    arch: Arch,
    layers: Vec<Layer>,
    convs: HashMap<usize, ConvLayer>,
    preprocess: Preprocess,
    /// Per-channel affine map from 0..255 RGB pixels to the network's input space.
    scale: Tensor,
    offset: Tensor,
    /// Caffe networks read BGR.
    bgr: bool,
    device: Device,
    path: PathBuf,
}

impl std::fmt::Debug for Vgg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vgg")
            .field("arch", &self.arch)
            .field("preprocess", &self.preprocess)
            .field("path", &self.path)
            .finish()
    }
}

/// Tensors keyed by layer name.
pub type Features = HashMap<String, Tensor>;

impl Vgg {
    /// Loads and validates a weights file. `preprocess` overrides the file's own metadata;
    /// without either, torchvision preprocessing is assumed.
    pub fn load(path: &Path, device: &Device, preprocess: Option<Preprocess>) -> Result<Self> {
        let werr = |m: String| Error::weights(path, m);
        let len = std::fs::metadata(path)
            .map_err(|e| {
                werr(format!(
                    "cannot read it ({e}); check the path, or run `atelier weights fetch`"
                ))
            })?
            .len();
        if len > MAX_WEIGHTS_BYTES {
            return Err(werr(format!(
                "it is {} MB, too large for a VGG file; pass a VGG16/VGG19 safetensors file",
                len >> 20
            )));
        }
        let bytes = std::fs::read(path).map_err(|e| werr(format!("cannot read it: {e}")))?;
        // The same header checks (and VGG detection) as `atelier weights verify` and downloads.
        let info = crate::weights::inspect_bytes(path, &bytes)?;
        let st = safetensors::SafeTensors::deserialize(&bytes)
            .map_err(|e| werr(format!("not a valid safetensors file ({e})")))?;
        let arch = info.arch;
        let preprocess = match (preprocess, info.preprocess.as_deref()) {
            (Some(p), _) => p,
            (None, Some("caffe")) => Preprocess::Caffe,
            // `inspect` refuses any other value.
            (None, _) => Preprocess::Torch,
        };
        let mut convs = HashMap::new();
        for (index, out_c, in_c) in arch.conv_shapes() {
            let w = load_tensor(
                &st,
                &format!("features.{index}.weight"),
                &[out_c, in_c, 3, 3],
            )
            .map_err(&werr)?;
            let b = load_tensor(&st, &format!("features.{index}.bias"), &[out_c]).map_err(&werr)?;
            let conv = ConvLayer::new(w.to_device(device)?, b.to_device(device)?)?;
            convs.insert(index, conv);
        }
        Self::assemble(arch, convs, preprocess, device, DType::F32, path)
    }

    /// Builds a network from ready convolutions in `dtype`, without checking channel widths:
    /// for gradient checks in f64 on tiny random networks.
    pub fn from_convs(
        arch: Arch,
        convs: Vec<ConvLayer>,
        preprocess: Preprocess,
        device: &Device,
        dtype: DType,
    ) -> Result<Self> {
        let indices: Vec<usize> = arch.conv_shapes().iter().map(|c| c.0).collect();
        if convs.len() != indices.len() {
            return Err(Error::Settings(format!(
                "{arch} needs {} convolutions, got {}",
                indices.len(),
                convs.len()
            )));
        }
        let convs = indices.into_iter().zip(convs).collect();
        Self::assemble(
            arch,
            convs,
            preprocess,
            device,
            dtype,
            Path::new("<memory>"),
        )
    }

    fn assemble(
        arch: Arch,
        convs: HashMap<usize, ConvLayer>,
        preprocess: Preprocess,
        device: &Device,
        dtype: DType,
        path: &Path,
    ) -> Result<Self> {
        let (scale, offset, bgr) = match preprocess {
            // x_bgr - mean
            Preprocess::Caffe => ([1.0f32; 3], [103.939f32, 116.779, 123.68], true),
            // (x/255 - mean) / std
            Preprocess::Torch => {
                let mean = [0.485f32, 0.456, 0.406];
                let std = [0.229f32, 0.224, 0.225];
                (
                    [0, 1, 2].map(|c| 1.0 / (255.0 * std[c])),
                    [0, 1, 2].map(|c| mean[c] / std[c]),
                    false,
                )
            }
        };
        let chan = |v: [f32; 3]| {
            Tensor::from_vec(v.to_vec(), (1, 3, 1, 1), device).and_then(|t| t.to_dtype(dtype))
        };
        Ok(Self {
            arch,
            layers: arch.layers(),
            convs,
            preprocess,
            scale: chan(scale)?,
            offset: chan(offset)?,
            bgr,
            device: device.clone(),
            path: path.to_path_buf(),
        })
    }

    pub fn arch(&self) -> Arch {
        self.arch
    }

    pub fn preprocess_kind(&self) -> Preprocess {
        self.preprocess
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// ReLU layer names in order: what the studio offers as content and style layers.
    pub fn relu_names(&self) -> Vec<String> {
        self.arch.relu_names()
    }

    /// Checks a layer name, with the list of valid names in the error.
    pub fn check_layer(&self, name: &str) -> Result<()> {
        if self.layers.iter().any(|l| l.name == name) {
            Ok(())
        } else {
            Err(Error::UnknownLayer {
                layer: name.to_string(),
                arch: self.arch.to_string(),
                available: self.relu_names().join(", "),
            })
        }
    }

    /// Checks every layer a set of loss weights taps.
    pub fn check_layers(&self, weights: &crate::settings::LossWeights) -> Result<()> {
        weights
            .content_layers
            .iter()
            .chain(weights.style_layers.iter().map(|l| &l.layer))
            .try_for_each(|l| self.check_layer(l))
    }

    /// Maps `[1,3,H,W]` RGB pixels in 0..255 to the network's input space.
    pub fn preprocess(&self, pixels: &Tensor) -> Result<Tensor> {
        let x = if self.bgr {
            let idx = Tensor::new(&[2u32, 1, 0], &self.device)?;
            pixels.index_select(&idx, 1)?
        } else {
            pixels.clone()
        };
        Ok(x.broadcast_mul(&self.scale)?.broadcast_sub(&self.offset)?)
    }

    /// Runs the network on `[1,3,H,W]` pixels (0..255 RGB) up to the deepest of `taps` and
    /// returns the tapped activations.
    pub fn features(&self, pixels: &Tensor, taps: &[&str]) -> Result<Features> {
        self.features_pooled(pixels, taps, Pooling::Max)
    }

    /// [`Vgg::features`] with the pooling layers of `pooling` (see [`super::pooling`]).
    pub fn features_pooled(
        &self,
        pixels: &Tensor,
        taps: &[&str],
        pooling: Pooling,
    ) -> Result<Features> {
        for t in taps {
            self.check_layer(t)?;
        }
        let mut out = Features::new();
        let Some(last) = self
            .layers
            .iter()
            .rposition(|l| taps.contains(&l.name.as_str()))
        else {
            return Ok(out);
        };
        let mut x = self.preprocess(pixels)?;
        let mut i = 0;
        while i <= last {
            let layer = &self.layers[i];
            match &layer.kind {
                LayerKind::Conv { .. } => {
                    let conv = &self.convs[&layer.index];
                    if taps.contains(&layer.name.as_str()) {
                        // Tapping a pre-activation costs a separate ReLU; only done when asked.
                        let pre = conv.forward(&x)?;
                        out.insert(layer.name.clone(), pre.clone());
                        x = pre.relu()?;
                    } else {
                        x = conv.forward_relu(&x)?;
                    }
                    // The following module is the ReLU, already applied.
                    i += 1;
                    let relu = &self.layers[i];
                    if taps.contains(&relu.name.as_str()) {
                        out.insert(relu.name.clone(), x.clone());
                    }
                }
                LayerKind::Relu => {}
                LayerKind::Pool => {
                    x = super::pooling::pool2x2(&x, pooling)?;
                    if taps.contains(&layer.name.as_str()) {
                        out.insert(layer.name.clone(), x.clone());
                    }
                }
            }
            i += 1;
        }
        Ok(out)
    }
}

fn load_tensor(
    st: &safetensors::SafeTensors<'_>,
    name: &str,
    shape: &[usize],
) -> std::result::Result<Tensor, String> {
    let view = st
        .tensor(name)
        .map_err(|_| format!("tensor {name} is missing"))?;
    if view.shape() != shape {
        return Err(format!(
            "tensor {name} has shape {:?}, expected {shape:?}",
            view.shape()
        ));
    }
    let dtype = match view.dtype() {
        safetensors::Dtype::F32 => DType::F32,
        safetensors::Dtype::F16 => DType::F16,
        safetensors::Dtype::BF16 => DType::BF16,
        safetensors::Dtype::F64 => DType::F64,
        other => {
            return Err(format!(
                "tensor {name} has dtype {other:?}; expected a float type"
            ))
        }
    };
    let t = Tensor::from_raw_buffer(view.data(), dtype, shape, &Device::Cpu)
        .and_then(|t| t.to_dtype(DType::F32))
        .map_err(|e| format!("tensor {name} could not be read: {e}"))?;
    let v: Vec<f32> = t
        .flatten_all()
        .and_then(|t| t.to_vec1())
        .map_err(|e| format!("tensor {name} could not be read: {e}"))?;
    if v.iter().any(|x| !x.is_finite()) {
        return Err(format!(
            "tensor {name} contains NaN or infinite values; the file is corrupt: download it again"
        ));
    }
    Ok(t)
}
