//! 3×3 depthwise convolution (one filter per channel) with TensorFlow "SAME" padding, stride 1
//! or 2, fused bias and activation: the MobileNet blocks of the instant style predictor. At
//! stride 1 it can also pad by reflection, as the brushes' generator does.
//! candle runs a grouped conv2d as one convolution per channel (960 of them per layer here).

use super::threads::{parallel_for, with_simd, SyncPtr};
use super::{cpu_slice, four_dims, Act};
use candle_core::{bail, CpuStorage, CustomOp1, DType, Layout, Result, Shape, Tensor};

/// TensorFlow SAME padding for a 3-tap filter: output `ceil(n/stride)`, extra padding at the end.
pub fn same_pad(n: usize, stride: usize) -> (usize, usize, usize) {
    let out = n.div_ceil(stride);
    let total = ((out - 1) * stride + 3).saturating_sub(n);
    (out, total / 2, total - total / 2)
}

/// What a 3×3 filter sees past the picture's edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Border {
    /// Zeros (TensorFlow's SAME padding): what Magenta's networks were trained with.
    Zero,
    /// The picture mirrored without repeating its edge: no edge signal for a network to paint.
    Reflect,
}

struct Op {
    weight: Vec<f32>,
    bias: Vec<f32>,
    stride: usize,
    border: Border,
    act: Act,
}

impl CustomOp1 for Op {
    fn name(&self) -> &'static str {
        "atelier-depthwise3x3"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (n, c, h, w) = four_dims(l, "depthwise3x3")?;
        if self.bias.len() != c {
            bail!(
                "depthwise3x3: input has {c} channels, weights {}",
                self.bias.len()
            );
        }
        let x = cpu_slice(s, l, "depthwise3x3")?;
        let st = self.stride;
        // Only `depthwise3x3_border` asks for reflection, and always at stride 1.
        if self.border == Border::Reflect && (h < 2 || w < 2) {
            bail!("depthwise3x3: reflect padding needs at least 2×2 pixels, got {h}×{w}");
        }
        let (ho, top, _) = same_pad(h, st);
        let (wo, left, _) = same_pad(w, st);
        // A zero-bordered copy of each plane makes the inner loops branch-free.
        let (ph, pw) = (h + 2, w + 2);
        let mut y: Vec<f32> = Vec::with_capacity(n * c * ho * wo);
        let yp = SyncPtr(y.as_mut_ptr());
        let act = self.act;
        parallel_for(n * c, |pl| {
            let ch = pl % c;
            let src = &x[pl * h * w..][..h * w];
            let mut pad = vec![0f32; ph * pw];
            for r in 0..h {
                let row = &mut pad[(r + 1) * pw..][..pw];
                row[1..=w].copy_from_slice(&src[r * w..][..w]);
                if self.border == Border::Reflect {
                    (row[0], row[w + 1]) = (row[2], row[w - 1]);
                }
            }
            if self.border == Border::Reflect {
                pad.copy_within(2 * pw..3 * pw, 0);
                pad.copy_within((h - 1) * pw..h * pw, (h + 1) * pw);
            }
            let k = &self.weight[ch * 9..][..9];
            let b = self.bias[ch];
            // SAFETY: each plane is written by one work item.
            let dst = unsafe { yp.slice(pl * ho * wo, ho * wo) };
            with_simd(|| {
                // Stride 2: each needed padded row split into even and odd columns once, so the
                // tap loops below read consecutive floats either way.
                let (mut ev, mut od) = (vec![0f32; 3 * (wo + 1)], vec![0f32; 3 * (wo + 1)]);
                for oy in 0..ho {
                    let out = &mut dst[oy * wo..][..wo];
                    let rows: [&[f32]; 3] =
                        std::array::from_fn(|ky| &pad[(oy * st + ky + 1 - top) * pw..][..pw]);
                    let base = 1 - left;
                    if st == 1 {
                        let [r0, r1, r2] = rows.map(|r| &r[base..base + wo + 2]);
                        for (ox, o) in out.iter_mut().enumerate() {
                            let mut v = b;
                            v += k[0] * r0[ox] + k[1] * r0[ox + 1] + k[2] * r0[ox + 2];
                            v += k[3] * r1[ox] + k[4] * r1[ox + 1] + k[5] * r1[ox + 2];
                            v += k[6] * r2[ox] + k[7] * r2[ox + 1] + k[8] * r2[ox + 2];
                            *o = v;
                        }
                    } else {
                        for (ky, r) in rows.iter().enumerate() {
                            let (e, d) = (&mut ev[ky * (wo + 1)..], &mut od[ky * (wo + 1)..]);
                            for i in 0..=wo {
                                e[i] = r.get(base + 2 * i).copied().unwrap_or(0.0);
                                d[i] = r.get(base + 2 * i + 1).copied().unwrap_or(0.0);
                            }
                        }
                        out.fill(b);
                        for ky in 0..3 {
                            let e = &ev[ky * (wo + 1)..][..wo + 1];
                            let d = &od[ky * (wo + 1)..][..wo];
                            let (w0, w1, w2) = (k[ky * 3], k[ky * 3 + 1], k[ky * 3 + 2]);
                            for (ox, o) in out.iter_mut().enumerate() {
                                *o += w0 * e[ox] + w1 * d[ox] + w2 * e[ox + 1];
                            }
                        }
                    }
                    match act {
                        Act::Relu6 => out.iter_mut().for_each(|o| *o = o.clamp(0.0, 6.0)),
                        other => out.iter_mut().for_each(|o| *o = other.apply(*o)),
                    }
                }
            });
        });
        // SAFETY: every plane was written above.
        unsafe { y.set_len(n * c * ho * wo) };
        Ok((CpuStorage::F32(y), Shape::from((n, c, ho, wo))))
    }
}

/// `act(depthwise3x3(x) + b)` with SAME (zero) padding; `weight` [C,1,3,3], `bias` [C], f32 CPU.
pub fn depthwise3x3(
    x: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    stride: usize,
    act: Act,
) -> Result<Tensor> {
    if !(1..=2).contains(&stride) {
        bail!("depthwise3x3: stride must be 1 or 2, got {stride}");
    }
    apply(x, weight, bias, stride, Border::Zero, act)
}

/// `act(depthwise3x3(x) + b)`, stride 1, with the given border; same shapes as [`depthwise3x3`].
pub fn depthwise3x3_border(
    x: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    border: Border,
    act: Act,
) -> Result<Tensor> {
    apply(x, weight, bias, 1, border, act)
}

fn apply(
    x: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    stride: usize,
    border: Border,
    act: Act,
) -> Result<Tensor> {
    let op = Op {
        weight: weight.flatten_all()?.to_dtype(DType::F32)?.to_vec1()?,
        bias: bias.to_dtype(DType::F32)?.to_vec1()?,
        stride,
        border,
        act,
    };
    x.contiguous()?.apply_op1_no_bwd(&op)
}
