//! The network's building blocks with the gradients style transfer needs: to the image only.
//!
//! candle's stock `conv2d` backward also computes the weight gradient (about 30% extra work for a
//! tensor nobody reads), and its `max_pool2d` backward is wrong (0.25 instead of 1 at the maximum).
//! These versions route the gradient to the input alone and are checked against finite differences.

use super::cpu;
use candle_core::DType;
use candle_core::{
    CpuStorage, CudaStorage, CustomOp2, Layout, MetalStorage, Result, Shape, Tensor, D,
};
use std::sync::Arc;

/// A 3×3, stride-1, padding-1 convolution layer whose weights are constants.
#[derive(Clone)]
pub struct ConvLayer {
    weight: Tensor,
    bias: Tensor,
    /// The kernel flipped in space with in/out swapped: the input gradient is a convolution with it.
    weight_t: Tensor,
    /// Winograd weights for the fast CPU kernels (f32 on the CPU only).
    cpu: Option<Arc<cpu::Conv3x3>>,
}

impl std::fmt::Debug for ConvLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConvLayer")
            .field("weight", &self.weight.shape())
            .field("fast_cpu", &self.cpu.is_some())
            .finish()
    }
}

/// Whether a tensor takes the fast CPU path.
fn fast_cpu(t: &Tensor) -> bool {
    t.device().is_cpu() && t.dtype() == DType::F32
}

impl ConvLayer {
    /// `weight` is `[out, in, 3, 3]`, `bias` is `[out]`.
    pub fn new(weight: Tensor, bias: Tensor) -> Result<Self> {
        let cpu = if fast_cpu(&weight) {
            Some(Arc::new(cpu::Conv3x3::new(&weight, &bias)?))
        } else {
            None
        };
        let weight_t = weight.flip(&[2, 3])?.transpose(0, 1)?.contiguous()?;
        let bias = bias.reshape((1, (), 1, 1))?;
        Ok(Self {
            weight,
            bias,
            weight_t,
            cpu,
        })
    }

    pub fn out_channels(&self) -> usize {
        self.weight.dims()[0]
    }

    /// `conv(x) + b` with an input-only gradient.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if let (Some(c), true) = (&self.cpu, fast_cpu(x)) {
            return cpu::conv3x3(x, c, false);
        }
        let y = x.detach().conv2d(&self.weight, 1, 1, 1, 1)?;
        let y = x.apply_op2(
            &y,
            AttachInputGrad {
                weight_t: self.weight_t.clone(),
            },
        )?;
        y.broadcast_add(&self.bias)
    }

    /// `relu(conv(x) + b)` with an input-only gradient.
    pub fn forward_relu(&self, x: &Tensor) -> Result<Tensor> {
        if let (Some(c), true) = (&self.cpu, fast_cpu(x)) {
            return cpu::conv3x3(x, c, true);
        }
        self.forward(x)?.relu()
    }
}

/// Passes a precomputed convolution output through (its second argument) while giving the first
/// argument, the convolution's input, the gradient of a convolution. Works on every device.
struct AttachInputGrad {
    weight_t: Tensor,
}

impl CustomOp2 for AttachInputGrad {
    fn name(&self) -> &'static str {
        "conv3x3-input-grad"
    }

    fn cpu_fwd(
        &self,
        _: &CpuStorage,
        _: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        use candle_core::backend::BackendStorage;
        passthrough(s2, l2, |s| s.try_clone(l2))
    }

    fn cuda_fwd(
        &self,
        _: &CudaStorage,
        _: &Layout,
        s2: &CudaStorage,
        l2: &Layout,
    ) -> Result<(CudaStorage, Shape)> {
        use candle_core::backend::BackendStorage;
        passthrough(s2, l2, |s| s.try_clone(l2))
    }

    fn metal_fwd(
        &self,
        _: &MetalStorage,
        _: &Layout,
        s2: &MetalStorage,
        l2: &Layout,
    ) -> Result<(MetalStorage, Shape)> {
        use candle_core::backend::BackendStorage;
        passthrough(s2, l2, |s| s.try_clone(l2))
    }

    fn bwd(
        &self,
        _arg1: &Tensor,
        _arg2: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let gx = grad_res.conv2d(&self.weight_t, 1, 1, 1, 1)?;
        Ok((Some(gx), None))
    }
}

