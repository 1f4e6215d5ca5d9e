//! Average pooling for the feature extractor, Gatys et al.'s recommendation: max pooling passes
//! the gradient to one pixel in four, so the image is repainted in scattered spots; averaging
//! spreads it over the whole window, and the painting's strokes come out longer and more
//! coherent (docs/gallery.md, issue [12]).
//!
//! 2×2, stride 2, ceil mode like the max pooling (an odd edge keeps a partial window, averaged
//! over the pixels it has), times 2: an average is about half a maximum of ReLU outputs, and the
//! factor keeps the next layers' inputs at the scale their biases were trained for (as
//! crowsonkb's style-transfer-pytorch does).

use super::cpu;
use crate::settings::Pooling;
use candle_core::{
    backend::BackendStorage, bail, CpuStorage, CustomOp1, DType, Layout, Result, Shape, Tensor,
};

/// The gain that keeps an average at the scale of the maximum it replaces.
const GAIN: f32 = 2.0;

/// One pooling layer of the network.
pub fn pool2x2(x: &Tensor, pooling: Pooling) -> Result<Tensor> {
    match pooling {
        Pooling::Max => super::ops::max_pool2x2(x),
        Pooling::Average => avg_pool2x2(x),
    }
}

/// 2×2 average pooling in ceil mode, times [`GAIN`].
pub fn avg_pool2x2(x: &Tensor) -> Result<Tensor> {
    if x.device().is_cpu() && x.dtype() == DType::F32 {
        return x.contiguous()?.apply_op1(AvgPool);
    }
    avg_pool2x2_generic(x)
}

/// The device-generic version (tensor ops): GPUs and the f64 gradient checks.
pub fn avg_pool2x2_generic(x: &Tensor) -> Result<Tensor> {
    let (n, c, h, w) = x.dims4()?;
    let padded = x.pad_with_zeros(2, 0, h % 2)?.pad_with_zeros(3, 0, w % 2)?;
    let (h2, w2) = (h.div_ceil(2), w.div_ceil(2));
    let sums = padded.reshape((n, c, h2, 2, w2, 2))?.sum(5)?.sum(3)?;
    let scale: Vec<f32> = (0..h2 * w2)
        .map(|i| GAIN / window(i / w2, h) as f32 / window(i % w2, w) as f32)
        .collect();
    let scale = Tensor::from_vec(scale, (1, 1, h2, w2), x.device())?.to_dtype(x.dtype())?;
    sums.broadcast_mul(&scale)
}

/// How many of the two input rows (or columns) output row `i` covers in a side of `len`.
fn window(i: usize, len: usize) -> usize {
    if 2 * i + 1 < len {
        2
    } else {
        1
    }
}

struct AvgPool;

/// The `(n·c, h, w)` planes of a contiguous `[N,C,H,W]` layout.
fn planes(l: &Layout) -> Result<(usize, usize, usize)> {
    match *l.dims() {
        [n, c, h, w] => Ok((n * c, h, w)),
        _ => bail!("avg_pool2x2: expected [N,C,H,W], got {:?}", l.shape()),
    }
}

fn f32_slice<'a>(s: &'a CpuStorage, l: &Layout) -> Result<&'a [f32]> {
    let CpuStorage::F32(v) = s else {
        bail!("avg_pool2x2: f32 only, got {:?}", s.dtype());
    };
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&v[a..b]),
        None => bail!("avg_pool2x2: input must be contiguous"),
    }
}

