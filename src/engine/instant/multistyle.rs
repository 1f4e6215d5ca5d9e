//! The 26-style network (Dumoulin et al. 2017, "A Learned Representation for Artistic Style"):
//! the same encoder/residual/decoder shape as the arbitrary transformer, but every layer's
//! instance norm takes its scale and shift from a table of 26 learned styles, blended by the
//! caller's weights. Mirrors multistyle26.onnx: no convolution biases, reflect padding,
//! nearest ×2 upsampling, ε = 1e-5, sigmoid output in 0..1; decoder widths 8 and 4.

use super::layers::{instance_norm, upsample_reflect_pad, Conv};
use super::weights::Weights;
use super::NUM_BUILTIN;
use crate::engine::cpu::Act;
use crate::error::Result;
use candle_core::Tensor;

struct Layer {
    conv: Conv,
    /// `[26][C]` tables.
    gamma: Vec<f32>,
    beta: Vec<f32>,
    up: usize,
    pad: usize,
}

impl Layer {
    fn load(w: &Weights, name: &str, stride: usize, up: usize, pad: usize) -> Result<Self> {
        let conv = Conv::load(w, name, stride)?;
        let c = conv.out_channels();
        Ok(Self {
            gamma: w.mat(&format!("{name}.norm.gamma"), NUM_BUILTIN, c)?,
            beta: w.mat(&format!("{name}.norm.beta"), NUM_BUILTIN, c)?,
            conv,
            up,
            pad,
        })
    }

    fn forward(&self, x: &Tensor, blend: &[f32; NUM_BUILTIN], act: Act) -> Result<Tensor> {
        let c = self.conv.out_channels();
        let mix = |table: &[f32]| -> Vec<f32> {
            (0..c)
                .map(|ch| (0..NUM_BUILTIN).map(|s| blend[s] * table[s * c + ch]).sum())
                .collect()
        };
        let x = upsample_reflect_pad(x, self.up, self.pad)?;
        let (y, margin) = self.conv.forward_margin(&x)?;
        Ok(instance_norm(
            &y,
            &mix(&self.gamma),
            &mix(&self.beta),
            margin,
            act,
        )?)
    }
}

pub(crate) struct MultistyleNet {
    contract: [Layer; 3],
    residual: Vec<[Layer; 2]>,
    expand: [Layer; 3],
}

impl MultistyleNet {
    pub fn load(w: &Weights) -> Result<Self> {
        let residual = (0..6)
            .map(|r| {
                Ok([
                    Layer::load(w, &format!("res.{r}.0"), 1, 1, 1)?,
                    Layer::load(w, &format!("res.{r}.1"), 1, 1, 1)?,
                ])
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            contract: [
                Layer::load(w, "contract.0", 1, 1, 4)?,
                Layer::load(w, "contract.1", 2, 1, 1)?,
                Layer::load(w, "contract.2", 2, 1, 1)?,
            ],
            residual,
            expand: [
                Layer::load(w, "expand.0", 1, 2, 1)?,
                Layer::load(w, "expand.1", 1, 2, 1)?,
                Layer::load(w, "expand.2", 1, 1, 4)?,
            ],
        })
    }

    /// `x` [1,3,H,W] in 0..1, H and W divisible by 4; `blend` sums to 1 → 0..1 image.
    pub fn forward(&self, x: &Tensor, blend: &[f32; NUM_BUILTIN]) -> Result<Tensor> {
        let mut x = x.clone();
        for l in &self.contract {
            x = l.forward(&x, blend, Act::Relu)?;
        }
        for [a, b] in &self.residual {
            let h = a.forward(&x, blend, Act::Relu)?;
            let h = b.forward(&h, blend, Act::None)?;
            x = (x + h)?;
        }
        let [e0, e1, e2] = &self.expand;
        let x = e0.forward(&x, blend, Act::Relu)?;
        let x = e1.forward(&x, blend, Act::Relu)?;
        e2.forward(&x, blend, Act::Sigmoid)
    }
}
