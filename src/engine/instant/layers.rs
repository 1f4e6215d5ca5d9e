//! The instant networks' building blocks, each with a fast f32-CPU kernel (src/engine/cpu/) and
//! a candle fallback for other devices. Forward only: nothing here is ever differentiated.

use super::weights::Weights;
use crate::engine::cpu::{self, Act};
use candle_core::{DType, Result, Tensor, D};
use std::sync::Arc;

/// Whether a tensor takes the fast CPU kernels.
pub(crate) fn fast_cpu(t: &Tensor) -> bool {
    t.device().is_cpu() && t.dtype() == DType::F32
}

/// A k×k convolution with bias, stride 1 or 2, over an already padded input ("valid").
pub(crate) struct Conv {
    weight: Tensor,
    bias: Tensor,
    stride: usize,
    kxk: Option<Arc<cpu::ConvKxK>>,
    /// Winograd for the 3×3 stride-1 layers (see [`Conv::forward_margin`]).
    wino: Option<Arc<cpu::Conv3x3>>,
}

impl Conv {
    /// `{name}.weight` [out,in,k,k] (`{name}.w` in the 26-style file) and `{name}.bias` if any.
    pub fn load(w: &Weights, name: &str, stride: usize) -> crate::Result<Self> {
        let weight = match w.get(&format!("{name}.weight")) {
            Ok(t) => t,
            Err(_) => w.get(&format!("{name}.w"))?,
        };
        let (c_out, _, kh, kw) = weight.dims4().map_err(|_| {
            w.error(format!(
                "{name}: expected a [out,in,k,k] convolution weight"
            ))
        })?;
        if kh != kw {
            return Err(w.error(format!("{name}: kernel {kh}×{kw} is not square")));
        }
        let bias = match w.get(&format!("{name}.bias")) {
            Ok(b) => b,
            Err(_) => Tensor::zeros(c_out, DType::F32, weight.device())?,
        };
        if bias.dims() != [c_out] {
            return Err(w.error(format!("{name}.bias: expected [{c_out}]")));
        }
        Ok(Self::new(weight, bias, stride)?)
    }

    pub fn new(weight: Tensor, bias: Tensor, stride: usize) -> Result<Self> {
        let fast = fast_cpu(&weight);
        let k = weight.dim(2)?;
        let kxk = if fast {
            Some(Arc::new(cpu::ConvKxK::new(&weight, Some(&bias), stride)?))
        } else {
            None
        };
        let wino = if fast && k == 3 && stride == 1 {
            Some(Arc::new(cpu::Conv3x3::new(&weight, &bias)?))
        } else {
            None
        };
        Ok(Self {
            weight,
            bias: bias.reshape((1, (), 1, 1))?,
            stride,
            kxk,
            wino,
        })
    }

    pub fn out_channels(&self) -> usize {
        self.weight.dims()[0]
    }

    /// `act(conv(x) + b)`, valid padding.
    pub fn forward(&self, x: &Tensor, act: Act) -> Result<Tensor> {
        if let (Some(c), true) = (&self.kxk, fast_cpu(x)) {
            return cpu::conv_kxk(x, c, act);
        }
        let y = x
            .conv2d(&self.weight, 0, self.stride, 1, 1)?
            .broadcast_add(&self.bias)?;
        apply_act(&y, act)
    }

    /// The convolution of a padded input, possibly with a `margin` of extra (don't-care) border
    /// pixels around the valid result; returns (output, margin). The 3×3 stride-1 layers run on
    /// the Winograd kernels, which zero-pad by 1 themselves: their result on the padded input
    /// is the valid result plus a 1-pixel border, which the following instance norm skips.
    pub fn forward_margin(&self, x: &Tensor) -> Result<(Tensor, usize)> {
        if let (Some(c), true) = (&self.wino, fast_cpu(x)) {
            return Ok((cpu::conv3x3(x, c, false)?, 1));
        }
        Ok((self.forward(x, Act::None)?, 0))
    }
}

/// A 3×3 depthwise convolution with bias and TensorFlow SAME padding (MobileNet).
pub(crate) struct Depthwise {
    weight: Tensor,
    bias: Tensor,
    stride: usize,
}

impl Depthwise {
    pub fn load(w: &Weights, name: &str, stride: usize) -> crate::Result<Self> {
        let weight = w.get(&format!("{name}.weight"))?;
        let c = weight.dim(0)?;
        if weight.dims() != [c, 1, 3, 3] {
            return Err(w.error(format!("{name}.weight: expected [C,1,3,3]")));
        }
        let bias = w.get(&format!("{name}.bias"))?;
        Ok(Self {
            weight,
            bias,
            stride,
        })
    }

    pub fn forward(&self, x: &Tensor, act: Act) -> Result<Tensor> {
        if fast_cpu(x) {
            return cpu::depthwise3x3(x, &self.weight, &self.bias, self.stride, act);
        }
        let y = depthwise_generic(x, &self.weight, &self.bias, self.stride)?;
        apply_act(&y, act)
    }
}