fn passthrough<S>(s: &S, l: &Layout, clone: impl Fn(&S) -> Result<S>) -> Result<(S, Shape)> {
    if !l.is_contiguous() || l.start_offset() != 0 {
        candle_core::bail!("conv3x3: expected a contiguous convolution output");
    }
    Ok((clone(s)?, l.shape().clone()))
}

/// 2×2, stride-2 max pooling in ceil mode (Caffe's): odd sizes keep a partial last window.
///
/// The input always follows a ReLU (values ≥ 0), so padding with zeros is exact. The gradient goes
/// to the maximum (candle's `max` backward), 1 per window, not candle's `max_pool2d` 0.25.
pub fn max_pool2x2(x: &Tensor) -> Result<Tensor> {
    if fast_cpu(x) {
        return cpu::max_pool2x2(x);
    }
    max_pool2x2_generic(x)
}

/// The device-generic pooling (reshape + max), used on GPUs and for f64 gradient checks.
pub fn max_pool2x2_generic(x: &Tensor) -> Result<Tensor> {
    let (n, c, h, w) = x.dims4()?;
    let x = if h % 2 == 1 {
        x.pad_with_zeros(2, 0, 1)?
    } else {
        x.clone()
    };
    let x = if w % 2 == 1 {
        x.pad_with_zeros(3, 0, 1)?
    } else {
        x
    };
    let (h2, w2) = (h.div_ceil(2), w.div_ceil(2));
    x.reshape((n, c, h2, 2, w2, 2))?.max(D::Minus1)?.max(3)
}

/// Gram matrix `F Fᵀ / (C·H·W)` of `[1, C, H, W]` features.
pub fn gram(f: &Tensor) -> Result<Tensor> {
    second_moments(f, false)
}

/// The Gram matrix and the channel means of `f` [1,C,H,W] side by side, `[C, C+1]` (the
/// moments a Wasserstein style term compares); one op with one backward pass on the CPU.
pub fn gram_and_mean(f: &Tensor) -> Result<Tensor> {
    second_moments(f, true)
}

/// The mean `[C]` and second raw moment `E[f fᵀ]` `[C, C]` of `f` [1,C,H,W] (the Gram matrix
/// times C), both differentiable: a Wasserstein style term's inputs.
pub fn mean_and_second_moment(f: &Tensor) -> Result<(Tensor, Tensor)> {
    let c = f.dim(1)?;
    let both = gram_and_mean(f)?;
    let mean = both.narrow(1, c, 1)?.squeeze(1)?;
    Ok((mean, (both.narrow(1, 0, c)? * c as f64)?))
}

/// [`gram`], with `mean` [`gram_and_mean`]: the fast CPU op, or tensor ops on other devices.
fn second_moments(f: &Tensor, mean: bool) -> Result<Tensor> {
    let (n, c, h, w) = f.dims4()?;
    if n != 1 {
        let what = if mean { "gram_and_mean" } else { "gram" };
        candle_core::bail!("{what}: expected a batch of one image, got {n}");
    }
    if fast_cpu(f) {
        return if mean {
            cpu::gram_and_mean(f)
        } else {
            cpu::gram(f)
        };
    }
    let m = f.reshape((c, h * w))?;
    let g = (m.matmul(&m.t()?)? / (c * h * w) as f64)?;
    if !mean {
        return Ok(g);
    }
    let means = (m.sum_keepdim(1)? / (h * w) as f64)?;
    Tensor::cat(&[&g, &means], 1)
}
