//! k×k convolutions of any stride, forward only, on the GEMM micro-kernel: 1×1 layers read the
//! input planes directly, stride-1 k×k layers read each input row as k overlapping GEMM rows
//! (no copy), other strides im2col one block of output pixels at a time. For the feed-forward (instant) networks, whose 9×9, stride-2 and
//! 1×1 layers the Winograd path does not cover. candle's CPU conv2d builds the whole im2col
//! matrix at once (k²·C_in floats per output pixel: 2 GB for a 9×9, 8-channel layer at
//! 1024×768) and runs grouped convolutions one group at a time; this stays within a few
//! hundred kilobytes per thread.

use super::gemm::{Kernels, LANES, MR};
use super::threads::{parallel_for_with, with_simd, SyncPtr};
use super::{cpu_slice, four_dims, Act};
use candle_core::{bail, CpuStorage, CustomOp1, DType, Layout, Result, Shape, Tensor};
use std::sync::Arc;

/// Output pixels per work item (a multiple of the micro-kernel's 16 lanes).
const TILE: usize = 192;

/// A k×k convolution with stride `stride` over an input that is already padded ("valid"),
/// with its weights packed once for the micro-kernel.
pub struct ConvKxK {
    c_in: usize,
    c_out: usize,
    k: usize,
    stride: usize,
    /// `[ceil(c_out/MR)][c_in·k·k][MR]`, zero rows past `c_out`.
    packed: Vec<f32>,
    bias: Vec<f32>,
    kernels: Kernels,
}

impl ConvKxK {
    /// `weight` [out,in,k,k] and `bias` [out] (or none), f32 on the CPU.
    pub fn new(weight: &Tensor, bias: Option<&Tensor>, stride: usize) -> Result<Self> {
        let (c_out, c_in, kh, kw) = weight.dims4()?;
        if kh != kw || stride == 0 {
            bail!("ConvKxK: square kernels and stride ≥ 1 only, got {kh}×{kw} stride {stride}");
        }
        let k = kh;
        let w: Vec<f32> = weight.flatten_all()?.to_dtype(DType::F32)?.to_vec1()?;
        let bias = match bias {
            Some(b) => b.to_dtype(DType::F32)?.to_vec1()?,
            None => vec![0.0; c_out],
        };
        if bias.len() != c_out {
            bail!(
                "ConvKxK: bias has {} values for {c_out} outputs",
                bias.len()
            );
        }
        let kk = c_in * k * k;
        let groups = c_out.div_ceil(MR);
        let mut packed = vec![0f32; groups * kk * MR];
        for o in 0..c_out {
            let (g, r) = (o / MR, o % MR);
            for p in 0..kk {
                packed[(g * kk + p) * MR + r] = w[o * kk + p];
            }
        }
        Ok(Self {
            c_in,
            c_out,
            k,
            stride,
            packed,
            bias,
            kernels: Kernels::detect(),
        })
    }

    pub fn out_channels(&self) -> usize {
        self.c_out
    }
}

/// `d = f(x + bias)`, with the activation chosen outside the loop so it vectorizes.
#[inline(always)]
fn bias_act(d: &mut [f32], x: &[f32], bias: f32, f: impl Fn(f32) -> f32) {
    for (d, &v) in d.iter_mut().zip(x) {
        *d = f(v + bias);
    }
}

struct Op {
    conv: Arc<ConvKxK>,
    act: Act,
}