/// The depthwise convolution (SAME padding) as nine shifted multiply-adds, for GPUs: candle runs
/// a grouped `conv2d` as one convolution per channel (hundreds of launches per layer).
pub(crate) fn depthwise_generic(
    x: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    stride: usize,
) -> Result<Tensor> {
    let (_, c, h, w) = x.dims4()?;
    let (oh, top, bottom) = cpu::same_pad(h, stride);
    let (ow, left, right) = cpu::same_pad(w, stride);
    // Room for the last tap of a stride-2 row/column group (never read: a zero times a weight).
    let (extra_h, extra_w) = (stride - 1, stride - 1);
    let x = x
        .pad_with_zeros(2, top, bottom + extra_h)?
        .pad_with_zeros(3, left, right + extra_w)?;
    let mut acc = bias
        .reshape((1, c, 1, 1))?
        .broadcast_as((1, c, oh, ow))?
        .contiguous()?;
    for ky in 0..3 {
        let rows = every(&x, 2, ky, oh, stride)?;
        for kx in 0..3 {
            let tap = every(&rows, 3, kx, ow, stride)?;
            let k = weight
                .narrow(2, ky, 1)?
                .narrow(3, kx, 1)?
                .reshape((1, c, 1, 1))?;
            acc = (acc + tap.broadcast_mul(&k)?)?;
        }
    }
    Ok(acc)
}

/// Entries `start, start + step, …` (`count` of them) along `dim`.
fn every(x: &Tensor, dim: usize, start: usize, count: usize, step: usize) -> Result<Tensor> {
    let t = x.narrow(dim, start, count * step)?;
    if step == 1 {
        return Ok(t);
    }
    let mut dims = t.dims().to_vec();
    dims[dim] = count;
    dims.insert(dim + 1, step);
    t.reshape(dims)?.narrow(dim + 1, 0, 1)?.squeeze(dim + 1)
}

/// Nearest upsampling by `up` then reflect padding by `pad`.
pub(crate) fn upsample_reflect_pad(x: &Tensor, up: usize, pad: usize) -> Result<Tensor> {
    if fast_cpu(x) {
        return cpu::upsample_reflect_pad(x, up, pad);
    }
    let (_, _, h, w) = x.dims4()?;
    let x = if up > 1 {
        x.upsample_nearest2d(h * up, w * up)?
    } else {
        x.clone()
    };
    reflect_pad_generic(&x, pad)
}

fn reflect_pad_generic(x: &Tensor, pad: usize) -> Result<Tensor> {
    if pad == 0 {
        return Ok(x.clone());
    }
    let mut x = x.clone();
    for dim in [2, 3] {
        let n = x.dim(dim)?;
        let before = x.narrow(dim, 1, pad)?.contiguous()?.flip(&[dim])?;
        let after = x
            .narrow(dim, n - 1 - pad, pad)?
            .contiguous()?
            .flip(&[dim])?;
        x = Tensor::cat(&[&before, &x, &after], dim)?;
    }
    Ok(x)
}

/// Instance norm with per-channel `gamma`/`beta` over the interior leaving `margin` pixels off
/// each side, then `act`.
pub(crate) fn instance_norm(
    x: &Tensor,
    gamma: &[f32],
    beta: &[f32],
    margin: usize,
    act: Act,
) -> Result<Tensor> {
    if fast_cpu(x) {
        return cpu::instance_norm(x, gamma, beta, EPS, margin, act);
    }
    let (_, c, h, w) = x.dims4()?;
    let x = x
        .narrow(2, margin, h - 2 * margin)?
        .narrow(3, margin, w - 2 * margin)?;
    let mean = x.mean_keepdim(D::Minus1)?.mean_keepdim(D::Minus2)?;
    let d = x.broadcast_sub(&mean)?;
    let var = d.sqr()?.mean_keepdim(D::Minus1)?.mean_keepdim(D::Minus2)?;
    let g = Tensor::from_slice(gamma, (1, c, 1, 1), x.device())?.to_dtype(x.dtype())?;
    let b = Tensor::from_slice(beta, (1, c, 1, 1), x.device())?.to_dtype(x.dtype())?;
    let y = d
        .broadcast_div(&(var + EPS)?.sqrt()?)?
        .broadcast_mul(&g)?
        .broadcast_add(&b)?;
    apply_act(&y, act)
}

/// The instance norms' epsilon in both networks (1e-5 in the ONNX graphs).
pub(crate) const EPS: f64 = 1e-5;

fn apply_act(y: &Tensor, act: Act) -> Result<Tensor> {
    match act {
        Act::None => Ok(y.clone()),
        Act::Relu => y.relu(),
        Act::Relu6 => y.clamp(0f32, 6f32),
        Act::Sigmoid => candle_nn::ops::sigmoid(y),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn pattern(dims: &[usize], seed: usize) -> Result<Tensor> {
        let n: usize = dims.iter().product();
        let v: Vec<f32> = (0..n)
            .map(|i| (((i * 37 + seed * 11) % 23) as f32 - 11.0) / 7.0)
            .collect();
        Tensor::from_vec(v, dims, &Device::Cpu)
    }

    /// The GPU path (shifted multiply-adds, run here on the CPU) is candle's grouped convolution.
    #[test]
    fn depthwise_generic_is_the_grouped_convolution() -> Result<()> {
        for (stride, h, w) in [(1, 9, 12), (2, 10, 14), (2, 9, 7), (1, 3, 3), (2, 1, 2)] {
            let c = 5;
            let x = pattern(&[1, c, h, w], 1)?;
            let wt = pattern(&[c, 1, 3, 3], 2)?;
            let b = pattern(&[c], 3)?;
            let (_, t, bo) = cpu::same_pad(h, stride);
            let (_, l, r) = cpu::same_pad(w, stride);
            let want = x
                .pad_with_zeros(2, t, bo)?
                .pad_with_zeros(3, l, r)?
                .conv2d(&wt, 0, stride, 1, c)?
                .broadcast_add(&b.reshape((1, c, 1, 1))?)?;
            let got = depthwise_generic(&x, &wt, &b, stride)?;
            assert_eq!(got.dims(), want.dims());
            let d = (got - want)?.abs()?.max_all()?.to_scalar::<f32>()?;
            assert!(d < 1e-5, "stride {stride} {h}×{w}: {d}");
        }
        Ok(())
    }
}
