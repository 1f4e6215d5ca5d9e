//! The arbitrary-style predictor (Ghiasi et al. 2017): a MobileNet-v2 over a 256×256 style
//! image, global average pooling, and a 1×1 "bottleneck" to the 100-number style vector.
//! Mirrors arbitrary_predict.onnx: input RGB in 0..1 (its first convolution takes it as is),
//! TensorFlow SAME padding, ReLU6 after the stem, expansions and depthwise layers.

use super::layers::{Conv, Depthwise};
use super::weights::Weights;
use super::STYLE_DIM;
use crate::engine::cpu::Act;
use crate::error::Result;
use candle_core::{Tensor, D};

/// Depthwise strides of the 17 inverted-residual blocks (MobileNet-v2 1.0).
const STRIDES: [usize; 17] = [1, 2, 1, 2, 1, 1, 2, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1];

struct Block {
    expand: Option<Conv>,
    depthwise: Depthwise,
    project: Conv,
    /// Stride 1 and as many channels out as in: the block adds its input back.
    residual: bool,
}

pub(crate) struct Predictor {
    stem: Conv,
    blocks: Vec<Block>,
    head: Conv,
    bottleneck: Conv,
}

impl Predictor {
    pub fn load(w: &Weights) -> Result<Self> {
        let mut blocks = Vec::with_capacity(STRIDES.len());
        let mut c_in = 32;
        for (i, &stride) in STRIDES.iter().enumerate() {
            let expand = if i == 0 {
                None
            } else {
                Some(Conv::load(w, &format!("block{i}.expand"), 1)?)
            };
            let project = Conv::load(w, &format!("block{i}.project"), 1)?;
            let c_out = project.out_channels();
            blocks.push(Block {
                expand,
                depthwise: Depthwise::load(w, &format!("block{i}.depthwise"), stride)?,
                project,
                residual: stride == 1 && c_in == c_out,
            });
            c_in = c_out;
        }
        let bottleneck = Conv::load(w, "bottleneck", 1)?;
        if bottleneck.out_channels() != STYLE_DIM {
            return Err(w.error(format!(
                "bottleneck gives {} numbers, expected {STYLE_DIM}",
                bottleneck.out_channels()
            )));
        }
        Ok(Self {
            stem: Conv::load(w, "conv0", 2)?,
            blocks,
            head: Conv::load(w, "conv1", 1)?,
            bottleneck,
        })
    }

    /// `x` [1,3,H,W] in 0..1 → the style vector [100].
    pub fn forward(&self, x: &Tensor) -> Result<Vec<f32>> {
        let (_, _, h, w) = x.dims4()?;
        // SAME padding for the stride-2 stem: the extra pixel goes at the end.
        let (_, top, bottom) = crate::engine::cpu::same_pad(h, 2);
        let (_, left, right) = crate::engine::cpu::same_pad(w, 2);
        let x = x
            .pad_with_zeros(2, top, bottom)?
            .pad_with_zeros(3, left, right)?;
        let mut x = self.stem.forward(&x, Act::Relu6)?;
        for b in &self.blocks {
            let mut h = x.clone();
            if let Some(e) = &b.expand {
                h = e.forward(&h, Act::Relu6)?;
            }
            h = b.depthwise.forward(&h, Act::Relu6)?;
            h = b.project.forward(&h, Act::None)?;
            x = if b.residual { (h + &x)? } else { h };
        }
        let x = self.head.forward(&x, Act::Relu6)?;
        let pooled = x.mean_keepdim(D::Minus1)?.mean_keepdim(D::Minus2)?;
        let v = self.bottleneck.forward(&pooled, Act::None)?;
        Ok(crate::engine::host::vec1(&v.flatten_all()?)?)
    }
}
