//! The arbitrary-style transformer (Ghiasi et al. 2017, the 0.25-width TF Lite network): three
//! downsampling convolutions, five residual blocks and three upsampling convolutions, every
//! layer after the first three followed by a conditional instance norm whose scale and shift
//! are affine functions of the 100-number style vector. Mirrors arbitrary_transform.onnx:
//! reflect padding before every convolution, nearest-neighbour ×2 upsampling, ε = 1e-5,
//! a sigmoid at the end (output in 0..1). Fully convolutional: any size divisible by 4.

use super::layers::{instance_norm, upsample_reflect_pad, Conv};
use super::weights::Weights;
use super::STYLE_DIM;
use crate::engine::cpu::Act;
use crate::error::Result;
use candle_core::Tensor;

/// A conditional instance norm's dense layers: `gamma = Wg·s + bg`, `beta = Wb·s + bb`.
pub(crate) struct StyleNorm {
    channels: usize,
    gamma_w: Vec<f32>,
    gamma_b: Vec<f32>,
    beta_w: Vec<f32>,
    beta_b: Vec<f32>,
}

impl StyleNorm {
    fn load(w: &Weights, layer: &str, channels: usize) -> Result<Self> {
        Ok(Self {
            channels,
            gamma_w: w.mat(&format!("{layer}.gamma.weight"), channels, STYLE_DIM)?,
            gamma_b: w.vec(&format!("{layer}.gamma.bias"), channels)?,
            beta_w: w.mat(&format!("{layer}.beta.weight"), channels, STYLE_DIM)?,
            beta_b: w.vec(&format!("{layer}.beta.bias"), channels)?,
        })
    }

    /// (gamma, beta) for one style vector.
    fn params(&self, style: &[f32]) -> (Vec<f32>, Vec<f32>) {
        let dense = |w: &[f32], b: &[f32]| -> Vec<f32> {
            (0..self.channels)
                .map(|c| {
                    let row = &w[c * STYLE_DIM..][..STYLE_DIM];
                    b[c] + row.iter().zip(style).map(|(a, s)| a * s).sum::<f32>()
                })
                .collect()
        };
        (
            dense(&self.gamma_w, &self.gamma_b),
            dense(&self.beta_w, &self.beta_b),
        )
    }
}

/// A padded convolution followed by a conditional instance norm.
struct NormConv {
    conv: Conv,
    norm: StyleNorm,
    /// Nearest-neighbour upsampling before the padding (the decoder).
    up: usize,
    pad: usize,
}

impl NormConv {
    fn load(w: &Weights, layer: &str, up: usize, pad: usize) -> Result<Self> {
        let conv = Conv::load(w, layer, 1)?;
        let norm = StyleNorm::load(w, layer, conv.out_channels())?;
        Ok(Self {
            conv,
            norm,
            up,
            pad,
        })
    }

    fn forward(&self, x: &Tensor, style: &[f32], act: Act) -> Result<Tensor> {
        let x = upsample_reflect_pad(x, self.up, self.pad)?;
        let (y, margin) = self.conv.forward_margin(&x)?;
        let (g, b) = self.norm.params(style);
        Ok(instance_norm(&y, &g, &b, margin, act)?)
    }
}

pub(crate) struct Transformer {
    contract: [Conv; 3],
    residual: Vec<[NormConv; 2]>,
    expand: [NormConv; 3],
}

impl Transformer {
    pub fn load(w: &Weights) -> Result<Self> {
        let residual = (1..=5)
            .map(|r| {
                Ok([
                    NormConv::load(w, &format!("residual.{r}.conv1"), 1, 1)?,
                    NormConv::load(w, &format!("residual.{r}.conv2"), 1, 1)?,
                ])
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            contract: [
                Conv::load(w, "contract.conv1", 1)?,
                Conv::load(w, "contract.conv2", 2)?,
                Conv::load(w, "contract.conv3", 2)?,
            ],
            residual,
            expand: [
                NormConv::load(w, "expand.conv1", 2, 1)?,
                NormConv::load(w, "expand.conv2", 2, 1)?,
                NormConv::load(w, "expand.conv3", 1, 4)?,
            ],
        })
    }

    /// `x` [1,3,H,W] in 0..1, H and W divisible by 4 → the stylized image, same shape, 0..1.
    pub fn forward(&self, x: &Tensor, style: &[f32]) -> Result<Tensor> {
        let [c1, c2, c3] = &self.contract;
        let x = c1.forward(&upsample_reflect_pad(x, 1, 4)?, Act::Relu)?;
        let x = c2.forward(&upsample_reflect_pad(&x, 1, 1)?, Act::Relu)?;
        let mut x = c3.forward(&upsample_reflect_pad(&x, 1, 1)?, Act::Relu)?;
        for [a, b] in &self.residual {
            let h = a.forward(&x, style, Act::Relu)?;
            let h = b.forward(&h, style, Act::None)?;
            x = (x + h)?;
        }
        let [e1, e2, e3] = &self.expand;
        let x = e1.forward(&x, style, Act::Relu)?;
        let x = e2.forward(&x, style, Act::Relu)?;
        e3.forward(&x, style, Act::Sigmoid)
    }
}