impl CustomOp1 for AvgPool {
    fn name(&self) -> &'static str {
        "atelier-avg-pool"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (p, h, w) = planes(l)?;
        let x = f32_slice(s, l)?;
        let (h2, w2) = (h.div_ceil(2), w.div_ceil(2));
        let mut out = vec![0f32; p * h2 * w2];
        let op = cpu::SyncPtr(out.as_mut_ptr());
        cpu::parallel_for(p, |k| {
            let src = &x[k * h * w..(k + 1) * h * w];
            // SAFETY: plane k of `out` is written by item k only.
            let dst = unsafe { op.slice(k * h2 * w2, h2 * w2) };
            for i in 0..h2 {
                let rows = window(i, h);
                for j in 0..w2 {
                    let cols = window(j, w);
                    let mut sum = 0f32;
                    for r in 2 * i..2 * i + rows {
                        for c in 2 * j..2 * j + cols {
                            sum += src[r * w + c];
                        }
                    }
                    dst[i * w2 + j] = sum * (GAIN / (rows * cols) as f32);
                }
            }
        });
        let dims = l.dims();
        Ok((
            CpuStorage::F32(out),
            Shape::from((dims[0], dims[1], h2, w2)),
        ))
    }

    fn bwd(&self, x: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let grad = grad.contiguous()?;
        Ok(Some(grad.apply_op1_no_bwd(&AvgPoolBwd {
            h: x.dim(2)?,
            w: x.dim(3)?,
        })?))
    }
}

/// Spreads each output's gradient over its window: `dx = dy · GAIN / count`.
struct AvgPoolBwd {
    h: usize,
    w: usize,
}

impl CustomOp1 for AvgPoolBwd {
    fn name(&self) -> &'static str {
        "atelier-avg-pool-bwd"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (p, h2, w2) = planes(l)?;
        let (h, w) = (self.h, self.w);
        if h.div_ceil(2) != h2 || w.div_ceil(2) != w2 {
            bail!(
                "avg_pool2x2 backward: gradient {:?} for input {h}×{w}",
                l.dims()
            );
        }
        let dy = f32_slice(s, l)?;
        let mut dx = vec![0f32; p * h * w];
        let op = cpu::SyncPtr(dx.as_mut_ptr());
        cpu::parallel_for(p, |k| {
            let g = &dy[k * h2 * w2..(k + 1) * h2 * w2];
            // SAFETY: plane k of `dx` is written by item k only.
            let dst = unsafe { op.slice(k * h * w, h * w) };
            for r in 0..h {
                let i = r / 2;
                let rows = window(i, h);
                for c in 0..w {
                    let j = c / 2;
                    dst[r * w + c] = g[i * w2 + j] * (GAIN / (rows * window(j, w)) as f32);
                }
            }
        });
        let dims = l.dims();
        Ok((CpuStorage::F32(dx), Shape::from((dims[0], dims[1], h, w))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    /// The CPU kernel and the tensor-op version agree, forward and backward, odd edges too.
    #[test]
    fn the_kernel_matches_the_generic_pooling() {
        let (h, w) = (5, 7);
        let v: Vec<f32> = (0..2 * 3 * h * w).map(|i| ((i * 37) % 11) as f32).collect();
        let x = Var::from_vec(v, (2, 3, h, w), &Device::Cpu).unwrap();
        let fast = avg_pool2x2(x.as_tensor()).unwrap();
        let slow = avg_pool2x2_generic(x.as_tensor()).unwrap();
        assert_eq!(fast.dims(), &[2, 3, 3, 4]);
        let diff = (&fast - &slow).unwrap().abs().unwrap().max_all().unwrap();
        assert!(diff.to_scalar::<f32>().unwrap() < 1e-5);
        // A weighted sum makes every output's gradient differ.
        let weights = Tensor::arange(0f32, 72.0, &Device::Cpu)
            .unwrap()
            .reshape((2, 3, 3, 4))
            .unwrap();
        let grad = |y: &Tensor| -> Vec<f32> {
            let g = (y * &weights)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            g.get(x.as_tensor())
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap()
        };
        assert_eq!(grad(&fast), grad(&slow));
        // A corner window of one pixel passes it on at twice its value.
        let corner = fast.flatten_all().unwrap().to_vec1::<f32>().unwrap()[11];
        let src = x
            .as_tensor()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        assert_eq!(corner, 2.0 * src[4 * w + 6]);
    }
}
