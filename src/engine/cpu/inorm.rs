//! Instance normalization with per-channel scale and shift (the conditional instance norm of the
//! instant networks) and a fused activation, in one pass over the statistics and one over the
//! output. Statistics accumulate in f64: a 1024×768 plane is 786k values.

use super::threads::{parallel_for, with_simd, SyncPtr};
use super::{cpu_slice, four_dims, Act};
use candle_core::{bail, CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};

struct Op<'a> {
    gamma: &'a [f32],
    beta: &'a [f32],
    eps: f64,
    margin: usize,
    act: Act,
}

impl CustomOp1 for Op<'_> {
    fn name(&self) -> &'static str {
        "atelier-instance-norm"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (n, c, h, w) = four_dims(l, "instance_norm")?;
        if self.gamma.len() != c || self.beta.len() != c {
            bail!("instance_norm: {c} channels, {} scales", self.gamma.len());
        }
        let m = self.margin;
        if h <= 2 * m || w <= 2 * m {
            bail!("instance_norm: {h}×{w} is too small for a margin of {m}");
        }
        let x = cpu_slice(s, l, "instance_norm")?;
        let (oh, ow) = (h - 2 * m, w - 2 * m);
        let mut y: Vec<f32> = Vec::with_capacity(n * c * oh * ow);
        let yp = SyncPtr(y.as_mut_ptr());
        parallel_for(n * c, |pl| {
            let ch = pl % c;
            let src = &x[pl * h * w..][..h * w];
            let rows = || (m..h - m).map(|r| &src[r * w + m..][..ow]);
            let count = (oh * ow) as f64;
            // f32 within a row (vectorizes), f64 across rows.
            let mean = rows()
                .map(|r| f64::from(with_simd(|| r.iter().sum::<f32>())))
                .sum::<f64>()
                / count;
            let m32 = mean as f32;
            let var = rows()
                .map(|r| {
                    f64::from(with_simd(|| {
                        r.iter().map(|&v| (v - m32) * (v - m32)).sum::<f32>()
                    }))
                })
                .sum::<f64>()
                / count;
            let scale = f64::from(self.gamma[ch]) / (var + self.eps).sqrt();
            let shift = f64::from(self.beta[ch]) - mean * scale;
            let (a, b) = (scale as f32, shift as f32);
            // SAFETY: each plane is written by one work item.
            let dst = unsafe { yp.slice(pl * oh * ow, oh * ow) };
            let act = self.act;
            with_simd(|| {
                for (r, row) in rows().enumerate() {
                    let d = &mut dst[r * ow..][..ow];
                    match act {
                        Act::None => affine(d, row, a, b, |v| v),
                        Act::Relu => affine(d, row, a, b, |v| v.max(0.0)),
                        Act::Relu6 => affine(d, row, a, b, |v| v.clamp(0.0, 6.0)),
                        Act::Sigmoid => affine(d, row, a, b, |v| 1.0 / (1.0 + (-v).exp())),
                    }
                }
            });
        });
        // SAFETY: every plane was written above.
        unsafe { y.set_len(n * c * oh * ow) };
        Ok((CpuStorage::F32(y), Shape::from((n, c, oh, ow))))
    }
}

/// `d = f(x·a + b)`, with the activation chosen outside the loop so it vectorizes.
#[inline(always)]
fn affine(d: &mut [f32], x: &[f32], a: f32, b: f32, f: impl Fn(f32) -> f32) {
    for (d, &v) in d.iter_mut().zip(x) {
        *d = f(v * a + b);
    }
}

/// `act(gamma·(x − mean)/sqrt(var + eps) + beta)` per channel, statistics and output over the
/// interior that leaves `margin` pixels off every side (the crop is free). f32 CPU only.
pub fn instance_norm(
    x: &Tensor,
    gamma: &[f32],
    beta: &[f32],
    eps: f64,
    margin: usize,
    act: Act,
) -> Result<Tensor> {
    x.contiguous()?.apply_op1_no_bwd(&Op {
        gamma,
        beta,
        eps,
        margin,
        act,
    })
}