impl CustomOp1 for Op {
    fn name(&self) -> &'static str {
        "atelier-conv-kxk"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let cv = &*self.conv;
        let (n, c, h, w) = four_dims(l, "conv_kxk")?;
        if c != cv.c_in {
            bail!(
                "conv_kxk: input has {c} channels, weights expect {}",
                cv.c_in
            );
        }
        if h < cv.k || w < cv.k {
            bail!(
                "conv_kxk: input {h}×{w} is smaller than the {0}×{0} kernel",
                cv.k
            );
        }
        let x = cpu_slice(s, l, "conv_kxk")?;
        let (k, st) = (cv.k, cv.stride);
        let (ho, wo) = ((h - k) / st + 1, (w - k) / st + 1);
        let plane = ho * wo;
        let kk = cv.c_in * k * k;
        let mut y: Vec<f32> = Vec::with_capacity(n * cv.c_out * plane);
        let yp = SyncPtr(y.as_mut_ptr());
        let act = self.act;
        // Writes MR rows of `acc` (row stride TILE) as output pixels [p0, p0+np) of batch b.
        let store = |acc: &[f32], b: usize, g: usize, p0: usize, np: usize| {
            for r in 0..MR.min(cv.c_out - g * MR) {
                let o = g * MR + r;
                // SAFETY: each (batch, channel, pixel range) is written by one item.
                let dst = unsafe { yp.slice((b * cv.c_out + o) * plane + p0, np) };
                let bias = cv.bias[o];
                let src = &acc[r * TILE..][..np];
                with_simd(|| match act {
                    Act::None => bias_act(dst, src, bias, |v| v),
                    Act::Relu => bias_act(dst, src, bias, |v| v.max(0.0)),
                    Act::Relu6 => bias_act(dst, src, bias, |v| v.clamp(0.0, 6.0)),
                    Act::Sigmoid => bias_act(dst, src, bias, |v| 1.0 / (1.0 + (-v).exp())),
                });
            }
        };
        let groups = cv.c_out.div_ceil(MR);
        // All output channels for one tile whose kk-row B matrix (row stride `ldb`) is ready.
        let tile_gemm = |bp: *const f32, ldb, acc: &mut [f32], b, p0, np, npad: usize| {
            for g in 0..groups {
                // SAFETY: `packed` holds kk·MR floats per group, B kk rows of stride ldb with
                // npad readable columns, `acc` MR rows of TILE; npad is a multiple of LANES.
                unsafe {
                    cv.kernels.run(
                        kk,
                        cv.packed[g * kk * MR..].as_ptr(),
                        bp,
                        ldb,
                        acc.as_mut_ptr(),
                        TILE,
                        npad,
                        false,
                    );
                };
                store(acc, b, g, p0, np);
            }
        };
        if st == 1 && k == 1 {
            // 1×1: the input planes are the GEMM's B rows as they are (row stride h·w).
            let tiles = plane.div_ceil(TILE);
            parallel_for_with(
                n * tiles,
                || (vec![0f32; kk * TILE], vec![0f32; MR * TILE]),
                |(tail, acc), item| {
                    let (b, t) = (item / tiles, item % tiles);
                    let p0 = t * TILE;
                    let np = TILE.min(plane - p0);
                    let npad = np.div_ceil(LANES) * LANES;
                    let xb = &x[b * c * plane..][..c * plane];
                    // The last tile would read past the plane: copy it, zero-padded.
                    let (bp, ldb) = if np == npad {
                        (xb[p0..].as_ptr(), plane)
                    } else {
                        for ci in 0..c {
                            let row = &mut tail[ci * TILE..][..TILE];
                            row[..np].copy_from_slice(&xb[ci * plane + p0..][..np]);
                            row[np..npad].fill(0.0);
                        }
                        (tail.as_ptr(), TILE)
                    };
                    tile_gemm(bp, ldb, acc, b, p0, np, npad);
                },
            );
        } else if st == 1 {
            // k×k, stride 1: for one output row segment, the k taps of one input row are k
            // overlapping windows of that row, i.e. GEMM rows with stride 1. No im2col copy:
            // one micro-kernel call per (channel, kernel row), accumulating.
            let segs = wo.div_ceil(TILE);
            parallel_for_with(
                n * ho * segs,
                || (vec![0f32; TILE + k], vec![0f32; MR * TILE]),
                |(tail, acc), item| {
                    let (b, rest) = (item / (ho * segs), item % (ho * segs));
                    let (oy, sg) = (rest / segs, rest % segs);
                    let ox0 = sg * TILE;
                    let np = TILE.min(wo - ox0);
                    let npad = np.div_ceil(LANES) * LANES;
                    let xb = &x[b * c * h * w..][..c * h * w];
                    let copy = ox0 + npad + k - 1 > w;
                    for g in 0..groups {
                        for ci in 0..c {
                            for ky in 0..k {
                                let row = &xb[(ci * h + oy + ky) * w..][..w];
                                let bp = if copy {
                                    let avail = w - ox0;
                                    tail[..avail].copy_from_slice(&row[ox0..]);
                                    tail[avail..npad + k - 1].fill(0.0);
                                    tail.as_ptr()
                                } else {
                                    row[ox0..].as_ptr()
                                };
                                // SAFETY: rows bp+kx, kx < k, each have npad readable floats.
                                unsafe {
                                    cv.kernels.run(
                                        k,
                                        cv.packed[(g * kk + (ci * k + ky) * k) * MR..].as_ptr(),
                                        bp,
                                        1,
                                        acc.as_mut_ptr(),
                                        TILE,
                                        npad,
                                        ci + ky > 0,
                                    );
                                };
                            }
                        }
                        store(acc, b, g, oy * wo + ox0, np);
                    }
                },
            );
        } else {
            let tiles = plane.div_ceil(TILE);
            parallel_for_with(
                n * tiles,
                || (vec![0f32; kk * TILE], vec![0f32; MR * TILE]),
                |(col, acc), item| {
                    let (b, t) = (item / tiles, item % tiles);
                    let p0 = t * TILE;
                    let np = TILE.min(plane - p0);
                    let npad = np.div_ceil(LANES) * LANES;
                    let xb = &x[b * c * h * w..][..c * h * w];
                    for ci in 0..cv.c_in {
                        let xc = &xb[ci * h * w..][..h * w];
                        for ky in 0..k {
                            for kx in 0..k {
                                let row = &mut col[((ci * k + ky) * k + kx) * TILE..][..TILE];
                                let mut j = 0;
                                while j < np {
                                    let p = p0 + j;
                                    let (oy, ox) = (p / wo, p % wo);
                                    let run = (wo - ox).min(np - j);
                                    let src = &xc[(oy * st + ky) * w + ox * st + kx..];
                                    for (r, d) in row[j..j + run].iter_mut().enumerate() {
                                        *d = src[r * st];
                                    }
                                    j += run;
                                }
                                row[np..npad].fill(0.0);
                            }
                        }
                    }
                    tile_gemm(col.as_ptr(), TILE, acc, b, p0, np, npad);
                },
            );
        }
        // SAFETY: every (batch, channel, pixel) was written above.
        unsafe { y.set_len(n * cv.c_out * plane) };
        Ok((CpuStorage::F32(y), Shape::from((n, cv.c_out, ho, wo))))
    }
}

/// `act(conv(x) + b)` without padding ("valid"); `x` must be f32 on the CPU.
pub fn conv_kxk(x: &Tensor, conv: &Arc<ConvKxK>, act: Act) -> Result<Tensor> {
    x.contiguous()?.apply_op1_no_bwd(&Op {
        conv: conv.clone(),
        act,
    })
}
