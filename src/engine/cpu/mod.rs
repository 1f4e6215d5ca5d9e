//! Fast CPU kernels for the style-transfer network (f32, CPU device only).
//!
//! candle 0.11's CPU conv2d materializes im2col buffers and its backward computes weight
//! gradients nobody needs (the weights are constants; only the image is optimized), and its
//! `max_pool2d` backward is wrong. These ops replace them with candle custom ops:
//! Winograd F(4,3) 3×3 convolutions with pre-transformed weights and an input-only gradient,
//! a ceil-mode 2×2 max pool with a correct gradient, and a one-GEMM Gram matrix.
//! Other devices are the caller's business (the custom ops return candle's "no cuda/metal
//! implementation" error there).
//!
//! For the engine: call [`set_threads`] for these kernels; keep candle's own pool (used by
//! its elementwise ops, e.g. the gradient additions in `backward()`) at 1 thread with
//! `RAYON_NUM_THREADS=1` set before the first candle op, since that pool spin-waits; and call
//! [`tune_allocator`] once at startup (glibc), which saves ~10–15 % of a forward+backward.
//! Memory: each [`Conv3x3`] keeps two Winograd weight sets (forward, and flipped/transposed
//! for the input gradient), 8× the raw weights: ~320 MB for VGG16 up to conv5_1.

mod conv;
mod depthwise;
mod gemm;
mod gram;
mod im2col;
mod inorm;
mod pool;
mod resample;
mod threads;
mod winograd;

pub use conv::{conv3x3, Conv3x3};
pub use depthwise::{depthwise3x3, depthwise3x3_border, same_pad, Border};
pub use gram::{gram, gram_and_mean};
pub use im2col::{conv_kxk, ConvKxK};
pub use inorm::instance_norm;
pub use pool::max_pool2x2;
pub use resample::upsample_reflect_pad;
pub(crate) use threads::SyncPtr;
pub use threads::{parallel_for, release_memory, set_threads, threads, tune_allocator};

use candle_core::{backend::BackendStorage, bail, CpuStorage, Layout, Result};

/// The activation fused into the end of a forward-only kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    None,
    Relu,
    /// `min(max(x, 0), 6)` (MobileNet).
    Relu6,
    Sigmoid,
}

impl Act {
    #[inline(always)]
    pub fn apply(self, v: f32) -> f32 {
        match self {
            Act::None => v,
            Act::Relu => v.max(0.0),
            Act::Relu6 => v.clamp(0.0, 6.0),
            Act::Sigmoid => 1.0 / (1.0 + (-v).exp()),
        }
    }
}

/// The f32 data of a contiguous CPU storage (the public wrappers make inputs contiguous).
pub(crate) fn cpu_slice<'a>(s: &'a CpuStorage, l: &Layout, op: &str) -> Result<&'a [f32]> {
    let data = match s {
        CpuStorage::F32(v) => v.as_slice(),
        other => bail!("{op}: only f32 is supported, got {:?}", other.dtype()),
    };
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&data[a..b]),
        None => bail!("{op}: input must be contiguous"),
    }
}

/// `(n, c, h, w)` of a 4-D layout.
pub(crate) fn four_dims(l: &Layout, op: &str) -> Result<(usize, usize, usize, usize)> {
    match *l.dims() {
        [n, c, h, w] => Ok((n, c, h, w)),
        _ => bail!("{op}: expected a [N,C,H,W] tensor, got {:?}", l.shape()),
    }
}
